//! complyd: the Intune device-compliance slice of Microsoft Graph, stateful and durable.
//!
//! `serve` is the one entry point, used by the binary and by the integration tests alike.
#![forbid(unsafe_code)]

pub mod auth;
pub mod common;
pub mod console;
pub mod error;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod proxy;
pub mod server;
pub mod service;
pub mod store;
pub mod tls;
pub mod transfer;

use service::{Fidelity, Service, Settings, TokenKey};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long a request head may take to arrive, by default.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a kept-alive connection may rest, by default (IIS's connection timeout).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Everything `complyd serve` can be told.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub jwt_secret: Option<String>,
    pub fidelity: Fidelity,
    pub max_body_bytes: usize,
    pub page_size: usize,
    /// Request limits (`--throttle intune`); `None` never throttles.
    pub throttle: Option<http::throttle::ThrottleLimits>,
    /// Clock leeway on tokens' `exp`/`nbf`, seconds.
    pub token_leeway: u64,
    /// Issuers whose tokens are accepted besides complyd's own (`--trust-issuer`).
    pub trusted_issuers: Vec<auth::TrustedIssuerConfig>,
    /// Serve https with this certificate; `None` serves plain http.
    pub tls: Option<tls::TlsIdentity>,
    /// `postgres://…` for a shared PostgreSQL; `None` is SQLite in `data_dir`.
    pub store: Option<String>,
    /// Serve `/metrics` (`--metrics`).
    pub metrics: bool,
    /// How long a request head (and a TLS handshake) may take to arrive.
    pub header_timeout: Duration,
    /// How long a kept-alive connection may rest between requests, and a body take to arrive.
    pub idle_timeout: Duration,
    /// Connections served at once; more are answered 503.
    pub max_connections: usize,
    /// The entity model served; `None` is the Intune slice. Tests give a model with more in it.
    pub model: Option<&'static odata::Model>,
    /// The proxy (when one listens) forwards hosts complyd does not serve instead of refusing
    /// them (`--proxy-pass-through`).
    pub proxy_pass_through: bool,
    /// Webhook posts and mails: the SMTP relay (`--smtp`, `--smtp-from`) and the retries' backoff.
    pub deliveries: service::DeliverySettings,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            jwt_secret: None,
            fidelity: Fidelity::Documented,
            max_body_bytes: 4 * 1024 * 1024,
            page_size: 100,
            throttle: None,
            token_leeway: auth::DEFAULT_LEEWAY,
            trusted_issuers: Vec::new(),
            tls: None,
            store: None,
            metrics: false,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: server::default_max_connections(),
            model: None,
            proxy_pass_through: false,
            deliveries: service::DeliverySettings::default(),
        }
    }
}

/// Serves on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    prepare(config).await?.run(listener, shutdown).await
}

/// [`serve`] with an HTTP proxy on `proxy` too (`--proxy`, see [`proxy`]).
pub async fn serve_with_proxy(
    config: Config,
    listener: TcpListener,
    proxy: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let extra = Extra {
        proxy: Some(proxy),
        console: None,
    };
    prepare(config)
        .await?
        .run_with(listener, extra, shutdown)
        .await
}

/// The listeners a server may have besides its own: the HTTP proxy (`--proxy`) and the
/// console (`--console`, see [`console`]).
#[derive(Default)]
pub struct Extra {
    pub proxy: Option<TcpListener>,
    pub console: Option<TcpListener>,
}

/// A server whose store is open and whose keys are loaded: what remains is to accept requests.
/// `complyd serve` announces `listening on …` only once it has one, so a script that sees the
/// line can rely on the server.
pub struct Prepared {
    state: Arc<http::AppState>,
    tls: Option<tls::TlsIdentity>,
    limits: server::Limits,
    store: Arc<dyn store::Store>,
    data_dir: PathBuf,
    proxy_pass_through: bool,
}

