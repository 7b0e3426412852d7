//! Entra's error codes and messages, for roots marked `entra-errors` (the directory).

use crate::error::ApiError;
use axum::http::StatusCode;
use odata::ErrorKind;

/// 404 `Request_ResourceNotFound`, as Entra words it.
pub fn not_found(id: &str) -> ApiError {
    ApiError::Coded {
        status: StatusCode::NOT_FOUND,
        code: "Request_ResourceNotFound",
        message: format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    }
}

/// 400 `Request_BadRequest`.
pub fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::Coded {
        status: StatusCode::BAD_REQUEST,
        code: "Request_BadRequest",
        message: message.into(),
    }
}

/// 400 `Request_UnsupportedQuery`.
pub fn unsupported_query(message: impl Into<String>) -> ApiError {
    ApiError::Coded {
        status: StatusCode::BAD_REQUEST,
        code: "Request_UnsupportedQuery",
        message: message.into(),
    }
}

/// 403 `Authorization_RequestDenied`: what Entra answers a write it does not allow here (the
/// members of a dynamic group).
pub fn denied() -> ApiError {
    ApiError::Coded {
        status: StatusCode::FORBIDDEN,
        code: "Authorization_RequestDenied",
        message: "Insufficient privileges to complete the operation.".into(),
    }
}

/// An error in Entra's codes: bad input is `Request_BadRequest`, a missing entity
/// `Request_ResourceNotFound`; the rest as they are.
pub fn entra(err: ApiError) -> ApiError {
    match err {
        ApiError::OData(e) if e.kind == ErrorKind::ResourceNotFound => ApiError::Coded {
            status: StatusCode::NOT_FOUND,
            code: "Request_ResourceNotFound",
            message: e.message,
        },
        ApiError::OData(e)
            if matches!(e.kind, ErrorKind::BadRequest | ErrorKind::ModelValidation) =>
        {
            bad_request(e.message)
        }
        ApiError::Business(message) => bad_request(message),
        ApiError::NotFound(message) => ApiError::Coded {
            status: StatusCode::NOT_FOUND,
            code: "Request_ResourceNotFound",
            message,
        },
        other => other,
    }
}
