//! The command line: `complyd serve`, `complyd token`, and the token service's registry
//! (`complyd app ...`, `complyd user ...`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use complyd::auth;
use complyd::http::throttle::ThrottleLimits;
use complyd::service::{DeliverySettings, Fidelity, SmtpRelay};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "complyd",
    version,
    about = "A Microsoft Graph device-compliance server: stateful, durable, offline."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the Graph API.
    Serve(ServeArgs),
    /// Print a bearer token for local use.
    Token(TokenArgs),
    /// App registrations of the token service (client credentials).
    #[command(subcommand)]
    App(AppCommand),
    /// Users of the token service (delegated tokens, password grant).
    #[command(subcommand)]
    User(UserCommand),
    /// Bring the store's schema up to date, then exit (serve does it too, under the same lock).
    Migrate(DataArgs),
    /// Write every tenant's entities as NDJSON, one entity a line.
    Export(ExportArgs),
    /// Load an export into an empty store (SQLite or PostgreSQL).
    Import(ImportArgs),
    /// Generated fleets of users, devices and groups.
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// Managed devices: report a device's state as it checks in.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// A tenant's clock: show it, or move it forward and fire what falls due (as
    /// `/complyd/v1/clock`).
    #[command(subcommand)]
    Clock(ClockCommand),
    /// Print the environment that points a shell's tools at `complyd serve --proxy`:
    /// `eval "$(complyd env)"`.
    Env(EnvArgs),
    /// Print /etc/hosts lines and the `serve` command for tools that ignore proxies.
    Hosts(HostsArgs),
}

#[derive(Subcommand)]
pub enum FleetCommand {
    /// Make users, directory and managed devices and groups in a tenant, deterministically for a
    /// seed, and evaluate them (as `POST /complyd/v1/fleet`, without its size limit).
    Generate(FleetArgs),
}

#[derive(Args)]
pub struct FleetArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Tenant id (`tid`) to fill.
    #[arg(long, default_value = auth::DEFAULT_TENANT)]
    pub tenant: String,
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    #[arg(long, default_value_t = 100)]
    pub devices: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Subcommand)]
pub enum DeviceCommand {
    /// Check a managed device in with the state in a JSON file (as `POST
    /// /complyd/v1/devices/{id}/checkIn`); prints its verdict.
    CheckIn(CheckInArgs),
}

#[derive(Args)]
pub struct CheckInArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, default_value = auth::DEFAULT_TENANT)]
    pub tenant: String,
    /// The managed device's id.
    #[arg(long)]
    pub id: String,
    /// A JSON object of reported properties and facts (`-`: standard input).
    #[arg(long)]
    pub file: PathBuf,
}

#[derive(Subcommand)]
pub enum ClockCommand {
    /// Print the tenant's time and what is scheduled.
    Show(ClockArgs),
    /// Move the clock forward by an ISO 8601 duration (`P3D`, `PT12H`), firing what falls due.
    Advance(ClockMoveArgs),
    /// Move the clock forward to an instant (`2027-01-01T00:00:00Z`), firing what falls due.
    Set(ClockMoveArgs),
}

#[derive(Args)]
pub struct ClockArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, default_value = auth::DEFAULT_TENANT)]
    pub tenant: String,
}

#[derive(Args)]
pub struct ClockMoveArgs {
    #[command(flatten)]
    pub clock: ClockArgs,
    /// The duration (advance) or instant (set).
    pub to: String,
    /// Also freeze the clock (`true`) or let it run (`false`).
    #[arg(long)]
    pub freeze: Option<bool>,
}

/// Where `complyd serve --proxy` listens unless told.
pub const DEFAULT_PROXY: &str = "127.0.0.1:8888";

