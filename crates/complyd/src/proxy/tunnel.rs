//! What a `CONNECT` becomes once it is answered 200: a TLS connection terminated here and served
//! by complyd's API service, or (`--proxy-pass-through`) bytes relayed to the host asked for, until
//! either side closes or the tunnel is idle too long.

use super::Shared;
use crate::server::{self, Activity, Watched};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// A `CONNECT` answered 200, waiting for its connection to be handed over.
pub(super) struct Tunnel {
    pub upgrade: OnUpgrade,
    pub to: Destination,
}

pub(super) enum Destination {
    /// One of the names complyd serves (lower-case): TLS with that name's certificate.
    Terminate(String),
    /// Another host, already connected (pass-through only).
    Relay(TcpStream),
}

impl Tunnel {
    pub(super) async fn run(self, shared: Arc<Shared>, mut stopped: watch::Receiver<()>) {
        let upgraded = tokio::select! {
            up = self.upgrade => match up {
                Ok(up) => up,
                Err(e) => return tracing::debug!(error = %e, "CONNECT: no tunnel"),
            },
            _ = stopped.changed() => return,
        };
        match self.to {
            Destination::Terminate(host) => terminate(upgraded, &host, shared, stopped).await,
            Destination::Relay(upstream) => {
                let idle = shared.limits.idle_timeout;
                tokio::select! {
                    () = relay(TokioIo::new(upgraded), upstream, idle) => {}
                    _ = stopped.changed() => {}
                }
            }
        }
    }
}

/// TLS as `host`, then HTTP/1.1 exactly as on complyd's own listener (same limits and service),
/// with absolute URLs in `https` and the name the client asked for.
async fn terminate(
    upgraded: Upgraded,
    host: &str,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<()>,
) {
    let config = match shared.leaves.config_for(host) {
        Ok(config) => config,
        Err(e) => return tracing::warn!(error = %e, host, "no certificate for a proxied name"),
    };
    let limits = shared.limits;
    let handshake = tokio::time::timeout(
        limits.header_timeout,
        TlsAcceptor::from(config).accept(TokioIo::new(upgraded)),
    );
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return tracing::debug!(error = %e, host, "proxied TLS handshake failed"),
            Err(_) => return tracing::debug!(host, "proxied TLS handshake timed out"),
        },
        _ = stopped.changed() => return,
    };
    let activity = Arc::new(Activity::default());
    let io = Watched::new(stream, activity.clone());
    let https = Some(crate::http::Scheme("https"));
    server::http(io, activity, shared.app.clone(), limits, stopped, https).await;
}

/// Relays bytes both ways until both sides have closed, or nothing has moved for `idle`.
pub(super) async fn relay<A, B>(a: A, b: B, idle: Duration)
where
    A: AsyncRead + AsyncWrite,
    B: AsyncRead + AsyncWrite,
{
    let started = tokio::time::Instant::now();
    let last = AtomicU64::new(0);
    let (mut a_read, mut a_write) = tokio::io::split(a);
    let (mut b_read, mut b_write) = tokio::io::split(b);
    let both = async {
        tokio::join!(
            copy(&mut a_read, &mut b_write, started, &last),
            copy(&mut b_read, &mut a_write, started, &last)
        )
    };
    let watchdog = async {
        loop {
            let moved = Duration::from_millis(last.load(Ordering::Relaxed));
            let quiet = started.elapsed().saturating_sub(moved);
            if quiet >= idle {
                return tracing::debug!("idle tunnel closed");
            }
            tokio::time::sleep(idle - quiet).await;
        }
    };
    tokio::select! {
        _ = both => {}
        () = watchdog => {}
    }
}

/// Copies `from` to `to` until `from` ends (then `to` is shut down for writing), noting in
/// `last` when bytes last moved (milliseconds after `started`).
async fn copy<R, W>(from: &mut R, to: &mut W, started: tokio::time::Instant, last: &AtomicU64)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
        let _ = to.flush().await;
        last.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown().await;
}