/// Opens the store, loads the secret and the trusted issuers' keys, and builds the state.
pub async fn prepare(config: Config) -> anyhow::Result<Prepared> {
    use anyhow::Context as _;
    let folder = config.data_dir.display().to_string();
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create the data folder {folder}"))?;
    let model = match config.model {
        Some(model) => model,
        None => odata::Model::intune().map_err(anyhow::Error::msg)?,
    };
    let store = store::open_for(model, config.store.as_deref(), &config.data_dir)
        .await
        .with_context(|| match config.store.as_deref() {
            Some(_) => "cannot open the store".to_string(),
            None => format!("cannot open the store in {folder}"),
        })?;
    let metrics = config
        .metrics
        .then(|| Arc::new(metrics::Metrics::new(store.pool_use().is_some())));
    let store = match &metrics {
        Some(metrics) => store::observed(store, metrics.store()),
        None => store,
    };
    let secret = resolve_secret(&*store, &config.data_dir, config.jwt_secret.as_deref()).await?;
    let mut trusted = Vec::new();
    for issuer in &config.trusted_issuers {
        trusted.push(auth::TrustedIssuer::load(issuer.clone()).await?);
    }
    let identity = Arc::new(identity::Identity::new(store.clone()));
    let authenticator = auth::Authenticator::new(&secret)
        .with_own_keys(identity.clone())
        .with_trusted(trusted)
        .with_leeway(config.token_leeway);
    let settings = Settings {
        fidelity: config.fidelity,
        page_size: config.page_size.clamp(1, odata::query::MAX_TOP),
    };
    let state = Arc::new(http::AppState {
        model,
        service: Service::new(model, store.clone(), settings, TokenKey::derive(&secret))
            .map_err(anyhow::Error::msg)?
            .with_deliveries(config.deliveries),
        auth: authenticator,
        identity,
        body: http::BodyLimits {
            max_bytes: config.max_body_bytes,
            timeout: config.idle_timeout,
        },
        throttle: http::throttle::Throttle::new(config.throttle),
        scheme: if config.tls.is_some() {
            "https"
        } else {
            "http"
        },
        readiness: http::ops::Readiness::new(store.clone()),
        metrics,
        changes: Arc::new(common::Changes::default()),
    });
    if let Some(url) = config.store.as_deref() {
        store::relay_changes(url, state.changes.clone())?;
    }
    Ok(Prepared {
        state,
        tls: config.tls,
        limits: server::Limits {
            header_timeout: config.header_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
        },
        store,
        data_dir: config.data_dir,
        proxy_pass_through: config.proxy_pass_through,
    })
}

impl Prepared {
    /// The service the server answers with (for `--demo` and commands run beside it).
    pub fn service(&self) -> &Service {
        &self.state.service
    }

    /// What the accept loop counts open connections with: take `opened()` for each accepted
    /// connection and drop the guard when the connection ends.
    pub fn connections(&self) -> metrics::Connections {
        self.state
            .metrics
            .as_ref()
            .map_or_else(metrics::Connections::off, |m| m.connections())
    }

    /// Serves on `listener` until `shutdown` resolves, then drains in-flight requests and closes
    /// the store.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.run_with_proxy(listener, None, shutdown).await
    }

    /// [`Self::run`], with the HTTP proxy on `proxy` too when given (its certificates from the
    /// data folder's CA, made there if missing).
    pub async fn run_with_proxy(
        self,
        listener: TcpListener,
        proxy: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let extra = Extra {
            proxy,
            console: None,
        };
        self.run_with(listener, extra, shutdown).await
    }

    /// [`Self::run`], with the listeners of `extra` too: the proxy, and the console (its own
    /// listener, https when the server is, its sign-in client made known to the token service).
    pub async fn run_with(
        self,
        listener: TcpListener,
        extra: Extra,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Extra { proxy, console } = extra;
        let connections = self.connections();
        let worker = tokio::spawn(reevaluations(self.state.clone()));
        let ticker = tokio::spawn(clock_ticks(self.state.clone()));
        let sampler = tokio::spawn(verdict_samples(self.state.clone()));
        let sender = tokio::spawn(deliveries(self.state.clone()));
        let app = http::app(self.state.clone());
        let _ = rustls::crypto::ring::default_provider().install_default();
        let acceptor = match &self.tls {
            Some(identity) => Some(identity.acceptor()?),
            None => None,
        };
        let proxied = match proxy {
            Some(listener) => {
                let shared = proxy::Shared {
                    app: app.clone(),
                    limits: self.limits,
                    leaves: proxy::LeafCerts::new(tls::LocalCa::open(&self.data_dir)?),
                    pass_through: self.proxy_pass_through,
                };
                Some((listener, Arc::new(shared)))
            }
            None => None,
        };
        // One shutdown for both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let console = match console {
            Some(listener) => {
                let origins = console::origins(listener.local_addr()?, self.tls.is_some());
                let shared = console::Console::new(
                    app.clone(),
                    origins,
                    self.state.changes.clone(),
                    stopped.clone(),
                );
                self.state.identity.register_console(shared.redirect_uris());
                Some((listener, console::router(Arc::new(shared))))
            }
            None => None,
        };
        let console_side = async {
            if let Some((listener, router)) = console {
                server::serve(
                    listener,
                    acceptor.clone(),
                    router,
                    self.limits,
                    connections.clone(),
                    wait(stopped.clone()),
                )
                .await;
            }
        };
        let main = server::serve(
            listener,
            acceptor.clone(),
            app,
            self.limits,
            connections.clone(),
            wait(stopped.clone()),
        );
        let side = async {
            if let Some((listener, shared)) = proxied {
                proxy::serve(listener, shared, connections.clone(), wait(stopped.clone())).await;
            }
        };
        tokio::join!(signal, main, side, console_side);
        worker.abort();
        ticker.abort();
        sampler.abort();
        // A delivery cut short keeps its claim until the lease runs out, then goes again.
        sender.abort();
        if let Err(e) = self.store.close().await {
            tracing::warn!(error = %e, "the store was not closed cleanly");
        }
        Ok(())
    }
}

