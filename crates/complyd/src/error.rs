//! The one error type of the server, and the only place that maps errors to HTTP statuses,
//! headers and Graph error codes.

use crate::auth::AuthError;
use crate::store::StoreError;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use odata::{ErrorKind, ODataError};
use std::fmt;

#[derive(Debug)]
pub enum ApiError {
    OData(ODataError),
    Auth(AuthError),
    /// The addressed entity (or one containing it) does not exist.
    NotFound(String),
    /// The path names something real, but not with this method (Graph answers 400).
    Route(String),
    /// What the service says when no operation of the path it resolved answers the method: the
    /// route template it matched. `http` words it as a [`Self::Route`] with the verb and path.
    Unrouted(RouteTemplate),
    /// The version segment is missing or unknown.
    InvalidVersion(String),
    /// A rule of the service refused the request.
    Business(String),
    /// An answer with a status and Graph code of its own (Entra's `Request_BadRequest`,
    /// `Request_ResourceNotFound`, `Request_UnsupportedQuery`, `Authorization_RequestDenied`).
    Coded {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// A batch item was not run because a request it depends on failed.
    FailedDependency(String),
    PayloadTooLarge(usize),
    /// The request body did not arrive in time (seconds allowed).
    BodyTimeout(u64),
    /// A body that is not declared JSON (the Content-Type given, if any).
    UnsupportedMediaType(Option<String>),
    /// The request target is longer than the limit (bytes).
    UriTooLong(usize),
    /// The request line and headers are larger than the limit (bytes) or too many.
    HeadTooLarge {
        bytes: usize,
        fields: usize,
    },
    /// The request line or a header is not valid HTTP (refused before routing).
    MalformedHead,
    /// Every connection slot is taken (the cap).
    Overloaded(usize),
    /// Over a throttling limit: 429 with `Retry-After`.
    Throttled {
        retry_after_seconds: u64,
    },
    Store(StoreError),
    Internal(String),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::OData(ODataError::bad_request(message))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::OData(e) => match e.kind {
                ErrorKind::ResourceNotFound => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            },
            Self::Auth(AuthError::Unauthenticated(_)) => StatusCode::UNAUTHORIZED,
            Self::Auth(AuthError::Forbidden(_)) => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::InvalidVersion(_) => StatusCode::NOT_FOUND,
            Self::Route(_) | Self::Unrouted(_) | Self::Business(_) => StatusCode::BAD_REQUEST,
            Self::Coded { status, .. } => *status,
            Self::FailedDependency(_) => StatusCode::FAILED_DEPENDENCY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Self::HeadTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::MalformedHead => StatusCode::BAD_REQUEST,
            Self::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Store(StoreError::Conflict) => StatusCode::CONFLICT,
            Self::Store(StoreError::Unavailable(_) | StoreError::Contended(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Store(StoreError::Full(_)) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Store(StoreError::Backend(_)) | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The headers the error's response carries besides the body's: `Retry-After` when the
    /// client should come back (the throttle's seconds on 429; one second on any 503) and
    /// `WWW-Authenticate` on 401.
    pub fn headers(&self) -> impl Iterator<Item = (HeaderName, HeaderValue)> {
        let header = match (self, self.status()) {
            (
                Self::Throttled {
                    retry_after_seconds,
                },
                _,
            ) => Some((header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds))),
            (_, StatusCode::SERVICE_UNAVAILABLE) => {
                Some((header::RETRY_AFTER, HeaderValue::from_static("1")))
            }
            (_, StatusCode::UNAUTHORIZED) => Some((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"complyd\", error=\"invalid_token\""),
            )),
            _ => None,
        };
        header.into_iter()
    }

    pub fn graph_code(&self) -> &'static str {
        match self {
            Self::OData(e) => match e.kind {
                ErrorKind::BadRequest | ErrorKind::SegmentNotFound => "BadRequest",
                ErrorKind::ModelValidation => "ModelValidationFailure",
                ErrorKind::RouteNotFound => "No method match route template",
                ErrorKind::ResourceNotFound => "ResourceNotFound",
            },
            Self::Auth(AuthError::Unauthenticated(_)) => "InvalidAuthenticationToken",
            Self::Auth(AuthError::Forbidden(_)) => "Forbidden",
            Self::NotFound(_) | Self::InvalidVersion(_) => "ResourceNotFound",
            Self::Route(_) | Self::Unrouted(_) => "No method match route template",
            Self::Business(_) => "BadRequest",
            Self::Coded { code, .. } => code,
            Self::FailedDependency(_) => "FailedDependency",
            Self::PayloadTooLarge(_) => "RequestEntityTooLarge",
            Self::BodyTimeout(_) => "RequestTimeout",
            Self::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Self::UriTooLong(_) => "RequestUriTooLong",
            Self::HeadTooLarge { .. } => "RequestHeaderFieldsTooLarge",
            Self::MalformedHead => "BadRequest",
            Self::Overloaded(_) => "ServiceUnavailable",
            Self::Throttled { .. } => "TooManyRequests",
            Self::Store(StoreError::Conflict) => "Conflict",
            Self::Store(StoreError::Unavailable(_) | StoreError::Contended(_)) => {
                "ServiceUnavailable"
            }
            Self::Store(StoreError::Full(_)) => "InsufficientStorage",
            Self::Store(StoreError::Backend(_)) | Self::Internal(_) => "InternalError",
        }
    }

