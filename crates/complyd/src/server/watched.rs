//! A connection's byte stream as hyper sees it. It counts what arrives, for the head timer, and
//! when hyper writes its own empty answer to a bad request head, it writes complyd's Graph error
//! instead, then closes the connection gently (see `answer`).

use super::answer::{self, LINGER, LINGER_BYTES};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a connection has received, shared with its head timer.
#[derive(Default)]
pub(crate) struct Activity {
    bytes_read: AtomicU64,
}

impl Activity {
    pub(super) fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }
}

pub(crate) struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
    /// Bytes read since the last write, and where the first line among them ended: the request
    /// line of the head hyper is reading.
    read_since_write: usize,
    line_end: Option<usize>,
    /// Complyd's answer in place of hyper's, once hyper has written one.
    replaced: Option<Replaced>,
}

impl<T> Watched<T> {
    pub(crate) fn new(io: T, activity: Arc<Activity>) -> Self {
        Self {
            io,
            activity,
            read_since_write: 0,
            line_end: None,
            replaced: None,
        }
    }

    /// Whether `first` (what hyper writes) is hyper's own answer; if so, ours takes its place.
    fn intercepts(&mut self, first: &[u8]) -> bool {
        if self.replaced.is_none() {
            if let Some(status) = answer::hyper_answer(first) {
                let bytes = answer::replacement(status, self.line_end);
                self.replaced = Some(Replaced {
                    bytes,
                    written: 0,
                    ending: Ending::Writing,
                });
            }
        }
        self.replaced.is_some()
    }

    fn wrote(&mut self, n: usize) {
        if n > 0 {
            self.read_since_write = 0;
            self.line_end = None;
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        let fresh = &buf.filled()[before..];
        if !fresh.is_empty() {
            let this = &mut *self;
            this.activity
                .bytes_read
                .fetch_add(fresh.len() as u64, Ordering::Relaxed);
            if this.line_end.is_none() {
                this.line_end = fresh
                    .iter()
                    .position(|&b| b == b'\n')
                    .map(|i| this.read_since_write + i);
            }
            this.read_since_write = this.read_since_write.saturating_add(fresh.len());
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.intercepts(buf) {
            return this.write_replacement(cx, buf.len());
        }
        let n = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        this.wrote(n);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        if this.intercepts(first) {
            let total = bufs.iter().map(|b| b.len()).sum();
            return this.write_replacement(cx, total);
        }
        let n = ready!(Pin::new(&mut this.io).poll_write_vectored(cx, bufs))?;
        this.wrote(n);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match &mut this.replaced {
            Some(replaced) => replaced.finish(&mut this.io, cx),
            None => Pin::new(&mut this.io).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match &mut this.replaced {
            Some(replaced) => replaced.finish(&mut this.io, cx),
            None => Pin::new(&mut this.io).poll_shutdown(cx),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Watched<T> {
    /// Writes our answer in place of hyper's `claimed` bytes, which it reports as written.
    fn write_replacement(
        &mut self,
        cx: &mut Context<'_>,
        claimed: usize,
    ) -> Poll<io::Result<usize>> {
        if let Some(replaced) = &mut self.replaced {
            while replaced.written < replaced.bytes.len() {
                let rest = &replaced.bytes[replaced.written..];
                match ready!(Pin::new(&mut self.io).poll_write(cx, rest))? {
                    0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    n => replaced.written += n,
                }
            }
        }
        Poll::Ready(Ok(claimed))
    }
}

struct Replaced {
    bytes: Vec<u8>,
    written: usize,
    ending: Ending,
}

/// After our answer: flush, send FIN, read what the client still sends for a moment, done.
enum Ending {
    Writing,
    Flushing,
    ShuttingDown,
    Lingering(Pin<Box<tokio::time::Sleep>>, usize),
    Done,
}

impl Replaced {
    fn finish<T: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut T,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            self.ending = match &mut self.ending {
                Ending::Writing if self.written == self.bytes.len() => Ending::Flushing,
                Ending::Writing => {
                    let rest = &self.bytes[self.written..];
                    match ready!(Pin::new(&mut *io).poll_write(cx, rest)) {
                        Ok(n) if n > 0 => {
                            self.written += n;
                            continue;
                        }
                        _ => Ending::Done,
                    }
                }
                Ending::Flushing => match ready!(Pin::new(&mut *io).poll_flush(cx)) {
                    Ok(()) => Ending::ShuttingDown,
                    Err(_) => Ending::Done,
                },
                Ending::ShuttingDown => match ready!(Pin::new(&mut *io).poll_shutdown(cx)) {
                    Ok(()) => Ending::Lingering(Box::pin(tokio::time::sleep(LINGER)), LINGER_BYTES),
                    Err(_) => Ending::Done,
                },
                Ending::Lingering(deadline, left) => {
                    let mut scratch = [0u8; 4096];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut *io).poll_read(cx, &mut buf) {
                        Poll::Ready(Ok(()))
                            if !buf.filled().is_empty() && *left > buf.filled().len() =>
                        {
                            *left -= buf.filled().len();
                            continue;
                        }
                        Poll::Ready(_) => Ending::Done,
                        Poll::Pending => match deadline.as_mut().poll(cx) {
                            Poll::Ready(()) => Ending::Done,
                            Poll::Pending => return Poll::Pending,
                        },
                    }
                }
                Ending::Done => return Poll::Ready(Ok(())),
            };
        }
    }
}
