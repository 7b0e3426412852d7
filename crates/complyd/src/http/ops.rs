//! For load balancers, orchestrators and scrapers, without a token and outside throttling:
//! `/healthz` (the process answers), `/readyz` (the store answers) and, with `--metrics`,
//! `/metrics`.

use super::AppState;
use crate::error::ApiError;
use crate::metrics::StoreSample;
use crate::store::{Store, StoreError};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long `/readyz` waits for the store.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one answer of the store serves later `/readyz` requests: however often it is
/// asked, the store is asked at most about once a second.
const READY_FRESH: Duration = Duration::from_secs(1);

/// The store's latest answer, shared by concurrent `/readyz` requests.
pub struct Readiness {
    store: Arc<dyn Store>,
    last: tokio::sync::Mutex<Option<(Instant, Result<(), StoreError>)>>,
}

impl Readiness {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Asks the store, unless it answered less than [`READY_FRESH`] ago; one question at a time.
    pub async fn check(&self) -> Result<(), StoreError> {
        let mut last = self.last.lock().await;
        if let Some((at, result)) = last.as_ref() {
            if at.elapsed() < READY_FRESH {
                return result.clone();
            }
        }
        let result = tokio::time::timeout(READY_TIMEOUT, self.store.ping())
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "no answer within {} s",
                    READY_TIMEOUT.as_secs()
                )))
            });
        *last = Some((Instant::now(), result.clone()));
        result
    }
}

pub fn healthz(method: &Method) -> Result<Response, ApiError> {
    get_only(method, "/healthz").map(|()| ok())
}

pub async fn readyz(state: &AppState, method: &Method) -> Result<Response, ApiError> {
    get_only(method, "/readyz")?;
    // Whatever failed, the answer is "not now, retry": 503 with Retry-After.
    state.readiness.check().await.map(|()| ok()).map_err(|e| {
        ApiError::Store(StoreError::Unavailable(match e {
            StoreError::Unavailable(m)
            | StoreError::Contended(m)
            | StoreError::Backend(m)
            | StoreError::Full(m) => m,
            StoreError::Conflict => e.to_string(),
        }))
    })
}

pub fn scrape(state: &AppState, method: &Method) -> Result<Response, ApiError> {
    get_only(method, "/metrics")?;
    let metrics = state
        .metrics
        .as_ref()
        .ok_or_else(|| ApiError::Internal("/metrics is served only with metrics on".into()))?;
    let store = &state.readiness.store;
    let text = metrics
        .render(StoreSample {
            queued_writes: store.queued_writes(),
            pool: store.pool_use(),
        })
        .map_err(|e| ApiError::Internal(format!("rendering the metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

fn get_only(method: &Method, path: &str) -> Result<(), ApiError> {
    if method == Method::GET || method == Method::HEAD {
        return Ok(());
    }
    Err(ApiError::Route(format!(
        "No route exists that match template ~{path} with http verb {method} for request {path}; it answers GET."
    )))
}

fn ok() -> Response {
    let mut res = r#"{"status":"ok"}"#.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
