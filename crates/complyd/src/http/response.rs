//! Replies and errors to HTTP responses: the OData envelope and the Graph error body.

use crate::common::RequestContext;
use crate::error::ApiError;
use crate::identity;
use crate::service::json::{into_text, push_json};
use crate::service::{JsonObject, Reply};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
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
    let mut res = json_text_response(status, error_text(ctx, err));
    res.headers_mut().extend(err.headers());
    res
}

/// `error_body` as text, written directly: refused requests are answered at the rate they come.
pub fn error_text(ctx: &RequestContext, err: &ApiError) -> String {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"error\":{\"code\":");
    push_json(&mut out, err.graph_code());
    out.extend_from_slice(b",\"message\":");
    push_json(&mut out, &err.message());
    out.extend_from_slice(b",\"innerError\":{\"date\":");
    push_json(&mut out, &this_second());
    out.extend_from_slice(b",\"request-id\":");
    push_json(&mut out, &ctx.request_id);
    out.extend_from_slice(b",\"client-request-id\":");
    push_json(&mut out, &ctx.client_request_id);
    out.extend_from_slice(b"}}}");
    into_text(out)
}

/// The current UTC second as `innerError.date` shows it, formatted once per second per thread.
fn this_second() -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let now = DateTimeOffset::now();
    let second = now.to_unix_seconds();
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != second {
            *last = (second, now.to_utc_seconds());
        }
        last.1.clone()
    })
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
    const ODATA_VERSION: HeaderName = HeaderName::from_static("odata-version");
    res.headers_mut()
        .insert(ODATA_VERSION, HeaderValue::from_static("4.0"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_text_is_the_error_body() {
        let ctx = RequestContext {
            request_id: "r-1".into(),
            client_request_id: "c \"quoted\" \u{e9}\\".into(),
        };
        let err = ApiError::Internal("a \"message\"\nwith\ttabs \u{1f600}".into());
        let text: Value = serde_json::from_str(&error_text(&ctx, &err)).unwrap_or_default();
        let mut body = error_body(&ctx, &err);
        // The two may straddle a second.
        body["error"]["innerError"]["date"] = text["error"]["innerError"]["date"].clone();
        assert_eq!(text, body);
        let date = text["error"]["innerError"]["date"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(date.len(), "2026-01-01T00:00:00".len(), "{date}");
        assert!(
            DateTimeOffset::parse(&format!("{date}Z")).is_some(),
            "{date}"
        );
    }
}
