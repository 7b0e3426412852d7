//! HTTP: every request goes to the one handler, which parses its endpoint first
//! (`endpoint.rs`) and dispatches it (`handler.rs`), inside [`App`]'s envelope that stamps
//! request ids, catches panics and logs one line per request (and, with metrics on, counts it).
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
use crate::metrics::{MethodLabel, Route};
use crate::service::Service;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::Response;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use odata::Model;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};
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

/// The API's service: every request goes through [`App::answer`] to the one handler. Clones
/// share the state. It is a `tower::Service` for what serves it (the listeners, the proxy, the
/// console's and `$batch`'s inner calls).
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
}

pub fn app(state: Arc<AppState>) -> App {
    App { state }
}

impl App {
    /// The envelope around the handler: the request's ids, a panic caught as a Graph error, the
    /// log line and, with metrics on, the request counted and timed under the route the handler
    /// named.
    pub async fn answer(self, req: Request) -> Response {
        let started = Instant::now();
        let ctx = RequestContext::new(req.headers());
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let handled = AssertUnwindSafe(handler::dispatch(&self.state, &ctx, req))
            .catch_unwind()
            .await;
        let (mut res, route) = handled.unwrap_or_else(|_| {
            tracing::error!(request_id = %ctx.request_id, "handler panicked");
            let err = ApiError::Internal("handler panicked".into());
            (response::error(&ctx, &err), Route::Other)
        });
        stamp_ids(&mut res, &ctx);
        let took = started.elapsed();
        access_log::write(&access_log::Entry {
            message: "request",
            method: method.as_str(),
            path: &path,
            status: res.status().as_u16(),
            latency_us: Some(took.as_micros() as u64),
            request_id: &ctx.request_id,
        });
        if let Some(metrics) = &self.state.metrics {
            let method = MethodLabel::of(&method);
            metrics.request(route, method, res.status().as_u16(), took);
        }
        res
    }
}

impl tower::Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let app = self.clone();
        Box::pin(async move { Ok(app.answer(req).await) })
    }
}

/// The answer to a request refused before [`App`] (by the connection layer): the Graph error
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
    const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
    const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");
    for (name, value) in [
        (REQUEST_ID, &ctx.request_id),
        (CLIENT_REQUEST_ID, &ctx.client_request_id),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            res.headers_mut().insert(name, v);
        }
    }
}
