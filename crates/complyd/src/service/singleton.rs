//! The root singleton itself (`GET`/`PATCH /deviceManagement`): one per tenant, never created.
//! Until a client PATCHes it, it shows its defaults (`settings` and its members declare them).

use super::audit::{self, AuditOperation};
use super::{canonical, parse_body, put_single, route_error, Call, JsonObject, Reply, Service};
use crate::error::ApiError;
use crate::store::Key;
use odata::query::bind;
use odata::validate::Mode;
use serde_json::{Map, Value};

impl Service {
    /// Where the singleton of `call`'s root is stored: a collection of its own, keyed by the tenant.
    fn root_key(call: &Call) -> Key {
        Key {
            tenant: call.tenant.clone(),
            collection: call.path.root.name.clone(),
            parent: String::new(),
            id: call.tenant.clone(),
        }
    }

    fn root_type(&self, call: &Call) -> Result<&'static odata::edm::StructuredType, ApiError> {
        self.model
            .structured(&call.path.root.type_name)
            .ok_or_else(|| route_error(call))
    }

    pub(super) async fn read_root(&self, call: Call) -> Result<Reply, ApiError> {
        let ty = self.root_type(&call)?;
        let bound = bind::bind(self.model, call.version, ty, &call.query)?;
        let key = Self::root_key(&call);
        let body = match self.store.get(&key).await? {
            Some(row) => parse_body(&row.body)?,
            None => Map::new(),
        };
        let mut entity = self.projection(call.version).entity(ty, &key.id, &body);
        if let Some(names) = &bound.select {
            entity.retain(|k, _| k == "@odata.type" || k == "id" || names.iter().any(|n| n == k));
        }
        Ok(Reply::Entity {
            context: call.path.root.name.clone(),
            body: JsonObject::from_map(&entity),
            created: false,
        })
    }

    /// `GET …/{property}`: one structural property of an entity or of the root singleton (a
    /// complex value as an object with its context, anything else as `value`).
    pub(super) async fn read_property(&self, call: Call) -> Result<Reply, ApiError> {
        let property = call.path.property.ok_or_else(|| route_error(&call))?;
        let entity = match call.path.steps.last() {
            None => {
                let ty = self.root_type(&call)?;
                let body = match self.store.get(&Self::root_key(&call)).await? {
                    Some(row) => parse_body(&row.body)?,
                    None => Map::new(),
                };
                self.projection(call.version)
                    .entity(ty, &call.tenant, &body)
            }
            Some(_) => {
                let key = super::locate::Location::of(&call.tenant, &call.path).key(&call.tenant);
                let row = self
                    .store
                    .get(&key)
                    .await?
                    .ok_or_else(|| super::not_found(&key))?;
                self.project_row(
                    call.version,
                    &row.type_name,
                    &key.id,
                    &parse_body(&row.body)?,
                )?
            }
        };
        let value = entity.get(&property.name).cloned().unwrap_or(Value::Null);
        let context = format!("{}/{}", call.path.context_path(), property.name);
        match value {
            Value::Object(object) if !property.ty.collection => Ok(Reply::Entity {
                context,
                body: JsonObject::from_map(&object),
                created: false,
            }),
            other => Ok(Reply::Value {
                context,
                value: other,
            }),
        }
    }

    /// PATCH: the properties given replace the stored ones; a complex value given is merged into
    /// the stored one member by member (a client may send `settings` with one member).
    pub(super) async fn update_root(&self, mut call: Call) -> Result<Reply, ApiError> {
        let ty = self.root_type(&call)?;
        let body = call.take_body()?;
        let validated = self
            .validator(call.version)
            .entity(ty, &body, Mode::Update)?;
        let changes = validated.properties;
        let key = Self::root_key(&call);
        let (model, audit) = (self.model, self.audit(&call, AuditOperation::Patch));
        let stored = self
            .store
            .write(move |tx| {
                let existing = tx.get(&key)?;
                let before = match &existing {
                    Some(row) => parse_body(&row.body)?,
                    None => canonical(model, ty, &Map::new()),
                };
                let mut body = before.clone();
                for (name, value) in changes {
                    match (body.get_mut(&name), value) {
                        (Some(Value::Object(current)), Value::Object(given)) => {
                            current.extend(given);
                        }
                        (_, value) => {
                            body.insert(name, value);
                        }
                    }
                }
                let body = canonical(model, ty, &body);
                put_single(tx, &key, &ty.name, existing.is_some(), &body)?;
                audit::record(&audit, model, tx, &key.id, Some(&before), Some(&body))?;
                Ok::<_, ApiError>(body)
            })
            .await?;
        let id = call.tenant.clone();
        self.after_update(&call, &ty.name, &id, &stored)
    }
}
