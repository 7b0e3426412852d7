//! JSON batching (`POST /{version}/$batch`): up to 20 requests, ordered by `dependsOn`, each
//! re-dispatched through the API's service so that it meets exactly the authentication, permissions,
//! validation and routing of a direct request.

use crate::error::ApiError;
use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use tower::ServiceExt;

/// Graph's limit on requests in one batch.
pub const MAX_REQUESTS: usize = 20;
/// The longest URL (path and query) an inner request may have: the most the HTTP layer carries.
pub const MAX_URL_LENGTH: usize = u16::MAX as usize - 1;
/// Inner response headers worth handing back, spelled as Graph spells them (clients such as
/// the JavaScript SDK look for `Content-Type` exactly).
const KEPT_HEADERS: [&str; 6] = [
    "Content-Type",
    "request-id",
    "client-request-id",
    "Retry-After",
    "Location",
    "OData-Version",
];

struct Item {
    /// The id as the client sent it (a string or a number), answered back as it came.
    id: Value,
    /// The id as text, for lookups and messages.
    label: String,
    method: Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    depends_on: Vec<usize>,
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// Reads and checks the envelope; any fault refuses the whole batch.
fn parse(envelope: &Value) -> Result<Vec<Item>, ApiError> {
    let requests = envelope
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("A batch body must be an object with a 'requests' array."))?;
    if requests.is_empty() || requests.len() > MAX_REQUESTS {
        return Err(malformed(format!(
            "A batch must hold between 1 and {MAX_REQUESTS} requests; this one holds {}.",
            requests.len()
        )));
    }
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut labels = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        let id = request_id(i, r)?;
        if index.insert(id.to_lowercase(), i).is_some() {
            return Err(malformed(format!(
                "The batch has more than one request with id '{id}'."
            )));
        }
        labels.push(id);
    }
    requests
        .iter()
        .zip(labels)
        .map(|(r, label)| item(r, label, &index))
        .collect()
}

/// A request's id as text: a non-empty string, or a number (tools such as backup scripts number
/// their requests, and read the answers' ids back as numbers).
fn request_id(i: usize, r: &Value) -> Result<String, ApiError> {
    match r.get("id") {
        None | Some(Value::Null) => {
            Err(malformed(format!("Request {i} of the batch has no 'id'.")))
        }
        Some(Value::String(s)) if s.is_empty() => Err(malformed(format!(
            "The 'id' of request {i} of the batch is empty."
        ))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(malformed(format!(
            "The 'id' of request {i} of the batch must be a string or a number, not {}.",
            json_kind(other)
        ))),
    }
}

/// How a JSON value is called in messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn item(r: &Value, label: String, index: &HashMap<String, usize>) -> Result<Item, ApiError> {
    let id = label;
    let method = r
        .get("method")
        .and_then(Value::as_str)
        .and_then(|m| Method::from_bytes(m.to_uppercase().as_bytes()).ok())
        .filter(|m| {
            [
                Method::GET,
                Method::POST,
                Method::PATCH,
                Method::PUT,
                Method::DELETE,
            ]
            .contains(m)
        })
        .ok_or_else(|| malformed(format!("Request '{id}' has no valid 'method'.")))?;
    let url = r
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty() && !u.contains("://"))
        .ok_or_else(|| {
            malformed(format!(
                "Request '{id}' needs a 'url' relative to the version root."
            ))
        })?;
    let mut headers = Vec::new();
    if let Some(given) = r.get("headers") {
        let given = given.as_object().ok_or_else(|| {
            malformed(format!("The headers of request '{id}' must be an object."))
        })?;
        for (name, value) in given {
            let parsed = (
                HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(HeaderValue::from_str),
            );
            match parsed {
                (Ok(n), Some(Ok(v))) => headers.push((n, v)),
                _ => {
                    return Err(malformed(format!(
                        "Request '{id}' has an invalid header '{name}'."
                    )))
                }
            }
        }
    }
    let content_type = headers
        .iter()
        .find(|(n, _)| *n == header::CONTENT_TYPE)
        .map(|(_, v)| v.to_str().unwrap_or(""));
    let body = match r.get("body") {
        None | Some(Value::Null) => None,
        Some(body) => {
            let content_type = content_type.ok_or_else(|| {
                malformed(format!(
                    "Request '{id}' has a body but no Content-Type header."
                ))
            })?;
            Some(match body {
                Value::String(text) if !content_type.contains("json") => STANDARD
                    .decode(text)
                    .map_err(|_| malformed(format!("The body of request '{id}' is not base64.")))?,
                other => other.to_string().into_bytes(),
            })
        }
    };
    let depends_on = match r.get("dependsOn") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|d| {
                let named = match d {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                };
                named
                    .and_then(|d| index.get(&d.to_lowercase()).copied())
                    .filter(|i| index.get(&id.to_lowercase()) != Some(i))
                    .ok_or_else(|| {
                        malformed(format!("Request '{id}' depends on an unknown request {d}."))
                    })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(malformed(format!(
                "The dependsOn of request '{id}' must be an array of ids."
            )))
        }
    };
    Ok(Item {
        id: r.get("id").cloned().unwrap_or(Value::Null),
        label: id,
        method,
        url: url.trim_start_matches('/').to_string(),
        headers,
        body,
        depends_on,
    })
}

