//! Properties that must name an existing entity (`refers-to /PATH`): found in a body before the
//! write, checked inside it, so that a reference and what it names are consistent.

use super::locate::Location;
use crate::error::ApiError;
use crate::store::{Key, WriteTx};
use odata::edm::{Model, StructuredType, Version};
use odata::path::ResourcePath;
use odata::validate::Validated;
use serde_json::{Map, Value};

/// How deep complex values are searched (the model's complex types nest far less).
const MAX_DEPTH: usize = 16;

/// The zero GUID: what Graph writes for "no reference".
const NONE: &str = "00000000-0000-0000-0000-000000000000";

/// One reference to check: the entity it names, and the error if it is missing.
pub struct Reference {
    key: Key,
    path: String,
    value: String,
    target: String,
}

/// The references in a validated entity and its deep-inserted children.
pub fn of_entity(model: &'static Model, tenant: &str, v: &Validated<'_>) -> Vec<Reference> {
    let mut out = Vec::new();
    of_properties(model, tenant, v.ty, &v.properties, "", 0, &mut out);
    for (_, children) in &v.children {
        for child in children {
            out.extend(of_entity(model, tenant, child));
        }
    }
    out
}

/// The references among `properties` of `ty` (a body, or the changes of an update).
pub fn of_properties(
    model: &'static Model,
    tenant: &str,
    ty: &StructuredType,
    properties: &Map<String, Value>,
    at: &str,
    depth: usize,
    out: &mut Vec<Reference>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for (name, value) in properties {
        let Some(prop) = model.property(ty, name, Version::Beta) else {
            continue;
        };
        let path = if at.is_empty() {
            name.clone()
        } else {
            format!("{at}.{name}")
        };
        if let (Some(target), Some(text)) = (&prop.refers_to, value.as_str()) {
            if !text.is_empty() && text != NONE {
                if let Some(key) = key_in(model, tenant, target, text) {
                    out.push(Reference {
                        key,
                        path: path.clone(),
                        value: text.to_string(),
                        target: target.clone(),
                    });
                }
            }
        }
        let members: Vec<&Map<String, Value>> = match value {
            Value::Object(object) => vec![object],
            Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
            _ => Vec::new(),
        };
        for member in members {
            let named = member.get("@odata.type").and_then(Value::as_str);
            let inner = named.and_then(|n| model.resolve_type_name(n));
            if let Some(inner) = inner {
                of_properties(model, tenant, inner, member, &path, depth + 1, out);
            }
        }
    }
}

/// The store key of entity `id` in the collection at `path`.
fn key_in(model: &'static Model, tenant: &str, path: &str, id: &str) -> Option<Key> {
    let collection = ResourcePath::parse(model, Version::Beta, path).ok()?;
    let location = Location::of(tenant, &collection);
    Some(Key {
        tenant: tenant.to_string(),
        collection: location.collection,
        parent: location.parent,
        id: id.to_string(),
    })
}

/// Every reference names an entity that exists (inside the write).
pub fn require(tx: &mut dyn WriteTx, references: &[Reference]) -> Result<(), ApiError> {
    for r in references {
        if !tx.exists(&r.key)? {
            return Err(ApiError::bad_request(format!(
                "The value '{}' of '{}' names no entity of /{}.",
                r.value, r.path, r.target
            )));
        }
    }
    Ok(())
}
