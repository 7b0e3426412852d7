//! `complyd serve --proxy ADDR`: an HTTP proxy for tools that cannot be pointed anywhere but
//! `https://graph.microsoft.com` and `https://login.microsoftonline.com`.
//!
//! - `CONNECT` to one of the names complyd serves ([`served`]: Graph's and Microsoft's sign-in
//!   names), port 443: answered 200, then TLS is terminated with a certificate for that name from
//!   complyd's local CA and the connection is served by complyd's own API service, as its listener
//!   serves one (same head limits and timeouts), with absolute URLs in `https://` and that name.
//! - A plain request in absolute form (`GET http://graph.microsoft.com/v1.0/...`) for such a name:
//!   served by that service the same way.
//! - Any other host: `403` at once, with a Graph error body that names the host and says complyd is
//!   offline. With `--proxy-pass-through`, a `CONNECT` is relayed (idle tunnels are closed after
//!   the idle timeout) and a plain request forwarded.
//! - A request in origin form (`GET /v1.0/...`) is served as on complyd's own listener.
//!
//! The proxy's own request heads have the server's limits and timeouts; its connections have a
//! cap of their own (the server's number).

mod certs;
mod forward;
mod tunnel;

pub use certs::{LeafCerts, MAX_CACHED};

use crate::common::{GRAPH_HOST, SIGN_IN_HOSTS};
use crate::error::ApiError;
use crate::server::{self, Activity, Limits, Watched};
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tunnel::{Destination, Tunnel};

/// The names the proxy serves itself: Graph, then Microsoft's sign-in names.
pub fn served_hosts() -> impl Iterator<Item = &'static str> {
    std::iter::once(GRAPH_HOST).chain(SIGN_IN_HOSTS)
}

/// `host` in lower case without a final dot, when complyd serves it.
pub fn served(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    served_hosts().any(|h| h == host).then_some(host)
}

/// What every proxy connection shares.
pub struct Shared {
    pub app: crate::http::App,
    pub limits: Limits,
    pub leaves: LeafCerts,
    /// Forward hosts complyd does not serve instead of refusing them.
    pub pass_through: bool,
}

/// Serves the proxy on `listener` until `shutdown` resolves, then drains its connections.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    connections: crate::metrics::Connections,
    shutdown: impl Future<Output = ()>,
) {
    let max = shared.limits.max_connections.clamp(1, 1 << 20);
    let slots = Arc::new(Semaphore::new(max));
    let (stop, stopped) = watch::channel(());
    tokio::pin!(shutdown);
    let mut failing = false;
    while let Some(tcp) = server::accept(&listener, &mut shutdown, &mut failing).await {
        // Over the cap a proxy client is closed at once: it retries or reports it.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let (shared, stopped) = (shared.clone(), stopped.clone());
        let open = connections.opened();
        tokio::spawn(async move {
            connection(tcp, shared, stopped).await;
            drop((slot, open));
        });
    }
    drop(listener);
    let _ = stop.send(());
    let _ = slots.acquire_many(max as u32).await;
}

async fn connection(
    tcp: tokio::net::TcpStream,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<()>,
) {
    let activity = Arc::new(Activity::default());
    let io = Watched::new(tcp, activity.clone());
    // The CONNECT answered 200, if any: the connection is handed over once hyper lets go of it.
    let pending: Arc<Mutex<Option<Tunnel>>> = Arc::default();
    let service = {
        let (shared, pending) = (shared.clone(), pending.clone());
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let (shared, pending) = (shared.clone(), pending.clone());
            async move { Ok::<_, std::convert::Infallible>(answer(&shared, &pending, req).await) }
        })
    };
    let conn = server::builder(activity, shared.limits)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut stopping = false;
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        _ = stopped.changed() => {
            stopping = true;
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        return tracing::debug!(error = %e, "proxy connection ended");
    }
    let tunnel = pending.lock().map_or(None, |mut p| p.take());
    if let (Some(tunnel), false) = (tunnel, stopping) {
        tunnel.run(shared, stopped).await;
    }
}

