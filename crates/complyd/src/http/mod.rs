//! HTTP: every request goes to the one handler, which parses its endpoint first
//! (`endpoint.rs`) and dispatches it (`handler.rs`), inside the middleware that stamps request
//! ids, catches panics and logs one line per request (and, with metrics on, counts it).
//!
//! A Graph request, top to bottom: `endpoint::Endpoint::parse` → `handler::admit` (token,
//! throttling) → `odata::path` (the resource) → the root's permission → `odata::query` →
//! `body::read_json` → `service::Service::execute` → `response::reply`.

mod batch;
mod body;
mod endpoint;
mod handler;
pub mod ops;
mod own;
pub(crate) mod response;
pub mod throttle;

pub use body::BodyLimits;

use crate::auth::Authenticator;
use crate::common::{access_log, RequestContext};
use crate::error::ApiError;
use crate::service::Service;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use futures_util::FutureExt;
use odata::Model;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

/// How the client reached the server (`http` or `https`), set on a request by a connection that
/// knows better than the server's own scheme (the proxy's).
#[derive(Debug, Clone, Copy)]
pub struct Scheme(pub &'static str);

pub struct AppState {
    pub model: &'static Model,
    pub service: Service,
    pub auth: Authenticator,
    /// The token service (`/{tenant}/oauth2/v2.0/token`, discovery, JWKS), with its own state.
    pub identity: Arc<crate::identity::Identity>,
    /// The largest request body, and the longest wait for one to arrive.
    pub body: BodyLimits,
    /// Request limits per tenant and app (`--throttle`).
    pub throttle: throttle::Throttle,
    /// `http` or `https`: how clients reach us, for absolute URLs.
    pub scheme: &'static str,
    /// `/readyz`'s view of the store.
    pub readiness: ops::Readiness,
    /// `/metrics` (`--metrics`); `None` counts nothing.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// What changed per tenant, for the console's live pages: moved by every answered write.
    pub changes: Arc<crate::common::Changes>,
}

/// The server's service, middleware outermost first: with metrics on, `ops::observe` (counts and
/// times every request under the route the handler labelled); `envelope` (ids, panics, the log
/// line); then the one handler for every path.
pub fn router(state: Arc<AppState>) -> Router {
    let metrics = state.metrics.clone();
    let app = Router::new()
        .fallback(handler::dispatch)
        .with_state(state)
        .layer(middleware::from_fn(envelope));
    match metrics {
        Some(metrics) => app.layer(middleware::from_fn_with_state(metrics, ops::observe)),
        None => app,
    }
}

/// The answer to a request refused before the router (by the connection layer): the Graph error
/// with the ids in headers, and the log line.
pub fn refused(method: &Method, path: &str, headers: &HeaderMap, err: &ApiError) -> Response {
    let ctx = RequestContext::new(headers);
    let mut res = response::error(&ctx, err);
    stamp_ids(&mut res, &ctx);
    access_log::write(&access_log::Entry {
        message: "request refused",
        method: method.as_str(),
        path,
        status: res.status().as_u16(),
        latency_us: None,
        request_id: &ctx.request_id,
    });
    res
}

fn stamp_ids(res: &mut Response, ctx: &RequestContext) {
    for (name, value) in [
        ("request-id", &ctx.request_id),
        ("client-request-id", &ctx.client_request_id),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            res.headers_mut().insert(name, v);
        }
    }
}

/// Everything inside, panics included, leaves with ids, a Graph body and a log line.
async fn envelope(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let ctx = RequestContext::new(req.headers());
    req.extensions_mut().insert(ctx.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut res = match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(res) => res,
        Err(_) => {
            tracing::error!(request_id = %ctx.request_id, "handler panicked");
            response::error(&ctx, &ApiError::Internal("handler panicked".into()))
        }
    };
    stamp_ids(&mut res, &ctx);
    access_log::write(&access_log::Entry {
        message: "request",
        method: method.as_str(),
        path: &path,
        status: res.status().as_u16(),
        latency_us: Some(started.elapsed().as_micros() as u64),
        request_id: &ctx.request_id,
    });
    res
}
