//! Overviews and summaries derived from the statuses they count, until a client PATCHes them.
//! Which single-valued navigation counts what is model data (`derived from …` under the
//! navigation, see the model's FORMAT.md); the counting is this one routine.

use super::locate::Location;
use crate::error::ApiError;
use crate::store::{GroupsOf, Key};
use odata::edm::{DerivedSource, Navigation};
use odata::path::ResourcePath;
use odata::{Model, Version};
use serde_json::{Map, Value};

/// What the single-valued navigation `nav` at `key` counts, if the model derives it.
pub fn counted(model: &Model, nav: &Navigation, key: &Key) -> Result<Option<GroupsOf>, ApiError> {
    let Some(d) = &nav.derived else {
        return Ok(None);
    };
    let (collection, parent) = match &d.source {
        DerivedSource::Sibling(name) => {
            let source = match key.collection.rsplit_once('/') {
                Some((container, _)) => format!("{container}/{name}"),
                None => name.clone(),
            };
            (source, Some(key.parent.clone()))
        }
        DerivedSource::Tenant(path) => {
            let path = ResourcePath::parse(model, Version::Beta, path)
                .map_err(|e| ApiError::Internal(format!("derived from /{path}: {}", e.message)))?;
            // The collection's parent too (its root's is empty), so that the count reads the
            // property's index rather than every row of the tenant.
            let location = Location::of(&key.tenant, &path);
            (location.collection, Some(location.parent))
        }
    };
    Ok(Some(GroupsOf {
        tenant: key.tenant.clone(),
        collection,
        parent,
        property: d.status_property.clone(),
    }))
}

/// The derived body of `nav` from the `groups` it counts (see [`counted`]). `container` is the
/// stored text of the entity that holds it (none at the root); only the copied members are read.
pub fn derive(
    nav: &Navigation,
    groups: &[(String, u64)],
    container: Option<&str>,
) -> Result<Map<String, Value>, ApiError> {
    let mut body = Map::new();
    let Some(d) = &nav.derived else {
        return Ok(body);
    };
    for counter in &d.counters {
        let n: u64 = groups
            .iter()
            .filter(|(s, _)| counter.values.contains(s))
            .map(|(_, n)| n)
            .sum();
        body.insert(counter.property.clone(), Value::from(n));
    }
    if let (Some(text), false) = (container, d.copies.is_empty()) {
        let names: Vec<&str> = d.copies.iter().map(|(_, from)| from.as_str()).collect();
        let container = super::json::pick_fields(text, &names)
            .map_err(|e| ApiError::Internal(format!("a stored body is not a JSON object: {e}")))?;
        for (to, from) in &d.copies {
            if let Some(v) = container.get(from) {
                body.insert(to.clone(), v.clone());
            }
        }
    }
    Ok(body)
}
