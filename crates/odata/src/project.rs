//! Stored bodies projected to what one version shows: its own property set in model order,
//! `@odata.type` with `#`, defaults for non-nullable properties never set, and explicit nulls.

use crate::edm::{Model, Primitive, Property, StructuredType, TypeRef, ValueType, Version};
use crate::value::DateTimeOffset;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy)]
pub struct Projection<'m> {
    pub model: &'m Model,
    pub version: Version,
    /// Emit DateTimeOffset values as UTC `Z` (the live service) instead of as the client wrote them.
    pub utc_timestamps: bool,
}

impl<'m> Projection<'m> {
    /// One entity as the client sees it. A type that `version` lacks is shown as its nearest
    /// visible base, without `@odata.type`, as the live v1.0 service does.
    pub fn entity(
        &self,
        ty: &'m StructuredType,
        id: &str,
        body: &Map<String, Value>,
    ) -> Map<String, Value> {
        let visible = self.model.visible_type(ty, self.version);
        let mut out = Map::new();
        if std::ptr::eq(visible, ty) {
            out.insert("@odata.type".into(), Value::String(format!("#{}", ty.name)));
        }
        out.insert("id".into(), Value::String(id.to_string()));
        self.fill(visible, body, &mut out);
        out
    }

    /// The properties alone, in this version's order with defaults filled (no `@odata.type`, no `id`).
    pub fn properties(
        &self,
        ty: &'m StructuredType,
        body: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        self.fill(self.model.visible_type(ty, self.version), body, &mut out);
        out
    }

    /// `properties` as JSON text, written as it is projected rather than built as a map first
    /// (the same text `Value::Object(self.properties(ty, body)).to_string()` gives).
    pub fn properties_text(&self, ty: &'m StructuredType, body: &Map<String, Value>) -> String {
        let mut out = Vec::with_capacity(512);
        out.push(b'{');
        self.write_fill(
            self.model.visible_type(ty, self.version),
            body,
            &mut out,
            true,
        );
        out.push(b'}');
        // serde_json writes UTF-8, and everything else written is ASCII.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// What `fill` inserts, written as members of an object already open in `out`.
    fn write_fill(
        &self,
        ty: &StructuredType,
        body: &Map<String, Value>,
        out: &mut Vec<u8>,
        first: bool,
    ) {
        let mut first = first;
        let mut member = |out: &mut Vec<u8>, name: &str| {
            if !first {
                out.push(b',');
            }
            first = false;
            write_str(out, name);
            out.push(b':');
        };
        for prop in &self.model.properties(ty, self.version) {
            member(out, &prop.name);
            match (stored(prop, body), &prop.default) {
                (Some(v), _) | (None, Some(v)) => self.write_value(&prop.ty, v, out),
                (None, None) => write_json(out, &self.default(&prop.ty)),
            }
        }
        if ty.open {
            let all = self.model.all_properties(ty);
            for (key, value) in body.iter().filter(|(key, _)| is_dynamic(&all, key)) {
                member(out, key);
                write_json(out, value);
            }
        }
    }

    /// What `value` returns, written.
    fn write_value(&self, ty: &TypeRef, value: &Value, out: &mut Vec<u8>) {
        match (value, &ty.value) {
            (Value::Array(items), _) if ty.collection => {
                let element = element_of(ty);
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    self.write_value(&element, item, out);
                }
                out.push(b']');
            }
            (Value::Object(object), ValueType::Complex(declared)) => {
                let named = object.get("@odata.type").and_then(Value::as_str);
                let ty = named
                    .and_then(|n| self.model.resolve_type_name(n))
                    .or_else(|| self.model.structured(declared));
                let Some(ty) = ty else {
                    return write_json(out, value);
                };
                let visible = self.model.visible_type(ty, self.version);
                out.extend_from_slice(b"{\"@odata.type\":");
                write_str(out, &format!("#{}", visible.name));
                self.write_fill(visible, object, out, false);
                out.push(b'}');
            }
            (Value::String(_), ValueType::Primitive(Primitive::DateTimeOffset))
                if self.utc_timestamps =>
            {
                write_json(out, &self.value(ty, value));
            }
            _ => write_json(out, value),
        }
    }

    fn fill(&self, ty: &StructuredType, body: &Map<String, Value>, out: &mut Map<String, Value>) {
        let declared = self.model.properties(ty, self.version);
        for prop in &declared {
            let value = match (stored(prop, body), &prop.default) {
                (Some(v), _) | (None, Some(v)) => self.value(&prop.ty, v),
                (None, None) => self.default(&prop.ty),
            };
            out.insert(prop.name.clone(), value);
        }
        if ty.open {
            // What the type does not declare (in any version, nor as a view's source) is a
            // dynamic property, shown as stored.
            let all = self.model.all_properties(ty);
            for (key, value) in body.iter().filter(|(key, _)| is_dynamic(&all, key)) {
                out.insert(key.clone(), value.clone());
            }
        }
    }

    fn value(&self, ty: &TypeRef, value: &Value) -> Value {
        match (value, &ty.value) {
            (Value::Array(items), _) if ty.collection => {
                let element = element_of(ty);
                Value::Array(items.iter().map(|i| self.value(&element, i)).collect())
            }
            (Value::Object(object), ValueType::Complex(declared)) => self.complex(declared, object),
            (Value::String(text), ValueType::Primitive(Primitive::DateTimeOffset))
                if self.utc_timestamps =>
            {
                DateTimeOffset::parse(text)
                    .map_or_else(|| value.clone(), |t| Value::String(t.to_utc_string()))
            }
            _ => value.clone(),
        }
    }

