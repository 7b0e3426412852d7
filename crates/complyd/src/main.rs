#![forbid(unsafe_code)]

mod cli;
mod engine_cmd;
mod env_cmd;
mod registry_cmd;

use clap::Parser;
use cli::{Cli, Command, ServeArgs, TokenArgs};
use complyd::{auth, Config};
use std::io::Write;
use std::time::Duration;

/// mimalloc rather than glibc's malloc for the server's own allocations (bench/RESULTS.md, stop 39).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FULL_ACCESS: &str = "DeviceManagementConfiguration.ReadWrite.All";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Token(args) => token(args).await,
        Command::App(command) => registry_cmd::app(command).await,
        Command::User(command) => registry_cmd::user(command).await,
        Command::Migrate(data) => migrate(data).await,
        Command::Export(args) => export(args).await,
        Command::Import(args) => import(args).await,
        Command::Fleet(command) => engine_cmd::fleet(command).await,
        Command::Device(command) => engine_cmd::device(command).await,
        Command::Clock(command) => engine_cmd::clock(command).await,
        Command::Env(args) => env_cmd::env(&args),
        Command::Hosts(args) => env_cmd::hosts(&args),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .with_max_level(log_level())
        .init();
    if log_level() >= tracing::Level::INFO {
        complyd::common::access_log::start();
    }
    let tls = args.tls_identity()?;
    let trusted_issuers = args.trusted_issuers()?;
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    let proxy = match &args.proxy {
        Some(address) => Some(tokio::net::TcpListener::bind(address).await?),
        None => None,
    };
    let console = match &args.console {
        Some(address) => Some(tokio::net::TcpListener::bind(address).await?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut ca_path = tls.as_ref().and_then(|t| t.ca_path.clone());
    if proxy.is_some() && ca_path.is_none() {
        // The proxy's certificates come from the data folder's CA.
        ca_path = Some(complyd::tls::LocalCa::open(&args.data.data)?.cert_path);
    }
    let config = Config {
        deliveries: args.deliveries(),
        throttle: args.throttle(),
        data_dir: args.data.data,
        jwt_secret: args.data.jwt_secret,
        fidelity: args.fidelity.into(),
        max_body_bytes: args.max_body_bytes,
        page_size: args.page_size,
        token_leeway: args.token_leeway,
        trusted_issuers,
        tls,
        store: args.data.store,
        metrics: args.metrics,
        header_timeout: Duration::from_secs(args.header_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        max_connections: args.max_connections,
        model: None,
        proxy_pass_through: args.proxy_pass_through,
    };
    // The store is open before the line that tells scripts the server is up.
    let data_dir = config.data_dir.clone();
    let prepared = complyd::prepare(config).await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {scheme}://{}", listener.local_addr()?)?;
    if let Some(ca) = ca_path {
        writeln!(stdout, "ca certificate: {}", ca.display())?;
    }
    if let Some(proxy) = &proxy {
        writeln!(stdout, "proxy listening on http://{}", proxy.local_addr()?)?;
    }
    if let Some(console) = &console {
        writeln!(
            stdout,
            "console on {scheme}://{}/console",
            console.local_addr()?
        )?;
    }
    stdout.flush()?;
    // The demo fills its tenant before the first request is answered.
    if args.demo {
        engine_cmd::demo(&prepared, &data_dir).await?;
    }
    let extra = complyd::Extra { proxy, console };
    let ran = prepared.run_with(listener, extra, shutdown_signal()).await;
    complyd::common::access_log::flush();
    ran?;
    tracing::info!("stopped");
    Ok(())
}

fn log_level() -> tracing::Level {
    std::env::var("COMPLYD_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(tracing::Level::INFO)
}

async fn token(args: TokenArgs) -> anyhow::Result<()> {
    let secret = match &args.data.store {
        Some(_) => {
            let store = complyd::store::open(args.data.store.as_deref(), &args.data.data).await?;
            complyd::resolve_secret(&*store, &args.data.data, args.data.jwt_secret.as_deref())
                .await?
        }
        None => auth::load_or_create_secret(&args.data.data, args.data.jwt_secret.as_deref())?,
    };
    let app_only = args.app_only || !args.roles.is_empty();
    let mut permissions = if app_only { args.roles } else { args.scopes };
    if permissions.is_empty() {
        permissions.push(FULL_ACCESS.to_string());
    }
    let request = auth::TokenRequest {
        tenant: args.tenant,
        permissions,
        app_only,
        lifetime_seconds: args.lifetime,
    };
    println!("{}", auth::mint(&secret, &request)?);
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

async fn open_store(
    data: &cli::DataArgs,
) -> anyhow::Result<std::sync::Arc<dyn complyd::store::Store>> {
    std::fs::create_dir_all(&data.data)?;
    Ok(complyd::store::open(data.store.as_deref(), &data.data).await?)
}

async fn migrate(data: cli::DataArgs) -> anyhow::Result<()> {
    open_store(&data).await?;
    println!("the store's schema is up to date");
    Ok(())
}

async fn export(args: cli::ExportArgs) -> anyhow::Result<()> {
    let store = open_store(&args.data).await?;
    if args.out.as_os_str() == "-" {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        complyd::transfer::export(&*store, &mut out).await?;
    } else {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&args.out)?);
        complyd::transfer::export(&*store, &mut out).await?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    Ok(())
}

async fn import(args: cli::ImportArgs) -> anyhow::Result<()> {
    let store = open_store(&args.data).await?;
    if args.file.as_os_str() == "-" {
        complyd::transfer::import(&*store, &mut std::io::stdin().lock()).await?;
    } else {
        let mut input = std::io::BufReader::new(std::fs::File::open(&args.file)?);
        complyd::transfer::import(&*store, &mut input).await?;
    }
    Ok(())
}
