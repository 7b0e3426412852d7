//! Where a resource path's entities live in the store.

use crate::store::Key;
use odata::path::ResourcePath;

/// The store coordinates of what a path addresses, and of everything that contains it.
#[derive(Debug, Clone)]
pub struct Location {
    pub collection: String,
    pub parent: String,
    /// The addressed entity's id; for a collection, `None`.
    pub id: Option<String>,
    /// The containing entities, outermost first; each must exist.
    pub ancestors: Vec<Key>,
}

impl Location {
    pub fn of(tenant: &str, path: &ResourcePath<'_>) -> Self {
        let mut names: Vec<&str> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        let mut ancestors = Vec::new();
        let last = path.steps.len().saturating_sub(1);
        for (i, step) in path.steps.iter().enumerate() {
            names.push(step.name);
            if i < last {
                let id = step.key.clone().unwrap_or_default();
                ancestors.push(Key {
                    tenant: tenant.to_string(),
                    collection: names.join("/"),
                    parent: keys.join("/"),
                    id: id.clone(),
                });
                keys.push(id);
            }
        }
        let id = match path.steps.last() {
            Some(step) if step.collection => step.key.clone(),
            // A single-valued navigation shares its container's id (the tenant's at the root).
            Some(_) => Some(keys.last().cloned().unwrap_or_else(|| tenant.to_string())),
            None => None,
        };
        Self {
            collection: names.join("/"),
            parent: keys.join("/"),
            id,
            ancestors,
        }
    }

    /// Where the members of the collection `navigation` of the addressed entity live (its
    /// collection path and parent) and the entities that must exist for them to.
    pub fn below(&self, tenant: &str, navigation: &str) -> (String, String, Vec<Key>) {
        let mut must_exist = self.ancestors.clone();
        if self.id.is_none() {
            // The root singleton: its navigations start the collection paths.
            return (navigation.to_string(), String::new(), must_exist);
        }
        let entity = self.key(tenant);
        let below = (
            format!("{}/{navigation}", entity.collection),
            entity.child_parent(),
        );
        must_exist.push(entity);
        (below.0, below.1, must_exist)
    }

    pub fn key(&self, tenant: &str) -> Key {
        Key {
            tenant: tenant.to_string(),
            collection: self.collection.clone(),
            parent: self.parent.clone(),
            id: self.id.clone().unwrap_or_default(),
        }
    }
}
