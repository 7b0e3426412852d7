//! Open connections: the accept loop takes a guard for each connection it accepts and drops it
//! when the connection ends. `CountingListener` does that for `axum::serve`.

use prometheus_client::metrics::gauge::Gauge;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The gauge of open connections, or nothing when metrics are off. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Connections(Option<Gauge>);

impl Connections {
    /// Counts nothing (metrics off).
    pub fn off() -> Self {
        Self(None)
    }

    pub(super) fn counting(gauge: Gauge) -> Self {
        Self(Some(gauge))
    }

    /// One more connection, until the guard is dropped.
    pub fn opened(&self) -> ConnectionGuard {
        if let Some(gauge) = &self.0 {
            gauge.inc();
        }
        ConnectionGuard(self.0.clone())
    }
}

/// Held for as long as one connection is open.
#[derive(Debug)]
pub struct ConnectionGuard(Option<Gauge>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(gauge) = &self.0 {
            gauge.dec();
        }
    }
}

/// A listener whose connections count themselves open until they are dropped.
pub struct CountingListener<L> {
    inner: L,
    connections: Connections,
}

impl<L> CountingListener<L> {
    pub fn new(inner: L, connections: Connections) -> Self {
        Self { inner, connections }
    }
}

impl<L: axum::serve::Listener> axum::serve::Listener for CountingListener<L> {
    type Io = Counted<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        let guard = self.connections.opened();
        (Counted { io, _guard: guard }, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection and its guard.
pub struct Counted<S> {
    io: S,
    _guard: ConnectionGuard,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
