//! `GET /console/events`: server-sent events for live pages. Once a second the stream looks at
//! the tenant's change indicator (`common::Changes`: moved by every answered write and by the
//! engine's and the clock's background work) and sends `event: changed` when it moved; a
//! comment every 15 seconds keeps proxies from closing a quiet stream. The page then fetches
//! itself again (console.js). Streams end when the server stops or the session does.

use super::request::Ctx;
use super::Console;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;

const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Looks between two keep-alive comments.
const QUIET_LOOKS: u32 = 15;

struct Watch {
    console: Arc<Console>,
    tenant: String,
    session: String,
    seen: u64,
    quiet: u32,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl Watch {
    /// The next piece of the stream, or `None` when it ends.
    async fn next(mut self) -> Option<(Result<Bytes, std::convert::Infallible>, Self)> {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(LOOK_EVERY) => {}
                _ = self.stopping.changed() => return None,
            }
            if *self.stopping.borrow() || self.console.sessions.get(&self.session).is_none() {
                return None;
            }
            let now = self.console.changes.version(&self.tenant);
            if now != self.seen {
                self.seen = now;
                self.quiet = 0;
                let event = format!("event: changed\ndata: {now}\n\n");
                return Some((Ok(Bytes::from(event)), self));
            }
            self.quiet += 1;
            if self.quiet >= QUIET_LOOKS {
                self.quiet = 0;
                return Some((Ok(Bytes::from_static(b": still here\n\n")), self));
            }
        }
    }
}

pub async fn stream(ctx: Ctx) -> Response {
    let watch = Watch {
        seen: ctx.console.changes.version(&ctx.user.tenant),
        tenant: ctx.user.tenant.clone(),
        session: ctx.session.id.clone(),
        console: ctx.console.clone(),
        quiet: 0,
        stopping: ctx.console.stopping.clone(),
    };
    let first = futures_util::stream::once(async {
        Ok::<_, std::convert::Infallible>(Bytes::from_static(b"retry: 3000\n\n"))
    });
    let rest = futures_util::stream::unfold(watch, Watch::next);
    let body = Body::from_stream(futures_util::StreamExt::chain(first, rest));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}