#[derive(Args)]
pub struct EnvArgs {
    /// The data folder whose CA the proxy uses (made there if missing).
    #[arg(long = "data", env = "COMPLYD_DATA", default_value = "./complyd-data")]
    pub data: PathBuf,
    /// The proxy's address, as given to `complyd serve --proxy`.
    #[arg(long, env = "COMPLYD_PROXY", default_value = DEFAULT_PROXY)]
    pub proxy: String,
    /// `sh` (POSIX shells: `export`), `powershell` (`$env:`), or `dotenv` (`NAME=value`).
    #[arg(long, value_enum, default_value = "sh")]
    pub format: EnvFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum EnvFormat {
    Sh,
    Powershell,
    Dotenv,
}

#[derive(Args)]
pub struct HostsArgs {
    /// The data folder the printed `serve` command uses.
    #[arg(long = "data", env = "COMPLYD_DATA", default_value = "./complyd-data")]
    pub data: PathBuf,
    /// The address the names are pointed at (and the printed `serve` listens on, port 443).
    #[arg(long, default_value = "127.0.0.1")]
    pub address: std::net::IpAddr,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// File to write (`-` for standard output).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The NDJSON file written by `complyd export` (`-` for standard input).
    pub file: PathBuf,
}

#[derive(Subcommand)]
pub enum AppCommand {
    /// Register an app; prints it as JSON, with the secret when one was generated.
    Add(AppAddArgs),
    /// List registered apps (a table; `--json` for JSON).
    List(ListArgs),
    /// Remove an app by client id.
    Remove(RemoveArgs),
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user; prints it as JSON.
    Add(UserAddArgs),
    /// List users (a table; `--json` for JSON).
    List(ListArgs),
    /// Remove a user by id or user name.
    Remove(RemoveArgs),
    /// Set the delegated permissions (`scp`) a user's tokens carry.
    Grant(UserGrantArgs),
}

#[derive(Args)]
pub struct AppAddArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Tenant id the app is registered in.
    #[arg(long, default_value = auth::DEFAULT_TENANT)]
    pub tenant: String,
    /// Display name (`app_displayname`).
    #[arg(long)]
    pub name: String,
    /// Client id (default: a new GUID).
    #[arg(long)]
    pub client_id: Option<String>,
    /// A client secret to accept.
    #[arg(long, conflicts_with = "generate_secret")]
    pub secret: Option<String>,
    /// Generate a client secret and print it (it is stored hashed only).
    #[arg(long)]
    pub generate_secret: bool,
    /// A PEM certificate whose key signs client assertions (repeatable).
    #[arg(long)]
    pub certificate: Vec<PathBuf>,
    /// Granted application permissions (`roles`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub roles: Vec<String>,
    /// Where the authorization-code flow may send this app's codes (an exact URI; repeatable).
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
}

#[derive(Args)]
pub struct UserAddArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, default_value = auth::DEFAULT_TENANT)]
    pub tenant: String,
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub password: String,
    /// Consented delegated permissions (`scp`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub scopes: Vec<String>,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct UserGrantArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The user's id or user name.
    pub id: String,
    /// Consented delegated permissions (`scp`), comma-separated; none clears them.
    #[arg(long, value_delimiter = ',')]
    pub scopes: Vec<String>,
}

#[derive(Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub data: DataArgs,
    pub id: String,
}