/// The engine's worker: evaluates the devices of tenants whose policies, assignments, filters,
/// groups or settings changed, for as long as the server runs (service/engine/queue.rs).
async fn reevaluations(state: Arc<http::AppState>) {
    loop {
        match state.service.reevaluate_marked().await {
            Ok(0) => {}
            Ok(_) => state.changes.everything_changed(),
            Err(err) => {
                tracing::warn!(error = %err, "re-evaluation failed; the mark stays and is retried")
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Fires what falls due on each tenant's clock as real time passes (service/time), about once a
/// second, for as long as the server runs. On a shared store every instance ticks; each item
/// fires on one of them.
async fn clock_ticks(state: Arc<http::AppState>) {
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(1_000)).await;
        match state.service.fire_due().await {
            Ok(0) => {}
            Ok(_) => state.changes.everything_changed(),
            Err(err) => {
                tracing::warn!(error = %err, "firing due actions failed; they stay due and are retried")
            }
        }
    }
}

/// Keeps each tenant's verdict trend (service/verdicts.rs): about every two seconds, a point for
/// each tenant that changed on this instance since the last look.
async fn verdict_samples(state: Arc<http::AppState>) {
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(2_000)).await;
        let versions = state.changes.versions();
        if versions.len() < seen.len() {
            seen.clear();
        }
        for (tenant, version) in versions {
            if seen.get(&tenant) == Some(&version) {
                continue;
            }
            match state.service.sample_verdicts(&tenant, None).await {
                Ok(()) => {
                    seen.insert(tenant, version);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the verdict trend was not sampled; tried again")
                }
            }
        }
    }
}

/// The deliveries' worker: sends due webhook posts and mails, and reschedules failed ones with
/// backoff, for as long as the server runs (service/deliveries). A full batch goes round at once.
async fn deliveries(state: Arc<http::AppState>) {
    loop {
        let attempted = match state.service.deliver_due().await {
            Ok(n) => n,
            Err(err) => {
                tracing::warn!(error = %err, "sending deliveries failed; they stay queued");
                0
            }
        };
        if attempted < service::DELIVERY_BATCH {
            tokio::time::sleep(service::DELIVERY_POLL).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
}

/// The HS256 secret: the operator's, else the shared store's (PostgreSQL), else the one kept in
/// the data folder (SQLite).
pub async fn resolve_secret(
    store: &dyn store::Store,
    data_dir: &std::path::Path,
    given: Option<&str>,
) -> anyhow::Result<Vec<u8>> {
    match (given, store) {
        (Some(s), _) if !s.is_empty() => Ok(s.as_bytes().to_vec()),
        (_, store) if store.is_shared() => Ok(auth::load_or_create_shared_secret(store).await?),
        _ => Ok(auth::load_or_create_secret(data_dir, None)?),
    }
}
