//! Request bodies: read whole within the size and time limits, and taken as JSON.

use crate::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue};
use http_body_util::LengthLimitError;
use serde_json::Value;
use std::time::Duration;

/// How much of a body may arrive, and how fast.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// The whole body: 413 past the limit (as declared, or as it arrives), 408 when it does not
/// arrive in time, 400 when the connection fails while it does.
pub async fn read(headers: &HeaderMap, body: Body, limits: BodyLimits) -> Result<Bytes, ApiError> {
    let limit = limits.max_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    tokio::time::timeout(limits.timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| ApiError::BodyTimeout(limits.timeout.as_secs()))?
        .map_err(|e| {
            let cause = e.into_inner();
            if cause.is::<LengthLimitError>() {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::bad_request(format!("The request body could not be read: {cause}"))
            }
        })
}

/// The body as JSON: `None` when empty (whatever its type), 415 when it is not declared JSON, 400
/// when it is not JSON; the limits of [`read`].
pub async fn read_json(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<Option<Value>, ApiError> {
    let bytes = read(headers, body, limits).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let content_type = headers.get(header::CONTENT_TYPE);
    if !content_type.is_some_and(is_json_media_type) {
        let given = content_type.map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(100)
                .collect()
        });
        return Err(ApiError::UnsupportedMediaType(given));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}.")))
}

/// `application/json` or `application/…+json`, parameters (`; charset=utf-8`) aside.
fn is_json_media_type(value: &HeaderValue) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or("").trim();
    match essence.split_once('/') {
        Some((kind, subtype)) => {
            kind.eq_ignore_ascii_case("application")
                && (subtype.eq_ignore_ascii_case("json")
                    || subtype
                        .get(subtype.len().saturating_sub(5)..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case("+json")))
        }
        None => false,
    }
}
