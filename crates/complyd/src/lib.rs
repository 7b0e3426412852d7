//! complyd: the Intune device-compliance slice of Microsoft Graph, stateful and durable.
//!
//! `serve` is the one entry point, used by the binary and by the integration tests alike.
#![forbid(unsafe_code)]

pub mod auth;
pub mod error;
pub mod http;
pub mod service;
pub mod store;

use service::{Fidelity, Service, Settings, TokenKey};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

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
        }
    }
}

/// Serves on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let model = odata::Model::intune().map_err(anyhow::Error::msg)?;
    let store = store::SqliteStore::open(&config.data_dir)?;
    let secret = auth::load_or_create_secret(&config.data_dir, config.jwt_secret.as_deref())?;
    let settings = Settings {
        fidelity: config.fidelity,
        page_size: config.page_size.clamp(1, odata::query::MAX_TOP),
    };
    let state = Arc::new(http::AppState {
        model,
        service: Service::new(model, store, settings, TokenKey::derive(&secret)),
        auth: auth::Authenticator::new(&secret),
        max_body_bytes: config.max_body_bytes,
        throttle: http::throttle::Throttle::new(config.throttle),
        scheme: "http",
        dispatcher: std::sync::Mutex::new(None),
    });
    let served = axum::serve(listener, http::router(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    if let Ok(mut slot) = state.dispatcher.lock() {
        slot.take();
    }
    served?;
    Ok(())
}
