//! The paths of actions and functions: bound to an entity or a collection, or imported at the
//! root. Parameters, request body and result all come from the declaration.

use super::responses::{collection_envelope, entity_envelope, json_content, with_errors, Errors};
use super::schemas::Role;
use super::{At, Builder};
use crate::edm::{
    Operation, OperationKind, Primitive, Property, StructuredType, TypeKind, TypeRef, ValueType,
};
use serde_json::{json, Map, Value};

impl<'m> Builder<'m> {
    /// Every operation bound to `ty` (to one entity, or with `on_collection` to a collection),
    /// below `at`.
    pub(super) fn operation_paths(&mut self, at: &At, ty: &'m StructuredType, on_collection: bool) {
        let model = self.model;
        let ops: Vec<&Operation> = model
            .bound_operations(ty, on_collection, self.version)
            .collect();
        for op in ops {
            self.operation_path(at, op);
        }
    }

    /// `POST {at}/{action}` with its parameters as a JSON body, or `GET {at}/{function}(…)` with
    /// its parameters in the path.
    pub(super) fn operation_path(&mut self, at: &At, op: &Operation) {
        let v = self.version;
        let mut properties = Map::new();
        let mut required = Vec::new();
        for p in &op.parameters {
            properties.insert(p.name.clone(), self.parameter_schema(p));
            if p.required {
                required.push(Value::String(p.name.clone()));
            }
        }
        let success = self.result(op);
        let mut at = at.clone();
        at.names.push(op.name.clone());
        let summary = match &op.summary {
            Some(text) => format!("{} {}: {text}", title(op.kind), op.name),
            None => format!("{} {}", title(op.kind), op.name),
        };
        let mut operation = json!({
            "operationId": at.operation_id(v, "invoke"),
            "tags": [at.tag(v)],
            "summary": summary,
        });
        let (verb, errors) = match op.kind {
            OperationKind::Action => {
                at.path = format!("{}/{}", at.path, op.name);
                operation["parameters"] = Value::Array(at.path_params());
                if !properties.is_empty() {
                    let mut body = json!({ "type": "object", "additionalProperties": false });
                    if !required.is_empty() {
                        body["required"] = Value::Array(required);
                    }
                    body["properties"] = Value::Object(properties);
                    operation["requestBody"] =
                        json!({ "required": true, "content": json_content(body) });
                }
                ("post", Errors::Write)
            }
            OperationKind::Function => {
                let names: Vec<String> = op.parameters.iter().map(|p| p.name.clone()).collect();
                let call: Vec<String> = names.iter().map(|n| format!("{n}={{{n}}}")).collect();
                at.path = format!("{}/{}({})", at.path, op.name, call.join(","));
                let mut parameters = at.path_params();
                parameters.extend(op.parameters.iter().map(function_parameter));
                operation["parameters"] = Value::Array(parameters);
                ("get", Errors::Read)
            }
        };
        operation["responses"] = with_errors(errors, [success]);
        self.paths
            .insert(at.path.clone(), json!({ verb: operation }));
    }

    /// A parameter's schema as the body carries it: required ones are never null (a null is
    /// refused as missing); entity collections take new members, as a create does.
    fn parameter_schema(&mut self, p: &Property) -> Value {
        let mut ty = p.ty.clone();
        ty.nullable = ty.nullable && !p.required;
        self.property_schema(p, &ty, Role::Create)
    }

    /// The success response: 204 without a result, else 200 with it.
    fn result(&mut self, op: &Operation) -> (&'static str, Value) {
        let Some(ty) = &op.returns else {
            return ("204", json!({ "description": "Done; no content." }));
        };
        let mut description = String::from("The result.");
        if op.live_empty_answer {
            description.push_str(" (With `--fidelity intune`: 200 without a body.)");
        }
        let schema = self.result_schema(ty);
        (
            "200",
            json!({ "description": description, "content": json_content(schema) }),
        )
    }

    fn result_schema(&mut self, ty: &TypeRef) -> Value {
        let entity = match &ty.value {
            ValueType::Complex(name) => self
                .model
                .structured(name)
                .filter(|t| t.kind == TypeKind::Entity),
            _ => None,
        };
        if let Some(entity) = entity {
            let read = self.read_schema(entity);
            return if ty.collection {
                collection_envelope(read)
            } else {
                entity_envelope(read)
            };
        }
        let element = TypeRef {
            collection: false,
            ..ty.clone()
        };
        let value =
            self.property_schema(&Property::plain("", element.clone()), &element, Role::Read);
        if ty.collection {
            return collection_envelope(value);
        }
        if matches!(ty.value, ValueType::Complex(_)) {
            // A complex result is the object itself, with its context (as an entity is).
            return entity_envelope(value);
        }
        json!({
            "type": "object",
            "required": ["@odata.context", "value"],
            "properties": { "@odata.context": { "type": "string" }, "value": value },
        })
    }
}

fn title(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::Action => "Action",
        OperationKind::Function => "Function",
    }
}

/// A function parameter, written in its path as an OData literal of its type (a pattern says
/// which: text in single quotes, a whole number, true or false; null when it may be null).
fn function_parameter(p: &Property) -> Value {
    let literal = match (&p.ty.value, p.ty.collection) {
        (ValueType::Primitive(Primitive::String), false) => Some("'([^'/]|'')*'"),
        (ValueType::Primitive(Primitive::Int32 | Primitive::Int64), false) => Some("-?[0-9]+"),
        (ValueType::Primitive(Primitive::Boolean), false) => Some("true|false"),
        _ => None,
    };
    let mut schema = json!({ "type": "string" });
    if let Some(literal) = literal {
        let null = if p.ty.nullable && !p.required {
            "|null"
        } else {
            ""
        };
        schema["pattern"] = Value::String(format!("^({literal}{null})$"));
    }
    json!({
        "name": p.name,
        "in": "path",
        "required": true,
        "description": "An OData literal: 'text' in single quotes, a number, true, false or null.",
        "schema": schema,
    })
}
