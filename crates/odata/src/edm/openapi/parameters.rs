//! Parameters: the query options of reads, path keys, and `$select` / `$expand` / `$orderby`
//! lists derived from a type.

use super::Builder;
use crate::edm::{Property, StructuredType, ValueType};
use serde_json::{json, Value};

pub(super) fn query_parameters() -> Value {
    let string = |name: &str, description: &str| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": "string" } });
    json!({
        "filter": string("$filter", "A filter expression over the properties of the collection's type, e.g. `displayName eq 'x'`."),
        "skiptoken": string("$skiptoken", "The opaque token of `@odata.nextLink`; bound to the query that produced it."),
        "top": { "name": "$top", "in": "query", "required": false, "description": "The page size, 0 to 999.", "schema": { "type": "integer", "minimum": 0, "maximum": 999 } },
        "skip": { "name": "$skip", "in": "query", "required": false, "description": "How many members to skip.", "schema": { "type": "integer", "minimum": 0 } },
        "count": { "name": "$count", "in": "query", "required": false, "description": "Adds `@odata.count`, the number of members matching the filter.", "schema": { "type": "boolean" } },
    })
}

pub(super) fn param_refs(names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| json!({ "$ref": format!("#/components/parameters/{n}") }))
        .collect()
}

/// A path parameter that names one entity of a collection.
pub(super) fn key_parameter(name: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "required": true,
        "description": "The key of the entity (also accepted as `('{key}')` after the collection's name).",
        "schema": { "type": "string", "minLength": 1 },
    })
}

impl Builder<'_> {
    /// `$select`, `$expand` and (for collections) `$orderby` over `ty`: comma-separated lists
    /// whose items are the names the server binds (properties of the type and of its derived
    /// types, `id`, navigations), as in the OASIS CSDL-to-OpenAPI mapping.
    pub(super) fn shape_parameters(&self, ty: &StructuredType, collection: bool) -> Vec<Value> {
        let lineage_props = self.bindable_properties(ty);
        let navigations = self.visible_navigations(ty);
        let mut select = vec!["*".to_string(), "id".to_string()];
        select.extend(lineage_props.iter().map(|p| p.name.clone()));
        select.extend(navigations.iter().cloned());
        let mut expand = vec!["*".to_string()];
        expand.extend(navigations);
        let mut out = vec![list_parameter(
            "$select",
            "Properties to return (`id` and `@odata.type` always are).",
            select,
        )];
        if expand.len() > 1 {
            out.push(list_parameter(
                "$expand",
                "Navigations to include; nested options may follow in parentheses, e.g. `assignments($select=id)`, at most 4 deep.",
                expand,
            ));
        }
        if collection {
            let mut keys = vec!["id".to_string(), "id desc".to_string()];
            for p in lineage_props
                .iter()
                .filter(|p| !p.ty.collection && !matches!(p.ty.value, ValueType::Complex(_)))
            {
                keys.push(p.name.clone());
                keys.push(format!("{} desc", p.name));
            }
            out.push(list_parameter(
                "$orderby",
                "Sort keys, each a property optionally followed by `asc` or `desc`.",
                keys,
            ));
        }
        out
    }

    /// The properties of `ty` and of its concrete derived types, each name once.
    fn bindable_properties<'a>(&'a self, ty: &'a StructuredType) -> Vec<&'a Property> {
        let model = self.model;
        let v = self.version;
        let mut found: Vec<&Property> = Vec::new();
        for t in std::iter::once(ty).chain(
            model
                .concrete_types(&ty.name, v)
                .into_iter()
                .filter(|t| t.name != ty.name),
        ) {
            for p in model.properties(t, v) {
                if !found.iter().any(|q| q.name == p.name) {
                    found.push(p);
                }
            }
        }
        found
    }

    /// The names of `ty`'s navigations whose target this version has.
    fn visible_navigations(&self, ty: &StructuredType) -> Vec<String> {
        let model = self.model;
        let v = self.version;
        model
            .navigations(ty, v)
            .iter()
            .filter(|n| {
                model
                    .structured(&n.target)
                    .is_some_and(|t| model.exists_in(t, v))
            })
            .map(|n| n.name.clone())
            .collect()
    }
}

/// A query option that takes a comma-separated list of `items`. Repeated items are accepted, as
/// on Graph, so no `uniqueItems`; each list has its limit.
fn list_parameter(name: &str, description: &str, items: Vec<String>) -> Value {
    let max_items = match name {
        "$select" => crate::query::MAX_SELECT_ITEMS,
        "$expand" => crate::query::MAX_EXPAND_ITEMS,
        _ => crate::query::MAX_ORDERBY_KEYS,
    };
    json!({
        "name": name,
        "in": "query",
        "required": false,
        "description": description,
        "style": "form",
        "explode": false,
        "schema": {
            "type": "array",
            "minItems": 1,
            "maxItems": max_items,
            "items": { "type": "string", "enum": items },
        },
    })
}
