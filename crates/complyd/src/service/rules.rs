//! Properties that hold a rule (`rule membership`, `rule assignment-filter`): checked when they
//! are written, and bound once per text (a cache shared by every request).

use crate::error::ApiError;
use odata::edm::{Model, StructuredType};
use odata::rule::{self, BoundRule};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Bound rules kept; past this the cache starts over (a rule binds in microseconds).
const CACHED_RULES: usize = 4096;

type Cache = Mutex<HashMap<(String, String, String), Arc<BoundRule>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// Every rule property of `ty` that `properties` sets, checked: 400 naming what is wrong and
/// where.
pub fn check(
    model: &'static Model,
    ty: &'static StructuredType,
    properties: &Map<String, Value>,
) -> Result<(), ApiError> {
    for p in model
        .all_properties(ty)
        .into_iter()
        .filter(|p| p.rule.is_some())
    {
        if let Some(text) = properties.get(&p.name).and_then(Value::as_str) {
            bound(model, ty, &p.name, text)?;
        }
    }
    Ok(())
}

/// The rule `text` of `owner`'s property, bound to its vocabulary (cached by text).
pub fn bound(
    model: &'static Model,
    owner: &'static StructuredType,
    property: &str,
    text: &str,
) -> Result<Arc<BoundRule>, ApiError> {
    let key = (owner.name.clone(), property.to_string(), text.to_string());
    if let Some(found) = cache().lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(found);
    }
    let prop = model
        .all_properties(owner)
        .into_iter()
        .find(|p| p.name == property)
        .ok_or_else(|| ApiError::Internal(format!("{} has no {property}", owner.name)))?;
    let vocabulary = model
        .rule_vocabulary(owner, prop)
        .ok_or_else(|| ApiError::Internal(format!("{}.{property} has no rule", owner.name)))?;
    let bound = rule::check(text, &vocabulary)
        .map(Arc::new)
        .map_err(|e| ApiError::bad_request(format!("{}: {e}", vocabulary.errors_begin)))?;
    if let Ok(mut cache) = cache().lock() {
        if cache.len() >= CACHED_RULES {
            cache.clear();
        }
        cache.insert(key, bound.clone());
    }
    Ok(bound)
}
