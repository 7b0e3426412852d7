//! `$skiptoken`: an opaque, signed cursor. It carries the last row's sort-key values and `seq`,
//! and is bound to the query that produced it, so a tampered or foreign token is refused.

use crate::error::ApiError;
use crate::store::{Cursor, Query, SortValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use odata::query::bind::Operand;
use serde_json::{json, Value};
use sha2::Sha256;
use std::fmt::{self, Display, Write};

type Signer = Hmac<Sha256>;

/// Writes formatted text straight into the MAC, so a fingerprint is never built as a string.
struct MacWriter<'a>(&'a mut Signer);

impl Write for MacWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

/// What a skiptoken is bound to: the query's scope, filter and order, as
/// `tenant|collection|parent|[related|]filter|order`. Printed only when a token is signed or
/// checked: printing the filter for every list was 5% of a filtered page's CPU.
pub fn fingerprint<'a>(
    tenant: &'a str,
    query: &Query,
    orderby: &'a [(Operand, bool)],
) -> impl Display + 'a {
    let (collection, parent) = (query.collection.clone(), query.parent.clone());
    let (related, filter) = (query.related.clone(), query.filter.clone());
    fmt::from_fn(move |f| {
        write!(f, "{tenant}|{collection}|{parent}|")?;
        if let Some(related) = &related {
            write!(f, "{related:?}|")?;
        }
        write!(f, "{filter:?}|{orderby:?}")
    })
}

pub struct TokenKey(Vec<u8>);

impl TokenKey {
    /// Derived from the server secret, so every instance sharing the secret reads the same tokens.
    pub fn derive(secret: &[u8]) -> Self {
        let mut key = b"complyd skiptoken v1:".to_vec();
        key.extend_from_slice(secret);
        Self(key)
    }

    /// `fingerprint` names the query the token belongs to; it is formatted only when a token is
    /// read or written.
    fn sign(&self, fingerprint: &dyn Display, payload: &str) -> Vec<u8> {
        // HMAC accepts keys of any length; the fallback is unreachable.
        let Ok(mut mac) = Signer::new_from_slice(&self.0) else {
            return Vec::new();
        };
        // Writing into a MAC cannot fail.
        let _ = write!(MacWriter(&mut mac), "{fingerprint}");
        mac.update(b"\n");
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes()[..16].to_vec()
    }

    pub fn encode(&self, fingerprint: &dyn Display, cursor: &Cursor) -> String {
        let values: Vec<Value> = cursor.values.iter().map(value_json).collect();
        let payload = URL_SAFE_NO_PAD.encode(json!({ "v": values, "s": cursor.seq }).to_string());
        let signature = URL_SAFE_NO_PAD.encode(self.sign(fingerprint, &payload));
        format!("{payload}.{signature}")
    }

    pub fn decode(&self, fingerprint: &dyn Display, token: &str) -> Result<Cursor, ApiError> {
        let invalid = || ApiError::bad_request("The $skiptoken is not valid for this request.");
        let (payload, signature) = token.split_once('.').ok_or_else(invalid)?;
        let expected = self.sign(fingerprint, payload);
        let given = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid())?;
        if given.len() != expected.len()
            || given
                .iter()
                .zip(&expected)
                .fold(0, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        let seq = body["s"].as_i64().ok_or_else(invalid)?;
        let values = body["v"]
            .as_array()
            .ok_or_else(invalid)?
            .iter()
            .map(json_value)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(invalid)?;
        Ok(Cursor { values, seq })
    }
}

/// A sort value in the token: `null`, or `[kind, value]` with kind `b`, `i`, `r` or `t`.
fn value_json(v: &SortValue) -> Value {
    match v {
        SortValue::Null => Value::Null,
        SortValue::Bool(b) => json!(["b", b]),
        SortValue::Int(n) => json!(["i", n]),
        SortValue::Real(r) => json!(["r", r]),
        SortValue::Text(t) => json!(["t", t]),
    }
}

fn json_value(v: &Value) -> Option<SortValue> {
    if v.is_null() {
        return Some(SortValue::Null);
    }
    match (v.get(0)?.as_str()?, v.get(1)?) {
        ("b", b) => b.as_bool().map(SortValue::Bool),
        ("i", n) => n.as_i64().map(SortValue::Int),
        ("r", r) => r.as_f64().map(SortValue::Real),
        ("t", t) => t.as_str().map(|t| SortValue::Text(t.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_name_the_scope_and_the_related_walk() {
        let mut query = Query::all("t", "c", "p");
        assert_eq!(fingerprint("t", &query, &[]).to_string(), "t|c|p|None|[]");
        query.related = Some(crate::store::Related {
            links: "members".into(),
            anchor: "g1".into(),
            inverse: false,
            transitive: true,
        });
        let related = fingerprint("t", &query, &[]).to_string();
        assert!(related.starts_with("t|c|p|Related {"), "{related}");
        assert!(
            related.contains("g1") && related.ends_with("|None|[]"),
            "{related}"
        );
    }

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let key = TokenKey::derive(b"secret");
        let cursor = Cursor {
            values: vec![
                SortValue::Text("a".into()),
                SortValue::Null,
                SortValue::Int(3),
            ],
            seq: 42,
        };
        let token = key.encode(&"q1", &cursor);
        assert_eq!(key.decode(&"q1", &token).ok(), Some(cursor));
        assert!(key.decode(&"q2", &token).is_err(), "foreign query");
        let mut tampered = token.clone();
        tampered.replace_range(0..1, if token.starts_with('e') { "f" } else { "e" });
        assert!(key.decode(&"q1", &tampered).is_err());
        assert!(TokenKey::derive(b"other").decode(&"q1", &token).is_err());
    }
}
