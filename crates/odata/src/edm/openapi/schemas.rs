//! Schemas: each structured type in the role it plays (read, create, update), polymorphic
//! `oneOf`s, and the primitive types.

use super::Builder;
use crate::edm::{Primitive, Property, StructuredType, TypeKind, TypeRef, ValueType};
use serde_json::{json, Map, Value};

/// What the server accepts as an `Edm.DateTimeOffset` (`value::DateTimeOffset::parse`), as a
/// regular expression: `YYYY-MM-DDTHH:MM:SS(.f{1,7})?(Z|±HH:MM)`, offsets up to ±14:00. The 29th
/// of February is left out (the server takes it in leap years only).
pub const DATE_TIME_OFFSET_PATTERN: &str = concat!(
    "^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-",
    "((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))",
    "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,7})?",
    "(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)$"
);
pub(super) const GUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
pub(super) const BASE64_PATTERN: &str =
    "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";

pub(super) fn nullable(mut schema: Value, is_nullable: bool) -> Value {
    if !is_nullable {
        return schema;
    }
    if schema.get("$ref").is_some() {
        return json!({ "allOf": [schema], "nullable": true });
    }
    if let Some(object) = schema.as_object_mut() {
        object.insert("nullable".into(), Value::Bool(true));
        // An enum lists every allowed value: null too, or a validator refuses it.
        if let Some(Value::Array(members)) = object.get_mut("enum") {
            members.push(Value::Null);
        }
    }
    schema
}

pub(super) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// The role a schema plays, which decides what it lists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Read,
    Create,
    Update,
}

impl Role {
    pub(super) fn suffix(self) -> &'static str {
        match self {
            Self::Read => "",
            Self::Create => ".create",
            Self::Update => ".update",
        }
    }
}

impl<'m> Builder<'m> {
    /// The schema of what reading an entity of `declared` returns (polymorphic when it has
    /// derived types).
    pub(super) fn read_schema(&mut self, declared: &StructuredType) -> Value {
        self.schema_for(declared, Role::Read)
    }

    pub(super) fn write_schema(&mut self, declared: &StructuredType, role: Role) -> Value {
        self.schema_for(declared, role)
    }

    /// `declared` in `role`: its own schema, or a `oneOf` over its concrete types.
    pub(super) fn schema_for(&mut self, declared: &StructuredType, role: Role) -> Value {
        let model = self.model;
        let concrete = model.concrete_types(&declared.name, self.version);
        let hidden = if role == Role::Read {
            self.hidden_bases(declared)
        } else {
            Vec::new()
        };
        let own = concrete.len() == 1 && concrete[0].name == declared.name && hidden.is_empty();
        if own {
            return self.define(declared, role);
        }
        let name = format!("{}.{}{}.any", self.v(), declared.name, role.suffix());
        if !self.schemas.contains_key(&name) {
            self.schemas.insert(name.clone(), json!({}));
            let mut branches = Vec::new();
            let mut mapping = Map::new();
            for ty in &concrete {
                let branch = self.define(ty, role);
                if let Some(reference) = branch.get("$ref").cloned() {
                    mapping.insert(format!("#{}", ty.name), reference);
                }
                branches.push(json!({ "allOf": [branch, { "required": ["@odata.type"] }] }));
            }
            for base in &hidden {
                let branch = self.define(base, role);
                branches
                    .push(json!({ "allOf": [branch, { "not": { "required": ["@odata.type"] } }] }));
            }
            let mut schema = json!({
                "description": format!("{} or a type derived from it, named by `@odata.type`.", declared.name),
                "oneOf": branches,
            });
            if hidden.is_empty() {
                schema["discriminator"] =
                    json!({ "propertyName": "@odata.type", "mapping": mapping });
            }
            self.schemas.insert(name.clone(), schema);
        }
        schema_ref(&name)
    }