#[derive(Args)]
pub struct DataArgs {
    /// Folder holding the database and the generated signing secret.
    #[arg(long = "data", env = "COMPLYD_DATA", default_value = "./complyd-data")]
    pub data: PathBuf,
    /// HS256 secret for bearer tokens (default: generated once and kept in the data folder).
    #[arg(long, env = "COMPLYD_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// `postgres://user@host/db` to share one PostgreSQL between instances (default: SQLite in
    /// the data folder).
    #[arg(long, env = "COMPLYD_STORE", hide_env_values = true)]
    pub store: Option<String>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "COMPLYD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// `documented` follows the Graph docs; `intune` reproduces the live service's quirks.
    #[arg(
        long,
        env = "COMPLYD_FIDELITY",
        value_enum,
        default_value = "documented"
    )]
    pub fidelity: FidelityArg,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "COMPLYD_MAX_BODY", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds a client may take to send a request's line and headers (and a TLS handshake);
    /// a connection that has not sent its head by then is closed.
    #[arg(long, env = "COMPLYD_HEADER_TIMEOUT", default_value_t = complyd::DEFAULT_HEADER_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a kept-alive connection may rest between requests (and a request body take to
    /// arrive).
    #[arg(long, env = "COMPLYD_IDLE_TIMEOUT", default_value_t = complyd::DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout: u64,
    /// Connections served at once; one more is answered 503 and closed (default: 1024, or
    /// fewer when the open-files limit is lower).
    #[arg(long, env = "COMPLYD_MAX_CONNECTIONS", default_value_t = complyd::server::default_max_connections(),
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_connections: usize,
    /// Server page size for collections.
    #[arg(long, env = "COMPLYD_PAGE_SIZE", default_value_t = 100)]
    pub page_size: usize,
    /// `intune` answers 429 with Retry-After past Intune's documented limits per tenant and app.
    #[arg(long, env = "COMPLYD_THROTTLE", value_enum, default_value = "off")]
    pub throttle: ThrottleArg,
    /// Replaces limits of the intune profile and switches it on, for tests:
    /// `writes=5,requests=10,window=2s` (also tenant-writes, app-writes, tenant-requests, app-requests).
    #[arg(long, env = "COMPLYD_THROTTLE_LIMITS", value_parser = ThrottleLimits::parse)]
    pub throttle_limits: Option<ThrottleLimits>,
    /// Clock leeway on tokens' `exp` and `nbf`, in seconds.
    #[arg(long, env = "COMPLYD_TOKEN_LEEWAY", default_value_t = auth::DEFAULT_LEEWAY)]
    pub token_leeway: u64,
    /// Accept tokens with this `iss` (repeatable; `{tenantid}` matches the token's `tid`),
    /// verified with the keys of the `--trust-jwks` of the same position.
    #[arg(long, env = "COMPLYD_TRUST_ISSUER", value_delimiter = ',')]
    pub trust_issuer: Vec<String>,
    /// A JWKS file or http(s) URL for the `--trust-issuer` of the same position.
    #[arg(long, env = "COMPLYD_TRUST_JWKS", value_delimiter = ',')]
    pub trust_jwks: Vec<String>,
    /// Serve https: `auto` makes a local CA and a server certificate in the data folder.
    #[arg(long, env = "COMPLYD_TLS", value_enum, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls: Option<TlsArg>,
    /// Serve https with this PEM certificate chain (with `--tls-key`).
    #[arg(long, env = "COMPLYD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "COMPLYD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Extra names (DNS or IP) for the `--tls auto` certificate (repeatable).
    #[arg(long, env = "COMPLYD_TLS_NAME", value_delimiter = ',')]
    pub tls_name: Vec<String>,
    /// Serve `/metrics` (Prometheus text format, no token: do not expose it publicly).
    #[arg(long, env = "COMPLYD_METRICS")]
    pub metrics: bool,
    /// Start with a demo tenant (the default tenant): a fleet and a policy per platform,
    /// assigned and evaluated; prints how to get a token for it.
    #[arg(long, env = "COMPLYD_DEMO")]
    pub demo: bool,
    /// Also listen as an HTTP proxy on this address (port 0 picks one): Graph's and Microsoft
    /// sign-in's names are served by complyd (certificates from its CA), others refused.
    #[arg(long, env = "COMPLYD_PROXY")]
    pub proxy: Option<String>,
    /// The proxy forwards hosts complyd does not serve instead of refusing them.
    #[arg(long, env = "COMPLYD_PROXY_PASS_THROUGH", requires = "proxy")]
    pub proxy_pass_through: bool,
    /// Also serve the web console on this address (port 0 picks one), at `/console`.
    #[arg(long, env = "COMPLYD_CONSOLE")]
    pub console: Option<String>,
    /// Also mail every outbox message to this SMTP relay: `smtp://host:port` (plain SMTP, no TLS
    /// or AUTH: a relay that tests mail flows, such as Mailpit).
    #[arg(long, env = "COMPLYD_SMTP", value_parser = SmtpRelay::parse)]
    pub smtp: Option<SmtpRelay>,
    /// The sender of those mails (default: complyd@<tenant>.invalid).
    #[arg(long, env = "COMPLYD_SMTP_FROM", requires = "smtp", value_parser = parse_sender)]
    pub smtp_from: Option<String>,
    /// The wait before a failed delivery's first retry, in milliseconds (doubling after).
    #[arg(long, env = "COMPLYD_DELIVERY_BACKOFF_MS", hide = true, default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub delivery_backoff_ms: u64,
}

