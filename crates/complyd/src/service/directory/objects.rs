//! The directory's own entities: list, count, read, create, update and delete through a view,
//! with alternate keys kept unique, secrets taken out, links and rules kept in step.

use super::accounts;
use super::dynamic;
use super::errors::bad_request;
use super::links::Binds;
use super::View;
use crate::error::ApiError;
use crate::service::{
    canonical, parse_body, plan_rows, read, rules, stamp_update, Call, JsonObject, NewRow, Reply,
    Service,
};
use crate::store::{Key, StoreError, WriteTx};
use odata::edm::{Model, StructuredType, Version};
use odata::validate::{Mode, Validator};
use serde_json::{json, Map, Value};

/// The row that makes `prop` unique in `storage`: its value (lower-cased) as the id, pointing
/// at the entity.
pub fn alternate_key(tenant: &str, storage: &str, prop: &str, value: &str) -> Key {
    Key {
        tenant: tenant.to_string(),
        collection: format!("{storage}/_key_{prop}"),
        parent: String::new(),
        id: value.to_lowercase(),
    }
}

/// The entity id an alternate-key row points at.
pub fn pointed_id(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    value.get("id")?.as_str().map(str::to_string)
}

/// Entra's answer to a value an alternate key already has (microsoft-graph-docs#1508).
fn taken(prop: &str) -> ApiError {
    bad_request(format!(
        "Another object with the same value for property {prop} already exists."
    ))
}

/// The alternate keys of `ty` and their values in `body`.
fn alternate_values(
    model: &Model,
    ty: &StructuredType,
    body: &Map<String, Value>,
) -> Vec<(String, String)> {
    model
        .all_properties(ty)
        .into_iter()
        .filter(|p| p.alternate_key)
        .filter_map(|p| Some((p.name.clone(), body.get(&p.name)?.as_str()?.to_string())))
        .collect()
}

/// Inserts the alternate-key rows of a new or renamed entity; Entra's 400 when a value is taken.
pub fn claim_keys(
    tx: &mut dyn WriteTx,
    tenant: &str,
    storage: &str,
    id: &str,
    keys: &[(String, String)],
) -> Result<(), ApiError> {
    for (prop, value) in keys {
        let key = alternate_key(tenant, storage, prop, value);
        if tx.get(&key)?.is_some() {
            return Err(taken(prop));
        }
        match tx.insert(
            &key,
            "complyd.alternateKey",
            &json!({ "id": id }).to_string(),
        ) {
            Err(StoreError::Conflict) => return Err(taken(prop)),
            other => other?,
        }
    }
    Ok(())
}

/// Entra's answer to a create without a required property.
fn required_present(
    model: &Model,
    ty: &StructuredType,
    version: Version,
    body: &Value,
) -> Result<(), ApiError> {
    let Some(object) = body.as_object() else {
        return Ok(());
    };
    for p in model.properties(ty, version) {
        if p.required && object.get(&p.name).is_none_or(Value::is_null) {
            return Err(bad_request(format!(
                "Property {} value is required but is empty or missing.",
                p.name
            )));
        }
    }
    Ok(())
}

impl Service {
    pub(super) async fn list_objects(&self, call: Call) -> Result<Reply, ApiError> {
        let view = View::of(self.model, call.path.root)?;
        let (bound, count) = self.directory_bind(&call, view.ty)?;
        let query = self.view_query(&call.tenant, view, &bound);
        self.directory_page(&call, query, &bound, count).await
    }

    pub(super) async fn count_objects(&self, call: Call) -> Result<Reply, ApiError> {
        self.directory_count_allowed(&call)?;
        let view = View::of(self.model, call.path.root)?;
        let (bound, _) = self.directory_bind(&call, view.ty)?;
        let query = self.view_query(&call.tenant, view, &bound);
        Ok(Reply::Count(self.store.count_matching(query).await?))
    }

    pub(super) async fn read_object(&self, call: Call) -> Result<Reply, ApiError> {
        let (view, row) = self.path_object(&call).await?;
        let (bound, _) = self.directory_bind(&call, view.ty)?;
        let body = self.shape(&row, &bound, call.version, None).await?;
        Ok(Reply::Entity {
            context: read::entity_context(&call.path, &bound),
            body,
            created: false,
        })
    }