    /// What the client reads; internal details stay in the logs.
    pub fn message(&self) -> String {
        match self {
            Self::OData(e) => e.message.clone(),
            Self::Auth(AuthError::Unauthenticated(m) | AuthError::Forbidden(m)) => m.clone(),
            Self::Unrouted(template) => {
                format!("No OData route exists that match template ~{template}.")
            }
            Self::NotFound(m)
            | Self::Route(m)
            | Self::InvalidVersion(m)
            | Self::Business(m)
            | Self::Coded { message: m, .. }
            | Self::FailedDependency(m) => {
                m.clone()
            }
            Self::PayloadTooLarge(limit) => {
                format!("The request body exceeds the limit of {limit} bytes.")
            }
            Self::BodyTimeout(seconds) => {
                format!("The request body did not arrive within the limit of {seconds} seconds.")
            }
            Self::UnsupportedMediaType(given) => format!(
                "A request body must be JSON, sent with a JSON Content-Type header such as 'application/json'; this one's is {}.",
                given.as_deref().map_or_else(|| "missing".to_string(), |t| format!("'{t}'"))
            ),
            Self::UriTooLong(limit) => {
                format!("The request URI exceeds the limit of {limit} bytes.")
            }
            Self::HeadTooLarge { bytes, fields } => format!(
                "The request line and headers exceed the limit of {bytes} bytes or of {fields} header fields."
            ),
            Self::MalformedHead => "The request line or a header is malformed: the method, the path or a header holds bytes HTTP does not allow.".into(),
            Self::Overloaded(limit) => format!(
                "The server is at its limit of {limit} concurrent connections. Retry shortly."
            ),
            Self::Throttled {
                retry_after_seconds,
            } => format!(
                "Too many requests: the application or tenant is over its request limit. Retry after {retry_after_seconds} seconds."
            ),
            Self::Store(StoreError::Conflict) => "An entity with this key already exists.".into(),
            Self::Store(StoreError::Unavailable(_)) => {
                "The service is temporarily unavailable: its database cannot be reached. Retry shortly.".into()
            }
            Self::Store(StoreError::Contended(_)) => {
                "A concurrent write held what this write needed; nothing was written. Retry shortly.".into()
            }
            Self::Store(StoreError::Full(_)) => {
                "The service has no storage left for this change; nothing was written. Reads still work; retry the write later.".into()
            }
            Self::Store(StoreError::Backend(_)) | Self::Internal(_) => {
                "An internal server error occurred. Quote the request-id when reporting it.".into()
            }
        }
    }
}

/// A route template as Graph's messages spell it: `/entityset/key/navigation`, `/singleton`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTemplate(pub Vec<&'static str>);

impl fmt::Display for RouteTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        self.0.iter().try_for_each(|part| write!(f, "/{part}"))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => write!(f, "{e}"),
            Self::Internal(m) => write!(f, "internal: {m}"),
            other => f.write_str(&other.message()),
        }
    }
}

impl From<ODataError> for ApiError {
    fn from(e: ODataError) -> Self {
        Self::OData(e)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write the database gave up on for a concurrent one is a 503 the client retries, with a
    /// message that says what happened (not that the database cannot be reached).
    #[test]
    fn a_contended_write_is_a_retryable_503() {
        let error = ApiError::Store(StoreError::Contended("deadlock detected".into()));
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(error
            .headers()
            .any(|(name, value)| name == header::RETRY_AFTER && value == "1"));
        let message = error.message();
        assert!(message.contains("concurrent write"), "{message}");
        assert!(
            !message.contains("deadlock"),
            "no database detail: {message}"
        );
    }
}