fn parse_sender(text: &str) -> Result<String, String> {
    if complyd::service::valid_mail_address(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "'{text}' is not a plain mail address (local@domain)"
        ))
    }
}

impl ServeArgs {
    /// How webhook posts and mails go out.
    pub fn deliveries(&self) -> DeliverySettings {
        DeliverySettings {
            smtp: self.smtp.clone().map(|relay| SmtpRelay {
                from: self.smtp_from.clone(),
                ..relay
            }),
            backoff: std::time::Duration::from_millis(self.delivery_backoff_ms),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TlsArg {
    Auto,
}

impl ServeArgs {
    /// `--trust-issuer`s paired with their `--trust-jwks`.
    pub fn trusted_issuers(&self) -> anyhow::Result<Vec<auth::TrustedIssuerConfig>> {
        if self.trust_issuer.len() != self.trust_jwks.len() {
            anyhow::bail!("each --trust-issuer needs one --trust-jwks, in the same order");
        }
        Ok(self
            .trust_issuer
            .iter()
            .zip(&self.trust_jwks)
            .map(|(issuer, jwks)| auth::TrustedIssuerConfig {
                issuer: issuer.clone(),
                jwks: jwks.clone(),
            })
            .collect())
    }

    /// The certificate to serve https with, if any.
    pub fn tls_identity(&self) -> anyhow::Result<Option<complyd::tls::TlsIdentity>> {
        use complyd::tls::TlsIdentity;
        Ok(match (self.tls, &self.tls_cert, &self.tls_key) {
            (Some(TlsArg::Auto), _, _) => Some(TlsIdentity::auto(&self.data.data, &self.tls_name)?),
            (None, Some(cert), Some(key)) => Some(TlsIdentity::from_files(cert, key)?),
            _ => None,
        })
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ThrottleArg {
    Off,
    Intune,
}

impl ServeArgs {
    /// The limits in force: none when off, the intune profile with any overrides.
    pub fn throttle(&self) -> Option<ThrottleLimits> {
        match (self.throttle, self.throttle_limits) {
            (_, Some(limits)) => Some(limits),
            (ThrottleArg::Intune, None) => Some(ThrottleLimits::INTUNE),
            (ThrottleArg::Off, None) => None,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FidelityArg {
    Documented,
    Intune,
}

impl From<FidelityArg> for Fidelity {
    fn from(f: FidelityArg) -> Self {
        match f {
            FidelityArg::Documented => Fidelity::Documented,
            FidelityArg::Intune => Fidelity::Intune,
        }
    }
}

#[derive(Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Tenant id (`tid`).
    #[arg(long, default_value = auth::DEFAULT_TENANT)]
    pub tenant: String,
    /// Delegated scopes (`scp`), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Application permissions (`roles`), comma-separated; implies an app-only token.
    #[arg(long, value_delimiter = ',')]
    pub roles: Vec<String>,
    /// An application (app-only) token rather than a delegated one.
    #[arg(long)]
    pub app_only: bool,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub lifetime: i64,
}
