//! Pass-through (`--proxy-pass-through`): connections to hosts complyd does not serve, and plain
//! http requests forwarded to them.

use crate::error::ApiError;
use crate::server::Limits;
use axum::body::Body;
use axum::http::uri::Authority;
use axum::http::{header, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// Headers meant for the proxy, not for the host.
const PROXY_HEADERS: [&str; 2] = ["proxy-connection", "proxy-authorization"];

/// A connection to `authority` (port 80 when none is given), within `timeout`; 502 when it
/// cannot be made.
pub(super) async fn dial(authority: &Authority, timeout: Duration) -> Result<TcpStream, ApiError> {
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let unreachable = |why: String| ApiError::Coded {
        status: StatusCode::BAD_GATEWAY,
        code: "BadGateway",
        message: format!("The proxy could not reach '{authority}': {why}."),
    };
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Ok(Ok(tcp)) => Ok(tcp),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable("no connection in time".into())),
    }
}

/// Forwards a plain http request in absolute form to its host and hands back the answer.
pub(super) async fn plain(mut req: Request<Incoming>, limits: Limits) -> Response<Body> {
    let Some(authority) = req.uri().authority().cloned() else {
        return super::refused(&req, &ApiError::bad_request("No host to forward to."));
    };
    let tcp = match dial(&authority, limits.header_timeout).await {
        Ok(tcp) => tcp,
        Err(err) => return super::refused(&req, &err),
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await {
        Ok(pair) => pair,
        Err(e) => return super::refused(&req, &bad_gateway(&authority, &e)),
    };
    // The connection ends once the answer has been read and the sender is gone.
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "forwarded connection ended");
        }
    });
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let (method, shown) = (req.method().clone(), req.uri().to_string());
    *req.uri_mut() = Uri::try_from(target).unwrap_or_default();
    for name in PROXY_HEADERS {
        req.headers_mut().remove(name);
    }
    if !req.headers().contains_key(header::HOST) {
        if let Ok(value) = authority.as_str().parse() {
            req.headers_mut().insert(header::HOST, value);
        }
    }
    match tokio::time::timeout(limits.idle_timeout, sender.send_request(req)).await {
        Ok(Ok(res)) => {
            tracing::info!(method = %method, url = %shown, status = res.status().as_u16(), "forwarded");
            res.map(Body::new)
        }
        Ok(Err(e)) => crate::http::refused(
            &method,
            &shown,
            &Default::default(),
            &bad_gateway(&authority, &e),
        ),
        Err(_) => {
            let err = ApiError::Coded {
                status: StatusCode::GATEWAY_TIMEOUT,
                code: "GatewayTimeout",
                message: format!("'{authority}' did not answer in time."),
            };
            crate::http::refused(&method, &shown, &Default::default(), &err)
        }
    }
}

fn bad_gateway(authority: &Authority, e: &hyper::Error) -> ApiError {
    ApiError::Coded {
        status: StatusCode::BAD_GATEWAY,
        code: "BadGateway",
        message: format!("The proxy could not forward to '{authority}': {e}."),
    }
}
