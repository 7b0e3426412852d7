//! OAuth errors as Entra words them: `AADSTS{code}: …` with trace, correlation and time.

use super::{Answer, Content};
use crate::common::{now_unix, RequestContext};
use axum::http::StatusCode;
use odata::value::DateTimeOffset;
use serde_json::json;

#[derive(Debug)]
pub(super) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
}

pub(super) fn oauth(
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
) -> OAuthError {
    OAuthError {
        status,
        error,
        code,
        description,
    }
}

pub(super) fn missing(name: &str) -> OAuthError {
    oauth(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

pub(super) fn store_failure(e: crate::store::StoreError) -> OAuthError {
    tracing::error!(error = %e, "token service store");
    unavailable()
}

pub(super) fn signing_failure(e: jsonwebtoken::errors::Error) -> OAuthError {
    tracing::error!(error = %e, "signing a token");
    unavailable()
}

fn unavailable() -> OAuthError {
    oauth(
        StatusCode::INTERNAL_SERVER_ERROR,
        "temporarily_unavailable",
        50001,
        "The service is temporarily unavailable.".into(),
    )
}

impl OAuthError {
    pub(super) fn status(&self) -> StatusCode {
        self.status
    }

    /// The OAuth error code (`invalid_request`, …).
    pub(super) fn error(&self) -> &'static str {
        self.error
    }

    /// Entra's `error_description`: the AADSTS code, the text and the request's ids.
    pub(super) fn description(&self, ctx: &RequestContext) -> String {
        format!(
            "AADSTS{}: {} Trace ID: {} Correlation ID: {} Timestamp: {}",
            self.code,
            self.description,
            ctx.request_id,
            ctx.client_request_id,
            entra_timestamp(now_unix())
        )
    }

    /// The error document, never cached.
    pub(super) fn answer(self, ctx: &RequestContext) -> Answer {
        let timestamp = entra_timestamp(now_unix());
        let body = json!({
            "error": self.error,
            "error_description": self.description(ctx),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": ctx.request_id,
            "correlation_id": ctx.client_request_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        Answer::with(self.status, Content::Json(body)).header("cache-control", "no-store, no-cache")
    }
}

/// `2024-05-01 12:00:00Z`, the way Entra stamps its errors.
fn entra_timestamp(unix: i64) -> String {
    let utc = DateTimeOffset::from_unix_seconds(unix).to_utc_seconds();
    format!("{}Z", utc.replacen('T', " ", 1))
}

#[cfg(test)]
mod tests {
    use super::entra_timestamp;

    #[test]
    fn timestamps_are_entra_shaped() {
        assert_eq!(entra_timestamp(0), "1970-01-01 00:00:00Z");
        assert_eq!(entra_timestamp(1_714_564_800), "2024-05-01 12:00:00Z");
        assert_eq!(entra_timestamp(951_825_600), "2000-02-29 12:00:00Z");
    }
}