/// Indexes in an order where every request follows its dependencies; a cycle refuses the batch.
fn order(items: &[Item]) -> Result<Vec<usize>, ApiError> {
    let mut done = vec![false; items.len()];
    let mut out = Vec::with_capacity(items.len());
    while out.len() < items.len() {
        let ready =
            (0..items.len()).find(|&i| !done[i] && items[i].depends_on.iter().all(|&d| done[d]));
        let i = ready
            .ok_or_else(|| malformed("The dependsOn references of the batch form a cycle."))?;
        done[i] = true;
        out.push(i);
    }
    Ok(out)
}

/// The outer request as its inner requests inherit it: its headers (token and host) and the
/// scheme its connection set, if any.
pub struct Outer<'a> {
    pub headers: &'a HeaderMap,
    pub scheme: Option<super::Scheme>,
}

/// Runs the batch and returns the `{"responses": [...]}` document.
pub async fn run(
    app: super::App,
    version: &str,
    outer: &Outer<'_>,
    envelope: &Value,
) -> Result<Value, ApiError> {
    let items = parse(envelope)?;
    let mut statuses: Vec<Option<u16>> = vec![None; items.len()];
    let mut responses: Vec<Option<Value>> = vec![None; items.len()];
    for i in order(&items)? {
        let item = &items[i];
        let failed = item
            .depends_on
            .iter()
            .find(|&&d| statuses[d].is_some_and(|s| s >= 400));
        let (status, response) = match failed {
            Some(&d) => failed_dependency(item, &items[d].label),
            None => dispatch(app.clone(), version, outer, item).await,
        };
        statuses[i] = Some(status);
        responses[i] = Some(response);
    }
    Ok(json!({ "responses": responses.into_iter().flatten().collect::<Vec<_>>() }))
}

fn failed_dependency(item: &Item, dependency: &str) -> (u16, Value) {
    refused(
        item,
        &ApiError::FailedDependency(format!(
            "The request '{dependency}' this request depends on failed."
        )),
    )
}

/// An item answered by the batch itself, without running it: a Graph error body with ids of its
/// own (the item's `client-request-id` header when it sent one).
fn refused(item: &Item, err: &ApiError) -> (u16, Value) {
    let mut headers = HeaderMap::new();
    headers.extend(item.headers.iter().cloned().map(|(n, v)| (Some(n), v)));
    let ctx = crate::common::RequestContext::new(&headers);
    let body = super::response::error_body(&ctx, err);
    let status = err.status().as_u16();
    (
        status,
        json!({ "id": item.id, "status": status, "headers": {"Content-Type": "application/json"}, "body": body }),
    )
}

/// Marks a request dispatched from a batch, so that the handler refuses a `$batch` inside one
/// however its URL is spelled.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem;

async fn dispatch(app: super::App, version: &str, outer: &Outer<'_>, item: &Item) -> (u16, Value) {
    // Relative to the version root; some clients repeat the version (`/v1.0/...`): keep theirs.
    let named = item.url.split('/').next().and_then(odata::Version::parse);
    let uri = match named {
        Some(_) => format!("/{}", item.url),
        None => format!("/{version}/{}", item.url),
    };
    if uri.len() > MAX_URL_LENGTH {
        let message = format!(
            "The URL of request '{}' is longer than {MAX_URL_LENGTH} bytes (the limit).",
            item.label
        );
        return refused(item, &ApiError::bad_request(message));
    }
    let mut builder = Request::builder()
        .method(item.method.clone())
        .uri(uri)
        .extension(BatchItem);
    for name in [header::AUTHORIZATION, header::HOST] {
        if let Some(v) = outer.headers.get(&name) {
            builder = builder.header(name, v.clone());
        }
    }
    if let Some(scheme) = outer.scheme {
        builder = builder.extension(scheme);
    }
    for (name, value) in &item.headers {
        builder = builder.header(name.clone(), value.clone());
    }
    let request = match builder.body(
        item.body
            .clone()
            .map(Body::from)
            .unwrap_or_else(Body::empty),
    ) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("The request could not be formed: {e}");
            return refused(item, &ApiError::bad_request(message));
        }
    };
    // Through the service's boxed future: the handler's future cannot hold itself.
    let response = match app.oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for name in KEPT_HEADERS {
        if let Some(v) = response.headers().get(name).and_then(|v| v.to_str().ok()) {
            headers.insert(name.to_string(), Value::String(v.to_string()));
        }
    }
    let is_json = headers
        .get("Content-Type")
        .and_then(Value::as_str)
        .is_some_and(|c| c.contains("json"));
    let bytes = to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let mut out = json!({ "id": item.id, "status": status, "headers": headers });
    if !bytes.is_empty() {
        out["body"] = if is_json {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        } else {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        };
    }
    (status, out)
}
