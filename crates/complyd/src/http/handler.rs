//! The OData handler: version, token, path, permission, query, body — then the service.

use super::response::{self, Urls};
use super::{AppState, RequestContext};
use crate::error::ApiError;
use crate::metrics::{Route, Template};
use crate::service::{Call, Operation};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use odata::path::ResourcePath;
use odata::query::QueryOptions;
use odata::Version;
use serde_json::Value;
use std::sync::Arc;

pub async fn odata(
    State(state): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestContext>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    in_batch: Option<Extension<super::batch::BatchItem>>,
    body: Body,
) -> Response {
    let host = host(&headers).to_string();
    let mut route = Route::Unresolved;
    let inner = in_batch.is_some();
    let mut res = match handle(&state, &method, &uri, &headers, inner, body, &mut route).await {
        Ok(Outcome::Document(document)) => response::document(document),
        Ok(Outcome::Text(content_type, text)) => {
            ([(header::CONTENT_TYPE, content_type)], text).into_response()
        }
        Ok(Outcome::Service(version, reply)) => {
            let origin = format!("{}://{host}", state.scheme);
            let urls = Urls {
                service_root: format!("{origin}/{}", version.as_str()),
                request_without_skiptoken: format!("{origin}{}", without_skiptoken(&uri)),
            };
            response::reply(&urls, reply)
        }
        Err(err) => response::error(&ctx, &err),
    };
    if state.metrics.is_some() {
        res.extensions_mut().insert(route);
    }
    res
}

/// What a request produced: a service reply, a whole JSON document (a batch response), or a
/// description of the service (`$metadata`, `/openapi.json`) with its content type.
enum Outcome {
    Service(Version, crate::service::Reply),
    Document(Value),
    Text(&'static str, String),
}

async fn handle(
    state: &Arc<AppState>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    inner: bool,
    body: Body,
    route: &mut Route,
) -> Result<Outcome, ApiError> {
    if uri.path() == "/openapi.json" {
        *route = Route::OpenApi;
        // Like `$metadata`, the description of the service is public.
        return described(method, "/openapi.json", || {
            let origin = format!("{}://{}", state.scheme, host(headers));
            ("application/json", state.model.openapi(&origin).to_string())
        });
    }
    let (version_segment, rest) = uri
        .path()
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or((uri.path().trim_start_matches('/'), ""));
    let version = Version::parse(version_segment).ok_or_else(|| {
        *route = Route::Unmatched;
        ApiError::InvalidVersion(format!(
            "Invalid version: {}",
            version_segment.to_lowercase()
        ))
    })?;
    if rest == "$metadata" {
        *route = Route::Metadata;
        // Graph answers `$metadata` without a token.
        let path = format!("/{}/$metadata", version.as_str());
        return described(method, &path, || {
            ("application/xml;charset=utf-8", state.model.csdl(version))
        });
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let principal = state.auth.authenticate(authorization).await?;
    let admitted = state.throttle.admit(
        &principal,
        matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        ),
    );
    if let (Err(_), Some(metrics)) = (&admitted, &state.metrics) {
        metrics.throttled();
    }
    admitted?;
    if names_batch(rest) {
        *route = Route::Batch;
        if inner {
            // Graph refuses nested batches: one request never fans out past one batch.
            return Err(ApiError::bad_request(
                "A batch request cannot contain another batch request.",
            ));
        }
        return batch(state, method, version, headers, body).await;
    }
    let path = ResourcePath::parse(state.model, version, rest).inspect_err(|_| {
        *route = Route::Unmatched;
    })?;
    if state.metrics.is_some() {
        *route = Route::Resource(Template::of(&path));
    }
    let operation = match *method {
        Method::GET => Operation::Get,
        Method::POST => Operation::Post,
        Method::PATCH => Operation::Patch,
        Method::DELETE => Operation::Delete,
        _ => Operation::Other,
    };
    principal.authorize(path.permissions(), operation.is_write())?;
    let query = QueryOptions::parse(
        query_pairs(uri.query().unwrap_or(""))
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
        version == Version::Beta,
    )?;
    let body = if matches!(operation, Operation::Post | Operation::Patch) {
        read_json(headers, body, state).await?
    } else {
        None
    };
    let call = Call {
        tenant: principal.tenant,
        version,
        path,
        operation,
        verb: method.as_str().to_string(),
        raw_path: uri.path().to_string(),
        body,
        query,
    };
    Ok(Outcome::Service(
        version,
        state.service.execute(call).await?,
    ))
}

/// A GET-only description of the service.
fn described(
    method: &Method,
    path: &str,
    render: impl FnOnce() -> (&'static str, String),
) -> Result<Outcome, ApiError> {
    if method != Method::GET {
        return Err(ApiError::Route(format!(
            "No OData route exists that match template ~{path} with http verb {method} for request {path}."
        )));
    }
    let (content_type, text) = render();
    Ok(Outcome::Text(content_type, text))
}

fn host(headers: &HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
}

async fn batch(
    state: &Arc<AppState>,
    method: &Method,
    version: Version,
    headers: &HeaderMap,
    body: Body,
) -> Result<Outcome, ApiError> {
    if method != Method::POST {
        return Err(ApiError::Route(format!(
            "No OData route exists that match template ~/$batch with http verb {method} for request /{}/$batch.",
            version.as_str()
        )));
    }
    let envelope = read_json(headers, body, state)
        .await?
        .ok_or_else(|| ApiError::bad_request("A batch request needs a body."))?;
    // A router of its own for the inner requests (keeping one in the state would be a cycle).
    let router = super::router(state.clone());
    let document = super::batch::run(router, version.as_str(), headers, &envelope).await?;
    Ok(Outcome::Document(document))
}

/// The version-relative path names `$batch`, however spelled (`%24batch`, trailing slash).
fn names_batch(rest: &str) -> bool {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    // Decoded only when it could spell `$batch` (each of its 6 bytes at most 3 encoded).
    rest.eq_ignore_ascii_case("$batch")
        || (rest.len() <= 18
            && rest.contains('%')
            && form_decode(rest).eq_ignore_ascii_case("$batch"))
}

/// The body as JSON: `None` when empty (whatever its type), 413 past the limit, 408 when it does
/// not arrive in time, 415 when it is not declared JSON, 400 when it is not JSON.
async fn read_json(
    headers: &HeaderMap,
    body: Body,
    state: &AppState,
) -> Result<Option<Value>, ApiError> {
    let limit = state.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let read = tokio::time::timeout(state.body_timeout, axum::body::to_bytes(body, limit));
    let bytes = read
        .await
        .map_err(|_| ApiError::BodyTimeout(state.body_timeout.as_secs()))?
        .map_err(|e| {
            if std::error::Error::source(&e).is_some_and(|s| s.to_string().contains("length limit"))
                || e.to_string().contains("length limit")
            {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::bad_request(format!("The request body could not be read: {e}"))
            }
        })?;
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

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The request path and query with any `$skiptoken` removed (raw, still encoded).
fn without_skiptoken(uri: &Uri) -> String {
    let kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let name = form_decode(p.split('=').next().unwrap_or(""));
            name != "$skiptoken" && name != "skiptoken"
        })
        .collect();
    if kept.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    }
}
