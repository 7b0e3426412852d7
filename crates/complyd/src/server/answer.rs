//! Answers written below hyper, as raw HTTP/1.1: the Graph error that replaces hyper's own empty
//! one for a bad request head, and the 503 for a connection over the cap. Each closes the
//! connection, after reading for a moment what the client still sends, so that the client reads
//! the answer rather than a reset.

use super::{MAX_HEADER_FIELDS, MAX_HEAD_BYTES, MAX_URI_BYTES};
use crate::common::RequestContext;
use crate::error::ApiError;
use crate::http::response::{error_text, JSON};
use axum::http::HeaderMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// How long a closing connection is read from, at most, so that its answer is not lost.
pub(super) const LINGER: Duration = Duration::from_secs(1);
/// How long a connection over the cap is kept, at most, to read its head and answer it.
pub(super) const REFUSAL_TIME: Duration = Duration::from_secs(2);
/// How much a closing connection is read from, at most.
pub(super) const LINGER_BYTES: usize = 256 * 1024;

/// The answers hyper writes itself, with an empty body, when it cannot parse a request head.
const HYPER_ANSWERS: [(&[u8], u16); 3] = [
    (b" 400 Bad Request\r\n", 400),
    (b" 414 URI Too Long\r\n", 414),
    (b" 431 Request Header Fields Too Large\r\n", 431),
];

/// The status of `written` when it is one of hyper's own answers to a bad head: one of the
/// statuses above, and none of the request ids every answer of complyd's carries.
pub(super) fn hyper_answer(written: &[u8]) -> Option<u16> {
    let rest = written
        .strip_prefix(b"HTTP/1.1")
        .or_else(|| written.strip_prefix(b"HTTP/1.0"))?;
    let (_, status) = HYPER_ANSWERS
        .iter()
        .find(|(line, _)| rest.starts_with(line))?;
    let ours = written
        .windows(b"\r\nrequest-id:".len())
        .any(|w| w.eq_ignore_ascii_case(b"\r\nrequest-id:"));
    (!ours).then_some(*status)
}

/// Complyd's answer in place of hyper's `status`; `request_line_end` is where the first line of
/// the head ended, if it did, which tells a too-long URI from too many header bytes.
pub(super) fn replacement(status: u16, request_line_end: Option<usize>) -> Vec<u8> {
    // A method, two spaces and `HTTP/1.1\r`: what a request line holds besides its target.
    const LINE_EXTRA: usize = 32;
    let err = match status {
        414 => ApiError::UriTooLong(MAX_URI_BYTES),
        431 if request_line_end.is_none_or(|end| end > MAX_URI_BYTES + LINE_EXTRA) => {
            ApiError::UriTooLong(MAX_URI_BYTES)
        }
        431 => ApiError::HeadTooLarge {
            bytes: MAX_HEAD_BYTES,
            fields: MAX_HEADER_FIELDS,
        },
        _ => ApiError::MalformedHead,
    };
    raw(&err)
}

/// Answers 503 to a connection over the cap once its request head is in (a client is not
/// expecting an answer before), and closes it; unless [`super::MAX_REFUSING`] answers are
/// already under way: then it is closed at once. Either way it is gone within [`REFUSAL_TIME`].
pub(super) fn refuse(mut tcp: TcpStream, max: usize, refusing: &Arc<Semaphore>) {
    let Ok(turn) = refusing.clone().try_acquire_owned() else {
        return;
    };
    let answer = raw(&ApiError::Overloaded(max));
    tokio::spawn(async move {
        let _turn = turn;
        let _ = tokio::time::timeout(REFUSAL_TIME, async {
            let mut scratch = [0u8; 4096];
            let mut head = Vec::new();
            loop {
                let n = tcp.read(&mut scratch).await?;
                if n == 0 {
                    return Ok(());
                }
                let from = head.len().saturating_sub(3);
                head.extend_from_slice(&scratch[..n]);
                if head[from..].windows(4).any(|w| w == b"\r\n\r\n") || head.len() >= MAX_HEAD_BYTES
                {
                    break;
                }
            }
            tcp.write_all(&answer).await?;
            tcp.shutdown().await?;
            let mut left = LINGER_BYTES;
            while left > 0 {
                match tcp.read(&mut scratch).await? {
                    0 => break,
                    n => left = left.saturating_sub(n),
                }
            }
            std::io::Result::Ok(())
        })
        .await;
    });
}

/// The whole response for `err`: status, Graph error body, request ids, `Connection: close`.
fn raw(err: &ApiError) -> Vec<u8> {
    let ctx = RequestContext::new(&HeaderMap::new());
    let status = err.status();
    let body = error_text(&ctx, err);
    let headers: String = err
        .headers()
        .map(|(name, value)| format!("{name}: {}\r\n", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    tracing::info!(
        status = status.as_u16(),
        request_id = %ctx.request_id,
        "request refused by the connection layer"
    );
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {JSON}\r\nodata-version: 4.0\r\ncontent-length: {}\r\n\
         connection: close\r\n{headers}request-id: {id}\r\nclient-request-id: {id}\r\ndate: {}\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len(),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        id = ctx.request_id,
    )
    .into_bytes()
}
