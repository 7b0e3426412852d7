//! HTTP: one router that sends every request to the OData handler, wrapped in the middleware that
//! stamps request ids, catches panics and logs one line per request (and, with metrics on, counts
//! it).

mod batch;
mod handler;
pub mod ops;
pub(crate) mod response;
pub mod throttle;

use crate::auth::Authenticator;
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

pub struct AppState {
    pub model: &'static Model,
    pub service: Service,
    pub auth: Authenticator,
    /// The token service (`/{tenant}/oauth2/v2.0/token`, discovery, JWKS).
    pub identity: Arc<crate::identity::Identity>,
    pub max_body_bytes: usize,
    /// The longest wait for a request body to arrive.
    pub body_timeout: std::time::Duration,
    /// Request limits per tenant and app (`--throttle`).
    pub throttle: throttle::Throttle,
    /// `http` or `https`: how clients reach us, for absolute URLs.
    pub scheme: &'static str,
    /// `/readyz`'s view of the store.
    pub readiness: ops::Readiness,
    /// `/metrics` (`--metrics`); `None` counts nothing.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// The ids a request carries through its life, for headers, error bodies and logs.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub client_request_id: String,
}

pub fn router(state: Arc<AppState>) -> Router {
    let metrics = state.metrics.clone();
    let mut identity = crate::identity::routes();
    if metrics.is_some() {
        identity = identity.route_layer(middleware::from_fn(ops::token_service));
    }
    // The token service's paths and the operator's first; everything else is Graph's.
    let app = identity
        .merge(ops::routes(metrics.is_some()))
        .fallback(handler::odata)
        .with_state(state)
        // Everything inside, panics included, leaves with ids, a Graph body and a log line.
        .layer(middleware::from_fn(envelope));
    match metrics {
        Some(metrics) => app.layer(middleware::from_fn_with_state(metrics, ops::observe)),
        None => app,
    }
}

impl RequestContext {
    /// A new request id; the client's `client-request-id` when it sent a usable one, else the same.
    pub fn new(headers: &HeaderMap) -> Self {
        let request_id = uuid::Uuid::new_v4().to_string();
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 200)
            .map_or_else(|| request_id.clone(), str::to_string);
        Self {
            request_id,
            client_request_id,
        }
    }
}

/// The answer to a request refused before the router (by the connection layer): the Graph error
/// with the ids in headers, and the log line.
pub fn refused(method: &Method, path: &str, headers: &HeaderMap, err: &ApiError) -> Response {
    let ctx = RequestContext::new(headers);
    let mut res = response::error(&ctx, err);
    stamp_ids(&mut res, &ctx);
    tracing::info!(
        method = %method,
        path = %path.char_indices().nth(200).map_or(path, |(end, _)| &path[..end]),
        status = res.status().as_u16(),
        request_id = %ctx.request_id,
        "request refused"
    );
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
            response::error(
                &ctx,
                &crate::error::ApiError::Internal("handler panicked".into()),
            )
        }
    };
    stamp_ids(&mut res, &ctx);
    tracing::info!(
        method = %method,
        path = %path,
        status = res.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        request_id = %ctx.request_id,
        "request"
    );
    res
}
