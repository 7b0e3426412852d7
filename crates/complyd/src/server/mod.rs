//! The HTTP/1.1 server under the API: complyd's own accept loop on hyper, so that it can bound
//! what a slow or hostile client holds.
//!
//! - A request head (line and headers) must arrive within `header_timeout` of the connection's
//!   start, or of its first byte on a kept-alive connection; a kept-alive connection may idle
//!   `idle_timeout` between requests. Past either, the connection is closed without an answer.
//!   A TLS handshake too must end within `header_timeout`.
//! - At most `max_connections` at once. One more is accepted, its request head read, and answered
//!   `503 ServiceUnavailable` (Graph error body, `Retry-After: 1`, `Connection: close`), then
//!   closed; over TLS it is closed without a handshake. At most [`MAX_REFUSING`] such answers are
//!   under way; past that a connection is closed at once, so a flood costs no more descriptors.
//! - A request target longer than [`MAX_URI_BYTES`] is 414, a head past [`MAX_HEAD_BYTES`] or
//!   [`MAX_HEADER_FIELDS`] is 431, a malformed one 400, each with a Graph error body.
//! - Shutdown stops accepting, lets in-flight requests finish and closes idle connections.

mod answer;
mod timer;
mod watched;

pub(crate) use watched::{Activity, Watched};

use crate::error::ApiError;
use axum::body::Body;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// What a listener serves: the API ([`crate::http::App`]) or the console's router.
pub trait Served:
    tower::Service<hyper::Request<Body>, Response = Response, Error = Infallible, Future: Send>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> Served for S where
    S: tower::Service<hyper::Request<Body>, Response = Response, Error = Infallible, Future: Send>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// The longest request target (path and query) served: 32 KiB, room for any Graph query.
pub const MAX_URI_BYTES: usize = 32 * 1024;
/// The largest request head (request line and header fields together): 64 KiB.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most header fields in one request (hyper's own default).
pub const MAX_HEADER_FIELDS: usize = 100;
/// Connections over the cap that may be getting their 503 at once.
pub const MAX_REFUSING: usize = 64;
/// The highest connection cap taken.
const MAX_CAP: usize = 1 << 20;
/// Descriptors kept free of connections, for the store, the listener and the logs.
const RESERVED_FDS: usize = 128;

/// How long a client may take and how many it may hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// 1024, or fewer when the process may open fewer descriptors than that plus a reserve (128, or
/// a quarter of a smaller limit).
pub fn default_max_connections() -> usize {
    match open_files_limit() {
        Some(limit) => (limit - RESERVED_FDS.min(limit / 4)).clamp(1, 1024),
        None => 1024,
    }
}

/// The soft limit on open files, where the system tells (Linux's `/proc/self/limits`).
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains: returns once every
/// connection has ended.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: impl Served,
    limits: Limits,
    connections: crate::metrics::Connections,
    shutdown: impl Future<Output = ()>,
) {
    let max = limits.max_connections.clamp(1, MAX_CAP);
    let slots = Arc::new(Semaphore::new(max));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let (stop, stopped) = watch::channel(());
    tokio::pin!(shutdown);
    let mut failing = false;
    while let Some(tcp) = accept(&listener, &mut shutdown, &mut failing).await {
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                let (app, tls, stopped) = (app.clone(), tls.clone(), stopped.clone());
                let open = connections.opened();
                tokio::spawn(async move {
                    connection(tcp, tls, app, limits, stopped).await;
                    drop((slot, open));
                });
            }
            Err(_) if tls.is_none() => answer::refuse(tcp, max, &refusing),
            // A TLS client would need a handshake to read the answer: it is closed instead.
            Err(_) => drop(tcp),
        }
    }
    drop(listener);
    let _ = stop.send(());
    // Every slot back means every connection has ended.
    let _ = slots.acquire_many(max as u32).await;
    let _ = refusing.acquire_many(MAX_REFUSING as u32).await;
}

/// The next connection, or `None` once `shutdown` resolves. Failures to accept (out of
/// descriptors, say) are retried after a pause, never in a busy loop; the first of a run is
/// logged as a warning (`failing` remembers the run).
pub(crate) async fn accept(
    listener: &TcpListener,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    failing: &mut bool,
) -> Option<TcpStream> {
    loop {
        tokio::select! {
            () = shutdown.as_mut() => return None,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    if std::mem::take(failing) {
                        tracing::info!("accepting connections again");
                    }
                    return Some(tcp);
                }
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    if !std::mem::replace(failing, true) {
                        tracing::warn!(error = %e, "cannot accept connections; retrying every 100 ms");
                    }
                    tokio::select! {
                        () = shutdown.as_mut() => return None,
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            },
        }
    }
}

/// An error of one connection (gone before it was accepted), not of the listener.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused
    )
}

async fn connection(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    app: impl Served,
    limits: Limits,
    mut stopped: watch::Receiver<()>,
) {
    let activity = Arc::new(watched::Activity::default());
    match tls {
        None => {
            let io = watched::Watched::new(tcp, activity.clone());
            http(io, activity, app, limits, stopped, None).await;
        }
        Some(acceptor) => {
            let handshake = tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp));
            let stream = tokio::select! {
                done = handshake => match done {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return tracing::debug!(error = %e, "TLS handshake failed"),
                    Err(_) => return tracing::debug!("TLS handshake timed out"),
                },
                _ = stopped.changed() => return,
            };
            let io = watched::Watched::new(stream, activity.clone());
            http(io, activity, app, limits, stopped, None).await;
        }
    }
}

/// Serves HTTP/1.1 requests on `io` until it ends or `stopped` fires. `scheme`, when given, is
/// how the client reached this connection (the proxy's terminated tunnels: `https`), for
/// absolute URLs; else the server's own.
pub(crate) async fn http<T>(
    io: watched::Watched<T>,
    activity: Arc<watched::Activity>,
    app: impl Served,
    limits: Limits,
    mut stopped: watch::Receiver<()>,
    scheme: Option<crate::http::Scheme>,
) where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let app = app.clone();
        if let Some(scheme) = scheme {
            req.extensions_mut().insert(scheme);
        }
        async move {
            match over_limit(&req) {
                Some(err) => Ok(crate::http::refused(
                    req.method(),
                    req.uri().path(),
                    req.headers(),
                    &err,
                )),
                None => app.oneshot(req.map(Body::new)).await,
            }
        }
    });
    let conn = builder(activity, limits).serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        _ = stopped.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(error = %e, "connection ended");
    }
}

/// hyper's HTTP/1.1 server with complyd's head timer and head limits.
pub(crate) fn builder(
    activity: Arc<watched::Activity>,
    limits: Limits,
) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(timer::HeadTimer::new(
            activity,
            limits.header_timeout,
            limits.idle_timeout,
        ))
        .header_read_timeout(limits.header_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADER_FIELDS);
    builder
}

/// The checks hyper does not make: the request target's length.
pub(crate) fn over_limit(req: &hyper::Request<Incoming>) -> Option<ApiError> {
    let uri = req.uri();
    let length = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    (length > MAX_URI_BYTES).then_some(ApiError::UriTooLong(MAX_URI_BYTES))
}
