//! Replies and errors to HTTP responses: the OData envelope and the Graph error body.

use crate::common::RequestContext;
use crate::error::ApiError;
use crate::identity;
use crate::service::{JsonObject, Reply};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use odata::value::DateTimeOffset;
use serde_json::{json, Value};

pub(crate) const JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// Absolute URLs of the version the client called.
pub struct Urls {
    /// `http://host/v1.0`
    pub service_root: String,
    /// The request URL without `$skiptoken`, for the next page's link.
    pub request_without_skiptoken: String,
}

pub fn reply(urls: &Urls, reply: Reply) -> Response {
    let context = |c: &str| Value::String(format!("{}/$metadata#{c}", urls.service_root));
    match reply {
        Reply::Entity {
            context: c,
            body,
            created,
        } => {
            let body = JsonObject::with_leading(&[("@odata.context", &context(&c))], body.as_str());
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            json_text_response(status, body.into_string())
        }
        Reply::Collection {
            context: c,
            items,
            count,
            skiptoken,
        } => {
            let mut leading: Vec<(&str, Value)> = vec![("@odata.context", context(&c))];
            if let Some(n) = count {
                leading.push(("@odata.count", Value::from(n)));
            }
            if let Some(token) = skiptoken {
                let sep = if urls.request_without_skiptoken.contains('?') {
                    '&'
                } else {
                    '?'
                };
                let link = format!("{}{sep}$skiptoken={token}", urls.request_without_skiptoken);
                leading.push(("@odata.nextLink", Value::String(link)));
            }
            let mut text = String::with_capacity(
                items.iter().map(|i| i.as_str().len() + 1).sum::<usize>() + 256,
            );
            text.push('{');
            for (key, value) in &leading {
                text.push_str(&Value::String((*key).to_string()).to_string());
                text.push(':');
                text.push_str(&value.to_string());
                text.push(',');
            }
            text.push_str("\"value\":[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(item.as_str());
            }
            text.push_str("]}");
            json_text_response(StatusCode::OK, text)
        }
        Reply::Count(n) => (
            [(header::CONTENT_TYPE, "text/plain;charset=utf-8")],
            n.to_string(),
        )
            .into_response(),
        Reply::Value { context: c, value } => json_response(
            StatusCode::OK,
            &json!({ "@odata.context": context(&c), "value": value }),
        ),
        Reply::NoContent => StatusCode::NO_CONTENT.into_response(),
        Reply::EmptyOk => StatusCode::OK.into_response(),
    }
}

/// A whole JSON document answered 200 (a batch response).
pub fn document(body: Value) -> Response {
    json_response(StatusCode::OK, &body)
}

/// The token service's answer: its JSON or page (if any) and headers. A header value that HTTP
/// does not allow (it never should be) is left out.
pub fn token_service(answer: identity::Answer) -> Response {
    let mut res = match answer.content {
        identity::Content::Json(body) => (
            answer.status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body.to_string(),
        )
            .into_response(),
        identity::Content::Html(page) => (
            answer.status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response(),
        identity::Content::Empty => answer.status.into_response(),
    };
    for (name, value) in answer.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            res.headers_mut().append(name, value);
        }
    }
    res
}

/// The Graph error: its status, its headers and Graph's error document.
pub fn error(ctx: &RequestContext, err: &ApiError) -> Response {
    let status = err.status();
    if status.is_server_error() {
        tracing::error!(request_id = %ctx.request_id, error = %err, "request failed");
    }
    let mut res = json_response(status, &error_body(ctx, err));
    res.headers_mut().extend(err.headers());
    res
}

/// Graph's error document: code, message, and the ids and date of the request.
pub fn error_body(ctx: &RequestContext, err: &ApiError) -> Value {
    json!({
        "error": {
            "code": err.graph_code(),
            "message": err.message(),
            "innerError": {
                "date": DateTimeOffset::now().to_utc_seconds(),
                "request-id": ctx.request_id,
                "client-request-id": ctx.client_request_id,
            }
        }
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    json_text_response(status, body.to_string())
}

fn json_text_response(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    res.headers_mut()
        .insert("odata-version", HeaderValue::from_static("4.0"));
    res
}
