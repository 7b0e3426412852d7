//! Entities as serialized JSON objects, so that a stored body already in its wire shape can be
//! answered without being parsed and printed again.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct JsonObject(String);

impl JsonObject {
    pub fn from_map(map: &Map<String, Value>) -> Self {
        // Serializing a map of JSON values cannot fail.
        Self(serde_json::to_string(map).unwrap_or_else(|_| "{}".into()))
    }

    /// Any JSON value, for a member of a collection of primitives (`Collection(Edm.String)`).
    pub fn of_value(value: &Value) -> Self {
        Self(value.to_string())
    }

    /// `leading` members first, then the members of the object text `rest`.
    pub fn with_leading(leading: &[(&str, &Value)], rest: &str) -> Self {
        let mut out = Vec::with_capacity(rest.len() + 64 * leading.len() + 2);
        out.push(b'{');
        for (i, (key, value)) in leading.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json(&mut out, key);
            out.push(b':');
            push_json(&mut out, value);
        }
        push_members(&mut out, rest, !leading.is_empty());
        out.push(b'}');
        Self(into_text(out))
    }

    /// A stored body with its `@odata.type` (`#` and `type_name`) and `id` first.
    pub fn typed(type_name: &str, id: &str, rest: &str) -> Self {
        let mut out = Vec::with_capacity(rest.len() + type_name.len() + id.len() + 32);
        out.extend_from_slice(b"{\"@odata.type\":");
        // Model names need no escaping; anything else is written as JSON would.
        if type_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
        {
            out.extend_from_slice(b"\"#");
            out.extend_from_slice(type_name.as_bytes());
            out.push(b'"');
        } else {
            push_json(&mut out, &format!("#{type_name}"));
        }
        out.extend_from_slice(b",\"id\":");
        push_json(&mut out, id);
        push_members(&mut out, rest, true);
        out.push(b'}');
        Self(into_text(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The object as a value (for the rare caller that must look inside).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

/// The members of the object text `object` at the end of `out`, after a comma if `after_others`.
fn push_members(out: &mut Vec<u8>, object: &str, after_others: bool) {
    let inner = object
        .trim()
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or("")
        .trim();
    if !inner.is_empty() {
        if after_others {
            out.push(b',');
        }
        out.extend_from_slice(inner.as_bytes());
    }
}

/// `value` as JSON at the end of `out` (writing into memory cannot fail).
pub(crate) fn push_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(out, value);
}

/// Text written with `push_json` and ASCII punctuation: UTF-8 throughout.
pub(crate) fn into_text(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The top-level members `names` of the stored JSON object `text`, without building the others
/// (a container's few copied fields, not its whole body).
pub(crate) fn pick_fields(text: &str, names: &[&str]) -> Result<Map<String, Value>, String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Pick<'n>(&'n [&'n str]);
    impl<'de> Visitor<'de> for Pick<'_> {
        type Value = Map<String, Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Self::Value, A::Error> {
            let mut picked = Map::new();
            while let Some(name) = members.next_key::<std::borrow::Cow<'de, str>>()? {
                if self.0.contains(&name.as_ref()) {
                    let value: Value = members.next_value()?;
                    picked.insert(name.into_owned(), value);
                } else {
                    members.next_value::<IgnoredAny>()?;
                }
            }
            Ok(picked)
        }
    }
    let mut reader = serde_json::Deserializer::from_str(text);
    let picked = reader
        .deserialize_map(Pick(names))
        .map_err(|e| e.to_string())?;
    reader.end().map_err(|e| e.to_string())?;
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leading_members_come_first_and_empty_objects_stay_valid() {
        let ctx = json!("ctx");
        let joined = JsonObject::with_leading(&[("@odata.context", &ctx)], r#"{"a":1,"b":[2]}"#);
        assert_eq!(
            joined.to_value(),
            json!({"@odata.context": "ctx", "a": 1, "b": [2]})
        );
        assert!(joined
            .as_str()
            .starts_with(r#"{"@odata.context":"ctx","a""#));
        assert_eq!(
            JsonObject::with_leading(&[("k", &ctx)], "{}").to_value(),
            json!({"k": "ctx"})
        );
        assert_eq!(
            JsonObject::typed("microsoft.graph.x_1", "i\"d", r#"{"a":1}"#).as_str(),
            r##"{"@odata.type":"#microsoft.graph.x_1","id":"i\"d","a":1}"##
        );
        assert_eq!(
            JsonObject::typed("we\"ird", "i", "{}").to_value(),
            json!({"@odata.type": "#we\"ird", "id": "i"})
        );
        assert_eq!(
            JsonObject::with_leading(&[], r#"{"a":1}"#).to_value(),
            json!({"a": 1})
        );
        let odd = json!({"x": ["q\"uote\u{e9}", null, 1.5]});
        assert_eq!(
            JsonObject::with_leading(&[("we\"ird\n", &odd)], r#"{"a":1}"#).to_value(),
            json!({"we\"ird\n": {"x": ["q\"uote\u{e9}", null, 1.5]}, "a": 1})
        );
    }

    #[test]
    fn picks_the_named_members_only() {
        let text = r#"{"a":1,"b":{"deep":[1,2]},"c\"d":"x","version":7,"e":null}"#;
        let picked = pick_fields(text, &["version", "c\"d", "missing"]);
        assert_eq!(
            picked,
            Ok(serde_json::json!({"c\"d": "x", "version": 7})
                .as_object()
                .cloned()
                .unwrap_or_default())
        );
        assert!(pick_fields("[1]", &["a"]).is_err());
        assert!(pick_fields(r#"{"a":1} x"#, &["a"]).is_err());
    }
}