    /// The visible bases of concrete types derived from `declared` that this version lacks: a
    /// read shows such an entity as that base, without `@odata.type`.
    pub(super) fn hidden_bases(&self, declared: &StructuredType) -> Vec<&'m StructuredType> {
        let model = self.model;
        let mut out: Vec<&StructuredType> = model
            .types
            .values()
            .filter(|t| {
                !t.is_abstract
                    && t.kind == TypeKind::Entity
                    && model.is_derived_from(t, &declared.name)
                    && !model.exists_in(t, self.version)
            })
            .map(|t| model.visible_type(t, self.version))
            .filter(|t| model.exists_in(t, self.version))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| a.name == b.name);
        out
    }

    /// The schema of exactly `ty` in `role`, defined once under its name.
    pub(super) fn define(&mut self, ty: &StructuredType, role: Role) -> Value {
        let name = format!("{}.{}{}", self.v(), ty.name, role.suffix());
        if self.schemas.contains_key(&name) {
            return schema_ref(&name);
        }
        // Reserve the name first: the schema may refer to itself through navigations.
        self.schemas.insert(name.clone(), json!({}));
        let model = self.model;
        let mut properties = Map::new();
        let mut required = Vec::new();
        properties.insert(
            "@odata.type".into(),
            json!({ "type": "string", "enum": [format!("#{}", ty.name)] }),
        );
        if ty.kind == TypeKind::Entity && role == Role::Read {
            properties.insert("id".into(), json!({ "type": "string" }));
            required.push(Value::String("id".into()));
        }
        for p in model.properties(ty, self.version) {
            if p.server_managed && role != Role::Read {
                continue;
            }
            // A create must give a required property, and give it a value: null is refused.
            let must_give = p.required && role == Role::Create;
            let ty = TypeRef {
                nullable: p.ty.nullable && !must_give,
                ..p.ty.clone()
            };
            let mut schema = self.property_schema(p, &ty, role);
            if p.server_managed {
                schema = with_field(schema, "readOnly", Value::Bool(true));
            }
            properties.insert(p.name.clone(), schema);
            if p.required && role == Role::Create {
                required.push(Value::String(p.name.clone()));
            }
        }
        if ty.kind == TypeKind::Entity && role != Role::Update {
            self.navigation_properties(ty, role, &mut properties);
        }
        let mut schema = json!({
            "type": "object",
            "title": ty.name,
            "properties": properties,
        });
        if ty.is_abstract {
            schema["description"] = Value::String(format!(
                "{} (abstract: name a derived type in `@odata.type`).",
                ty.name
            ));
        }
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        if role != Role::Read {
            schema["additionalProperties"] = Value::Bool(false);
        }
        self.schemas.insert(name.clone(), schema);
        schema_ref(&name)
    }

    /// `ty`'s navigations as properties of its schema: each read may expand them, a create may
    /// deep-insert the collections.
    fn navigation_properties(
        &mut self,
        ty: &StructuredType,
        role: Role,
        properties: &mut Map<String, Value>,
    ) {
        let model = self.model;
        for nav in model.navigations(ty, self.version) {
            if role == Role::Create && !nav.collection {
                continue;
            }
            let Some(target) = model
                .structured(&nav.target)
                .filter(|t| model.exists_in(t, self.version))
            else {
                continue;
            };
            let target_schema = self.schema_for(target, role);
            let schema = if nav.collection {
                let mut array = json!({ "type": "array", "items": target_schema });
                if role == Role::Create {
                    array["maxItems"] = Value::from(nav.item_limit());
                }
                array
            } else {
                target_schema
            };
            let description = if role == Role::Read {
                "Present when expanded with `$expand`."
            } else {
                "Created with the entity (deep insert)."
            };
            properties.insert(
                nav.name.clone(),
                with_field(schema, "description", Value::String(description.into())),
            );
        }
    }

    pub(super) fn property_schema(&mut self, p: &Property, ty: &TypeRef, role: Role) -> Value {
        if ty.collection {
            let element = TypeRef {
                value: ty.value.clone(),
                collection: false,
                nullable: false,
            };
            let mut schema =
                json!({ "type": "array", "items": self.property_schema(p, &element, role) });
            // What a write accepts; a read shows what is stored (the engine's rows too).
            match (role, p.max_items) {
                (Role::Read, Some(max)) => schema["maxItems"] = Value::from(max),
                (Role::Read, None) => {}
                (Role::Create | Role::Update, _) => {
                    schema["maxItems"] = Value::from(p.item_limit())
                }
            }
            return nullable(schema, ty.nullable);
        }
        let schema = match &ty.value {
            ValueType::Primitive(primitive) => primitive_schema(*primitive, p.range),
            ValueType::Enum(name) => {
                // A write takes this version's members only. A read shows what is stored, and
                // one store serves both versions: a v1.0 read may show a member written
                // through beta, so reads list every member.
                let members: Vec<Value> = self
                    .model
                    .enum_type(name)
                    .map(|e| {
                        e.members
                            .iter()
                            .filter(|m| {
                                role == Role::Read || m.availability.in_version(self.version)
                            })
                            .map(|m| Value::String(m.name.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({ "type": "string", "enum": members, "description": name })
            }
            ValueType::Complex(name) => match self.model.structured(name) {
                Some(complex) => {
                    let role = if role == Role::Update {
                        Role::Create
                    } else {
                        role
                    };
                    self.schema_for(complex, role)
                }
                None => json!({ "type": "object" }),
            },
        };
        nullable(schema, ty.nullable)
    }
}

/// Adds a keyword to a schema; a bare `$ref` is wrapped so that the keyword is not ignored.
pub(super) fn with_field(schema: Value, key: &str, value: Value) -> Value {
    let mut schema = if schema.get("$ref").is_some() {
        json!({ "allOf": [schema] })
    } else {
        schema
    };
    schema[key] = value;
    schema
}

pub(super) fn primitive_schema(p: Primitive, range: Option<(i64, i64)>) -> Value {
    match p {
        Primitive::String => json!({ "type": "string" }),
        Primitive::Boolean => json!({ "type": "boolean" }),
        Primitive::Int32 => {
            let (lo, hi) = range.unwrap_or((i32::MIN.into(), i32::MAX.into()));
            let mut schema =
                json!({ "type": "integer", "format": "int32", "minimum": lo, "maximum": hi });
            if range.is_some() {
                schema["description"] = Value::String(format!("Documented range: {lo} to {hi}."));
            }
            schema
        }
        Primitive::Int64 => {
            let mut schema = json!({ "type": "integer", "format": "int64" });
            if let Some((lo, hi)) = range {
                schema["minimum"] = Value::from(lo);
                schema["maximum"] = Value::from(hi);
            }
            schema
        }
        Primitive::DateTimeOffset => json!({
            "type": "string",
            "pattern": DATE_TIME_OFFSET_PATTERN,
            "description": "Edm.DateTimeOffset: YYYY-MM-DDTHH:MM:SS, up to 7 fraction digits, then Z or ±HH:MM.",
            "example": "2024-05-01T12:30:00Z",
        }),
        Primitive::Double => json!({
            "anyOf": [
                { "type": "number", "format": "double" },
                { "type": "string", "enum": ["NaN", "INF", "-INF"] },
            ]
        }),
        Primitive::Guid => json!({ "type": "string", "format": "uuid", "pattern": GUID_PATTERN }),
        Primitive::Binary => {
            json!({ "type": "string", "format": "byte", "pattern": BASE64_PATTERN })
        }
        Primitive::TimeOfDay => json!({
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,7})?)?$",
            "example": "08:30:00",
        }),
    }
}

pub(super) fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "Graph's error body.",
        "required": ["error"],
        "properties": { "error": {
            "type": "object",
            "required": ["code", "message", "innerError"],
            "properties": {
                "code": { "type": "string" },
                "message": { "type": "string" },
                "innerError": {
                    "type": "object",
                    "required": ["date", "request-id", "client-request-id"],
                    "properties": {
                        "date": { "type": "string" },
                        "request-id": { "type": "string" },
                        "client-request-id": { "type": "string" },
                    },
                },
            },
        }},
    })
}
