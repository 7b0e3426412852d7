//! Stored bodies projected to what one version shows: its own property set in model order,
//! `@odata.type` with `#`, defaults for non-nullable properties never set, and explicit nulls.

use crate::edm::{Model, Primitive, StructuredType, TypeRef, ValueType, Version};
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

    fn fill(&self, ty: &StructuredType, body: &Map<String, Value>, out: &mut Map<String, Value>) {
        let declared = self.model.properties(ty, self.version);
        for prop in &declared {
            let stored = body
                .get(&prop.name)
                .or_else(|| prop.from.as_ref().and_then(|from| body.get(from)));
            let value = match (stored, &prop.default) {
                (Some(v), _) | (None, Some(v)) => self.value(&prop.ty, v),
                (None, None) => self.default(&prop.ty),
            };
            out.insert(prop.name.clone(), value);
        }
        if ty.open {
            // What the type does not declare (in any version, nor as a view's source) is a
            // dynamic property, shown as stored.
            let all = self.model.all_properties(ty);
            let dynamic = body.iter().filter(|(key, _)| {
                !key.starts_with('@')
                    && !all.iter().any(|p| {
                        p.name == **key
                            || p.from.as_deref() == Some(key)
                            || p.alias.as_deref() == Some(key)
                    })
            });
            for (key, value) in dynamic {
                out.insert(key.clone(), value.clone());
            }
        }
    }

    fn value(&self, ty: &TypeRef, value: &Value) -> Value {
        match (value, &ty.value) {
            (Value::Array(items), _) if ty.collection => {
                let element = TypeRef {
                    value: ty.value.clone(),
                    collection: false,
                    nullable: false,
                };
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
