//! The console's calls to complyd's APIs (Graph, complyd's own, the token service): real HTTP
//! requests handed to the server's own API service in process, with the signed-in user's bearer
//! token, so that every permission and limit applies as to any client.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;

/// The largest answer the console reads (a page of 100 devices is far less).
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// A refused call: the status and Graph's (or OAuth's) error code and message.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl Failure {
    fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalError".into(),
            message: message.into(),
        }
    }

    /// Read from an error body: Graph's `{"error": {"code", "message"}}` or OAuth's
    /// `{"error", "error_description"}`.
    fn from_body(status: StatusCode, body: &Value) -> Self {
        let (code, message) = match &body["error"] {
            Value::Object(e) => (
                e.get("code").and_then(Value::as_str).unwrap_or(""),
                e.get("message").and_then(Value::as_str).unwrap_or(""),
            ),
            Value::String(code) => (
                code.as_str(),
                body["error_description"].as_str().unwrap_or(""),
            ),
            _ => ("", ""),
        };
        Self {
            status,
            code: code.to_string(),
            message: if message.is_empty() {
                format!("The server answered {status}.")
            } else {
                message.to_string()
            },
        }
    }
}

/// Where and how the console calls.
#[derive(Clone)]
pub struct Api {
    app: crate::http::App,
}

impl Api {
    pub fn new(app: crate::http::App) -> Self {
        Self { app }
    }

    /// Hands a browser's request to the server (the token service's sign-in page and form)
    /// and its answer back as it is.
    pub async fn forward(&self, request: Request<Body>) -> axum::response::Response {
        self.app.clone().answer(request).await
    }

    /// Sends one request; answers the status and the JSON body (`Null` when empty).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        host: &str,
        token: Option<&str>,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<(StatusCode, Value), Failure> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, host);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some((content_type, bytes)) => request
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(bytes)),
            None => request.body(Body::empty()),
        }
        .map_err(|e| Failure::internal(format!("a request could not be built: {e}")))?;
        let response = self.app.clone().answer(request).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER)
            .await
            .map_err(|e| Failure::internal(format!("the API's answer could not be read: {e}")))?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if status.is_success() || status.is_redirection() {
            Ok((status, value))
        } else {
            Err(Failure::from_body(status, &value))
        }
    }
}

/// Everything but unreserved characters, percent-encoded: an id put into an API path.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `text` as one path segment (an id from the console's own URL cannot add a query or a
/// segment to the API call it goes into).
pub fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

/// The path-and-query `/v1.0/…?…` or `/complyd/v1/…` with `params` encoded.
pub fn path_with(path: &str, params: &[(&str, String)]) -> String {
    if params.is_empty() {
        return path.to_string();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
        // Graph takes `$` and `,` as they are; keep the URLs readable.
        .replace("%24", "$")
        .replace("%2C", ",");
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}{query}")
}

/// The `$skiptoken` of an answer's `@odata.nextLink`, if it has one.
pub fn next_skiptoken(answer: &Value) -> Option<String> {
    let link = answer["@odata.nextLink"].as_str()?;
    let query = link.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "$skiptoken")
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_strings_are_encoded_but_keep_dollars() {
        assert_eq!(
            path_with(
                "/v1.0/x",
                &[("$filter", "a eq 'b c'".into()), ("$top", "5".into())]
            ),
            "/v1.0/x?$filter=a+eq+%27b+c%27&$top=5"
        );
        assert_eq!(path_with("/v1.0/x", &[]), "/v1.0/x");
    }

    #[test]
    fn ids_stay_one_path_segment() {
        assert_eq!(segment("a1-b_2.c~"), "a1-b_2.c~");
        assert_eq!(segment("x?$top=1/y#z"), "x%3F%24top%3D1%2Fy%23z");
    }

    #[test]
    fn the_next_pages_token_comes_from_the_next_link() {
        let answer = json!({"@odata.nextLink": "http://h/v1.0/x?$top=5&$skiptoken=abc%3D"});
        assert_eq!(next_skiptoken(&answer).as_deref(), Some("abc="));
        assert_eq!(next_skiptoken(&json!({})), None);
    }

    #[test]
    fn failures_read_graph_and_oauth_errors() {
        let graph = Failure::from_body(
            StatusCode::FORBIDDEN,
            &json!({"error": {"code": "Forbidden", "message": "No."}}),
        );
        assert_eq!(
            (graph.code.as_str(), graph.message.as_str()),
            ("Forbidden", "No.")
        );
        let oauth = Failure::from_body(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_grant", "error_description": "AADSTS70008: expired"}),
        );
        assert_eq!(oauth.code, "invalid_grant");
        assert!(oauth.message.starts_with("AADSTS70008"));
    }
}
