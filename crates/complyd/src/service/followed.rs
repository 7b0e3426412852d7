//! Properties shown from another entity (`follows /PATH NAME` in the model): read each time a
//! row of their type is shown, so that a change of the entity they follow rewrites no row.

use super::locate::Location;
use super::{parse_body, Service};
use crate::error::ApiError;
use crate::store::Key;
use odata::path::ResourcePath;
use odata::{Model, Version};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One `follows` property of a stored type: its name, and where its value is read.
#[derive(Debug, Clone)]
pub(super) struct Followed {
    name: String,
    /// The store collection of the followed members (a root's collection: no parent key).
    collection: String,
    property: String,
}

/// The `follows` properties of every stored type that has any, by qualified type name.
#[derive(Debug, Default)]
pub(super) struct FollowedProperties(HashMap<String, Vec<Followed>>);

impl FollowedProperties {
    pub(super) fn of_model(model: &Model) -> Result<Self, String> {
        let mut by_type = HashMap::new();
        for ty in model.types() {
            let mut followed = Vec::new();
            for p in model.all_properties(ty) {
                let Some(follows) = &p.follows else { continue };
                let path = ResourcePath::parse(model, Version::Beta, &follows.path)
                    .map_err(|e| format!("follows /{}: {}", follows.path, e.message))?;
                followed.push(Followed {
                    name: p.name.clone(),
                    collection: Location::of("", &path).collection,
                    property: follows.property.clone(),
                });
            }
            if !followed.is_empty() {
                by_type.insert(ty.name.clone(), followed);
            }
        }
        Ok(Self(by_type))
    }

    /// The `follows` properties of `type_name` (none for most types).
    pub(super) fn of(&self, type_name: &str) -> &[Followed] {
        self.0.get(type_name).map_or(&[], Vec::as_slice)
    }
}

impl Service {
    /// `body` (of the row `key`) with each of `followed` read from the member it follows; a
    /// property whose member is gone keeps its stored value.
    pub(super) async fn read_followed(
        &self,
        key: &Key,
        followed: &[Followed],
        body: &mut Map<String, Value>,
    ) -> Result<(), ApiError> {
        let mut members: HashMap<&str, Option<Map<String, Value>>> = HashMap::new();
        for f in followed {
            if !members.contains_key(f.collection.as_str()) {
                let member_key = Key::new(&key.tenant, &f.collection, "", &key.id);
                let member = match self.store.get(&member_key).await? {
                    Some(row) => Some(parse_body(&row.body)?),
                    None => None,
                };
                members.insert(&f.collection, member);
            }
            let value = members
                .get(f.collection.as_str())
                .and_then(Option::as_ref)
                .and_then(|member| member.get(&f.property));
            if let Some(value) = value {
                body.insert(f.name.clone(), value.clone());
            }
        }
        Ok(())
    }
}
