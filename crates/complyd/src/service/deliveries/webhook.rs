//! A webhook's POST: the body, its signature, and how the receiver's answer is read.
//!
//! The request: `POST <url>`, `Content-Type: application/json`, body
//! `{"id": <delivery id>, "tenant": <tenant>, "createdDateTime": <when it was queued>, "event": <the
//! event>}` (the same bytes at every attempt), and the headers `X-Complyd-Delivery: <id>`,
//! `X-Complyd-Attempt: <n>`, `X-Complyd-Timestamp: <unix seconds of this attempt>` and, when the
//! webhook has a secret, `X-Complyd-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>"
//! keyed with the secret>`. A receiver recomputes the HMAC over the raw body it received,
//! compares in constant time, refuses timestamps far from its clock (replays), and dedupes on
//! the delivery id (delivery is at least once).

use super::Outcome;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// How long one attempt may take, connection and answer included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a refusal's body the delivery's `lastError` quotes.
const QUOTED: usize = 200;

/// The client every attempt uses: a timeout, no redirects followed, no proxy from the
/// environment (a receiver on this host is reached directly).
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("complyd/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The request body of a delivery.
pub fn body(id: &str, tenant: &str, created: &str, event: &Value) -> Vec<u8> {
    json!({ "id": id, "tenant": tenant, "createdDateTime": created, "event": event })
        .to_string()
        .into_bytes()
}

/// `sha256=<hex>`: the HMAC-SHA256 of `<timestamp>.<body>` keyed with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes a key of any length.
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// One attempt: 2xx is delivered; no answer, a timeout, 408, 429 and 5xx are retried; anything
/// else (another 4xx, a redirect) fails at once.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    id: &str,
    attempt: u32,
    body: Vec<u8>,
) -> Outcome {
    let timestamp = crate::common::now_unix();
    let mut request = http
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Complyd-Delivery", id)
        .header("X-Complyd-Attempt", attempt.to_string())
        .header("X-Complyd-Timestamp", timestamp.to_string());
    if let Some(secret) = secret {
        request = request.header("X-Complyd-Signature", signature(secret, timestamp, &body));
    }
    let mut response = match request.body(body).send().await {
        Ok(response) => response,
        Err(e) if e.is_builder() => return Outcome::Fail(format!("The request was not made: {e}")),
        Err(e) if e.is_timeout() => {
            return Outcome::Retry(format!("No answer within {} s.", TIMEOUT.as_secs()))
        }
        Err(e) => return Outcome::Retry(format!("The receiver was not reached: {e}")),
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered(None);
    }
    let mut quoted = Vec::new();
    while quoted.len() < QUOTED {
        match response.chunk().await {
            Ok(Some(chunk)) => quoted.extend_from_slice(&chunk),
            _ => break,
        }
    }
    quoted.truncate(QUOTED);
    let text: String = String::from_utf8_lossy(&quoted)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut why = format!("The receiver answered {status}");
    if !text.trim().is_empty() {
        why.push_str(&format!(": {}", text.trim()));
    }
    let code = status.as_u16();
    if status.is_server_error() || code == 408 || code == 429 {
        Outcome::Retry(why)
    } else {
        if status.is_redirection() {
            why.push_str(" (redirects are not followed)");
        }
        Outcome::Fail(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // Computed apart: printf '1700000000.{"id":"d1"}' | openssl dgst -sha256 -hmac 0123456789abcdef
        assert_eq!(
            signature("0123456789abcdef", 1_700_000_000, br#"{"id":"d1"}"#),
            "sha256=e1435e8f96a5da4c808bf1445173d35c3fc95fd4a1398bf0550008039ea1a419"
        );
        assert_ne!(
            signature("0123456789abcdef", 1_700_000_001, br#"{"id":"d1"}"#),
            signature("0123456789abcdef", 1_700_000_000, br#"{"id":"d1"}"#)
        );
    }
}