    pub(super) async fn create_object(&self, mut call: Call) -> Result<Reply, ApiError> {
        let view = View::of(self.model, call.path.root)?;
        let mut body = call.take_body()?;
        let binds = Binds::take(self, &call, view.ty, &mut body)?;
        if !view.ty.is_abstract {
            required_present(self.model, view.ty, call.version, &body)?;
        }
        let mut validated =
            Validator::new(self.model, call.version).entity(view.ty, &body, Mode::Create)?;
        let secrets = accounts::take_secrets(self.model, validated.ty, &mut validated.properties);
        accounts::require_secret(self.model, validated.ty, &validated.properties, &secrets)?;
        rules::check(self.model, validated.ty, &validated.properties)?;
        let owned_rules = dynamic::owned_rules(self.model, validated.ty, &validated.properties)?;
        let mut rows: Vec<NewRow> = Vec::new();
        plan_rows(
            self.model,
            &call.tenant,
            view.storage,
            "",
            &validated,
            &mut rows,
        );
        let row = rows
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::Internal("nothing planned".into()))?;
        let ty = validated.ty;
        let keys = alternate_values(self.model, ty, &row.body);
        let (model, tenant, storage) = (self.model, call.tenant.clone(), view.storage);
        let (id, type_name) = (row.key.id.clone(), row.type_name.clone());
        let sign_in = accounts::new_sign_in(&tenant, &id, &keys, &secrets);
        let (recompute, id_in_tx) = (owned_rules.clone(), id.clone());
        let written = self
            .store
            .write(move |tx| {
                let mut row = row;
                crate::service::restamp_for_clock(
                    tx,
                    model,
                    &tenant,
                    std::slice::from_mut(&mut row),
                )?;
                tx.insert_ready(&row.key, &row.type_name, &row.text)?;
                claim_keys(tx, &tenant, storage, &id_in_tx, &keys)?;
                if let Some(user) = &sign_in {
                    accounts::put(tx, user, &keys)?;
                }
                binds.apply(tx, model, &tenant, &id_in_tx)?;
                dynamic::write_owned(tx, &tenant, &id_in_tx, &owned_rules)?;
                dynamic::refresh_member(tx, model, &tenant, storage, &id_in_tx, ty, &row.body)?;
                Ok::<_, ApiError>(row.body)
            })
            .await?;
        self.recompute_owned(&call.tenant, &id, &recompute).await?;
        let mut shown = self.project_row(call.version, &type_name, &id, &written)?;
        if call.version == Version::V1 {
            shown = self.v1_default_set(&type_name, shown);
        }
        Ok(Reply::Entity {
            context: format!("{}/$entity", call.path.context_path()),
            body: JsonObject::from_map(&shown),
            created: true,
        })
    }

    /// PATCH answers 204, as Graph's directory does.
    pub(super) async fn update_object(&self, mut call: Call) -> Result<Reply, ApiError> {
        let (view, row) = self.path_object(&call).await?;
        let ty = self
            .model
            .structured(&row.type_name)
            .ok_or_else(|| ApiError::Internal(format!("no type {}", row.type_name)))?;
        let mut body = call.take_body()?;
        let binds = Binds::take(self, &call, ty, &mut body)?;
        let mut validated =
            Validator::new(self.model, call.version).entity(ty, &body, Mode::Update)?;
        let secrets = accounts::take_secrets(self.model, ty, &mut validated.properties);
        rules::check(self.model, ty, &validated.properties)?;
        let changes = validated.properties;
        let (model, tenant, storage, id) = (
            self.model,
            call.tenant.clone(),
            view.storage,
            row.key.id.clone(),
        );
        let key = row.key.clone();
        let owned = self
            .store
            .write(move |tx| {
                let row = tx.get(&key)?.ok_or_else(|| super::not_found(&key.id))?;
                let before = parse_body(&row.body)?;
                let mut after = before.clone();
                after.extend(changes);
                stamp_update(
                    model,
                    ty,
                    &mut after,
                    &crate::service::time::now_text(tx, &tenant)?,
                );
                let after = canonical(model, ty, &after);
                let owned = dynamic::owned_rules(model, ty, &after)?;
                rekey(tx, model, ty, &tenant, storage, &id, &before, &after)?;
                accounts::update(tx, model, ty, &id, &after, &secrets)?;
                tx.update(&key, &Value::Object(after.clone()).to_string())?;
                binds.apply(tx, model, &tenant, &id)?;
                let changed = dynamic::owned_rules(model, ty, &before)? != owned;
                if changed {
                    dynamic::write_owned(tx, &tenant, &id, &owned)?;
                }
                dynamic::refresh_member(tx, model, &tenant, storage, &id, ty, &after)?;
                Ok::<_, ApiError>(changed.then_some(owned))
            })
            .await?;
        if let Some(owned) = owned {
            self.recompute_owned(&call.tenant, &row.key.id, &owned)
                .await?;
        }
        Ok(Reply::NoContent)
    }

    pub(super) async fn delete_object(&self, call: Call) -> Result<Reply, ApiError> {
        let (view, row) = self.path_object(&call).await?;
        let model = self.model;
        let (tenant, storage) = (call.tenant.clone(), view.storage);
        let ty = model
            .structured(&row.type_name)
            .ok_or_else(|| ApiError::Internal(format!("no type {}", row.type_name)))?;
        self.store
            .write(move |tx| {
                let id = row.key.id.clone();
                let Some(current) = tx.get(&row.key)? else {
                    return Err(super::not_found(&id));
                };
                let body = parse_body(&current.body)?;
                for (prop, value) in alternate_values(model, ty, &body) {
                    tx.delete_tree(&alternate_key(&tenant, storage, &prop, &value))?;
                }
                // Its own links (as an owner) go with it; those to it, from every link set.
                tx.delete_tree(&row.key)?;
                for collection in model.link_collections() {
                    tx.delete_everywhere(&tenant, &collection, &id)?;
                }
                dynamic::write_owned(tx, &tenant, &id, &dynamic::released(model, ty))?;
                accounts::remove(tx, &id)?;
                Ok::<_, ApiError>(())
            })
            .await?;
        Ok(Reply::NoContent)
    }
}

/// Moves the alternate-key rows of an entity whose keys changed.
#[allow(clippy::too_many_arguments)]
fn rekey(
    tx: &mut dyn WriteTx,
    model: &Model,
    ty: &StructuredType,
    tenant: &str,
    storage: &str,
    id: &str,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<(), ApiError> {
    let old = alternate_values(model, ty, before);
    let new = alternate_values(model, ty, after);
    let moved: Vec<(String, String)> = new
        .iter()
        .filter(|(p, v)| !old.iter().any(|(q, w)| p == q && v.eq_ignore_ascii_case(w)))
        .cloned()
        .collect();
    for (prop, value) in &old {
        if moved.iter().any(|(p, _)| p == prop) || !new.iter().any(|(p, _)| p == prop) {
            tx.delete_tree(&alternate_key(tenant, storage, prop, value))?;
        }
    }
    claim_keys(tx, tenant, storage, id, &moved)
}
