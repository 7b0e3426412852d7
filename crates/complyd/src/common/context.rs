//! The ids a request carries through its life, for headers, error bodies and logs.

use axum::http::{header, HeaderMap};

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub client_request_id: String,
}

impl RequestContext {
    /// A new request id; the client's `client-request-id` when it sent a usable one, else the same.
    pub fn new(headers: &HeaderMap) -> Self {
        let mut id = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let request_id = uuid::Uuid::new_v4()
            .hyphenated()
            .encode_lower(&mut id)
            .to_string();
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 200)
            .map_or_else(|| request_id.clone(), str::to_string);
        Self {
            request_id,
            client_request_id,
        }
    }
}

/// The `Host` the client called, for absolute URLs; `localhost` when it sent none.
pub fn host(headers: &HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
}

/// The value of cookie `name` in a `Cookie` header's value.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::cookie;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = Some("a=1; complyd_signin=tok; complyd_signin_x=no");
        assert_eq!(cookie(header, "complyd_signin"), Some("tok"));
        assert_eq!(cookie(Some("complyd_signinx=1"), "complyd_signin"), None);
        assert_eq!(cookie(None, "complyd_signin"), None);
    }
}
