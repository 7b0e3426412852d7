//! The command line: `complyd serve` and `complyd token`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use complyd::auth;
use complyd::http::throttle::ThrottleLimits;
use complyd::service::Fidelity;
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
}

#[derive(Args)]
pub struct DataArgs {
    /// Folder holding the database and the generated signing secret.
    #[arg(long = "data", env = "COMPLYD_DATA", default_value = "./complyd-data")]
    pub data: PathBuf,
    /// HS256 secret for bearer tokens (default: generated once and kept in the data folder).
    #[arg(long, env = "COMPLYD_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
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