/// The answer to one request made to the proxy.
async fn answer(
    shared: &Shared,
    pending: &Mutex<Option<Tunnel>>,
    mut req: Request<Incoming>,
) -> Response<Body> {
    if let Some(err) = server::over_limit(&req) {
        return refused(&req, &err);
    }
    if req.method() == Method::CONNECT {
        return connect(shared, pending, req).await;
    }
    let Some(authority) = req.uri().authority().cloned() else {
        // Origin form: the proxy's port used as complyd's own.
        return route(shared, req, "http").await;
    };
    if req.uri().scheme_str() != Some("http") {
        let err = ApiError::bad_request(format!(
            "The proxy forwards http:// URLs; for https, CONNECT to {}.",
            authority
        ));
        return refused(&req, &err);
    }
    match served(authority.host()) {
        Some(host) => {
            // As if the client had called the host itself: its name, the path and query.
            let name = match authority.port_u16() {
                Some(port) if port != 80 => format!("{host}:{port}"),
                _ => host,
            };
            if let Ok(value) = HeaderValue::from_str(&name) {
                req.headers_mut().insert(header::HOST, value);
            }
            let target = req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string();
            *req.uri_mut() = Uri::try_from(target).unwrap_or_default();
            route(shared, req, "http").await
        }
        None if shared.pass_through => forward::plain(req, shared.limits).await,
        None => refused(&req, &offline(authority.as_str())),
    }
}

/// `CONNECT host:port`: a tunnel to complyd itself for the names it serves, a relayed one with
/// pass-through, else 403.
async fn connect(
    shared: &Shared,
    pending: &Mutex<Option<Tunnel>>,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let Some(authority) = req.uri().authority().cloned() else {
        let err = ApiError::bad_request("CONNECT needs a host and a port (host:443).");
        return refused(&req, &err);
    };
    let to = match (served(authority.host()), authority.port_u16()) {
        (Some(host), Some(443)) => Destination::Terminate(host),
        (Some(host), _) => {
            let err = ApiError::Coded {
                status: StatusCode::FORBIDDEN,
                code: "HostNotServed",
                message: format!("complyd serves {host} on port 443 only, not '{authority}'."),
            };
            return refused(&req, &err);
        }
        (None, _) if shared.pass_through => {
            match forward::dial(&authority, shared.limits.header_timeout).await {
                Ok(tcp) => Destination::Relay(tcp),
                Err(err) => return refused(&req, &err),
            }
        }
        (None, _) => return refused(&req, &offline(authority.as_str())),
    };
    let upgrade = hyper::upgrade::on(&mut req);
    if let Ok(mut slot) = pending.lock() {
        *slot = Some(Tunnel { upgrade, to });
    }
    Response::new(Body::empty())
}

/// A request for complyd itself, through its API service, marked with how the client reached it.
async fn route(
    shared: &Shared,
    mut req: Request<Incoming>,
    scheme: &'static str,
) -> Response<Body> {
    req.extensions_mut().insert(crate::http::Scheme(scheme));
    shared.app.clone().answer(req.map(Body::new)).await
}

/// The refusal of a host complyd does not serve, without pass-through.
fn offline(authority: &str) -> ApiError {
    ApiError::Coded {
        status: StatusCode::FORBIDDEN,
        code: "HostNotServed",
        message: format!(
            "complyd is offline: its proxy serves {} only and does not reach '{authority}'. \
             Start complyd with --proxy-pass-through to forward other hosts.",
            served_hosts().collect::<Vec<_>>().join(", ")
        ),
    }
}

fn refused(req: &Request<Incoming>, err: &ApiError) -> Response<Body> {
    let target = req.uri().to_string();
    crate::http::refused(req.method(), &target, req.headers(), err)
}