    fn complex(&self, declared: &str, object: &Map<String, Value>) -> Value {
        let named = object.get("@odata.type").and_then(Value::as_str);
        let ty = named
            .and_then(|n| self.model.resolve_type_name(n))
            .or_else(|| self.model.structured(declared));
        let Some(ty) = ty else {
            return Value::Object(object.clone());
        };
        let visible = self.model.visible_type(ty, self.version);
        let mut out = Map::new();
        out.insert(
            "@odata.type".into(),
            Value::String(format!("#{}", visible.name)),
        );
        self.fill(visible, object, &mut out);
        Value::Object(out)
    }

    /// What a property never written shows: null if nullable, else its type's zero value.
    pub fn default(&self, ty: &TypeRef) -> Value {
        if ty.nullable {
            return Value::Null;
        }
        if ty.collection {
            return Value::Array(Vec::new());
        }
        match &ty.value {
            ValueType::Primitive(p) => match p {
                Primitive::Boolean => Value::Bool(false),
                Primitive::Int32 | Primitive::Int64 => Value::from(0),
                Primitive::Double => Value::from(0.0),
                Primitive::DateTimeOffset => Value::String("0001-01-01T00:00:00Z".into()),
                Primitive::Guid => Value::String("00000000-0000-0000-0000-000000000000".into()),
                Primitive::TimeOfDay => Value::String("00:00:00".into()),
                Primitive::String | Primitive::Binary => Value::String(String::new()),
            },
            ValueType::Enum(name) => self
                .model
                .enum_type(name)
                .and_then(|e| {
                    e.members
                        .iter()
                        .find(|m| m.availability.in_version(self.version))
                })
                .map_or(Value::Null, |m| Value::String(m.name.clone())),
            ValueType::Complex(_) => Value::Null,
        }
    }
}

/// What the body holds for `prop`: under its name, else under the name it is viewed from.
fn stored<'b>(prop: &Property, body: &'b Map<String, Value>) -> Option<&'b Value> {
    body.get(&prop.name)
        .or_else(|| prop.from.as_ref().and_then(|from| body.get(from)))
}

/// Whether `key` is a dynamic property: not an annotation, and declared by none of `all` (the
/// type's properties in every version), neither as a name, a view's source nor an alias.
fn is_dynamic(all: &[&Property], key: &str) -> bool {
    !key.starts_with('@')
        && !all.iter().any(|p| {
            p.name == key || p.from.as_deref() == Some(key) || p.alias.as_deref() == Some(key)
        })
}

/// A collection's element type.
fn element_of(ty: &TypeRef) -> TypeRef {
    TypeRef {
        value: ty.value.clone(),
        collection: false,
        nullable: false,
    }
}

/// `value` as JSON text at the end of `out` (serializing into memory cannot fail).
fn write_json(out: &mut Vec<u8>, value: &Value) {
    let _ = serde_json::to_writer(out, value);
}

/// `text` as a JSON string at the end of `out`.
fn write_str(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(out, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A value of `ty` for every property, nested complex values filled the same way (to
    /// `depth`), collections of two.
    fn sample(model: &Model, ty: &TypeRef, depth: usize) -> Value {
        let one = match &ty.value {
            ValueType::Primitive(Primitive::Boolean) => json!(true),
            ValueType::Primitive(Primitive::Int32 | Primitive::Int64) => json!(-42),
            ValueType::Primitive(Primitive::Double) => json!(2.5),
            ValueType::Primitive(Primitive::DateTimeOffset) => json!("2026-03-01T10:00:00+02:00"),
            ValueType::Primitive(_) => json!("a \"quoted\" \u{e9}t\u{e9}\n"),
            ValueType::Enum(name) => model
                .enum_type(name)
                .and_then(|e| e.members.last())
                .map_or(Value::Null, |m| json!(m.name)),
            ValueType::Complex(name) => match model.structured(name) {
                Some(complex) if depth > 0 => Value::Object(body(model, complex, depth - 1)),
                _ => json!({"loose": [1, {"x": null}]}),
            },
        };
        if ty.collection {
            json!([one.clone(), one])
        } else {
            one
        }
    }

    fn body(model: &Model, ty: &StructuredType, depth: usize) -> Map<String, Value> {
        let mut body: Map<String, Value> = model
            .all_properties(ty)
            .iter()
            .map(|p| (p.name.clone(), sample(model, &p.ty, depth)))
            .collect();
        body.insert("dynamicExtra".into(), json!({"k": [true, 1.5]}));
        body.insert("@odata.etag".into(), json!("W/\"1\""));
        body
    }

    #[test]
    fn the_text_writer_writes_what_the_projection_serializes_for_every_type() {
        let loaded = Model::intune();
        assert!(loaded.is_ok(), "{:?}", loaded.err());
        let Ok(model) = loaded else { return };
        let mut checked = 0;
        for ty in model.types() {
            let full = body(model, ty, 2);
            // Stored in another order, partly: defaults fill what is missing.
            let mut reversed: Map<String, Value> = full
                .iter()
                .rev()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            reversed.retain(|k, _| k.len() % 3 != 0);
            for stored in [Map::new(), full, reversed] {
                for version in [Version::V1, Version::Beta] {
                    for utc_timestamps in [false, true] {
                        let p = Projection {
                            model,
                            version,
                            utc_timestamps,
                        };
                        let expected = Value::Object(p.properties(ty, &stored)).to_string();
                        assert_eq!(p.properties_text(ty, &stored), expected, "{}", ty.name);
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000, "only {checked} projections compared");
    }
}
