//! The semantics of each operation on the model: create, read, update, delete, actions and
//! functions (through the handlers the model names) and derived overviews, for any entity type.
//! Nothing here knows HTTP or SQL.

mod audit;
mod deliveries;
mod directory;
mod engine;
mod fidelity;
mod followed;
mod handlers;
mod integrity;
mod invoke;
pub(crate) mod json;
mod locate;
mod outbox;
mod paging;
mod read;
mod retire;
mod rules;
mod rules_document;
mod schedule_view;
mod singleton;
mod summaries;
mod tenant;
#[cfg(test)]
mod tests;
pub mod time;
mod verdicts;

pub use audit::Caller;
pub use deliveries::{
    enqueue_event, valid_address as valid_mail_address, DeliverySettings, Kind as DeliveryKind,
    SmtpRelay, DELIVERIES_PAGE_LIMIT, DELIVERY_BATCH, DELIVERY_PARTITION, POLL as DELIVERY_POLL,
};
pub use engine::{
    imported as imported_engine_row, mark as mark_for_reevaluation, Demo, FleetSpec, FleetSummary,
    MARKS_TENANT as ENGINE_PARTITION, MAX_FLEET, MAX_FLEET_HTTP,
};
pub use fidelity::Fidelity;
pub use json::JsonObject;
pub use outbox::{append as append_to_outbox, OUTBOX, OUTBOX_FILTERS, OUTBOX_PAGE_LIMIT};
pub use paging::TokenKey;
pub use retire::{schedule as schedule_retirement, RETIRE_SCHEDULE};
pub use schedule_view::SCHEDULE_PAGE_LIMIT;

use crate::error::ApiError;
use crate::store::{Key, ReadyBody, Store, StoreError, WriteTx};
use audit::{AuditDraft, AuditOperation};
use futures_util::future::BoxFuture;
use integrity::References;
use locate::Location;
use odata::edm::{Navigation, Stamp, StructuredType};
use odata::path::{Addressed, ResourcePath};
use odata::project::Projection;
use odata::query::QueryOptions;
use odata::validate::{Mode, Validated, Validator};
use odata::value::DateTimeOffset;
use odata::{Model, Version};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Get,
    Post,
    Patch,
    Delete,
    Other,
}

impl Operation {
    pub fn is_write(self) -> bool {
        self != Self::Get
    }
}

/// One request, as the service sees it.
pub struct Call {
    pub tenant: String,
    pub version: Version,
    pub path: ResourcePath<'static>,
    pub operation: Operation,
    pub body: Option<Value>,
    pub query: QueryOptions,
    /// Who asked (for the audit log and the outbox).
    pub caller: Caller,
    /// The client sent `ConsistencyLevel: eventual` (the directory's advanced queries).
    pub eventual: bool,
}

impl Call {
    /// The entity type the path's last step addresses.
    fn target(&self) -> Result<&'static odata::edm::StructuredType, ApiError> {
        self.path
            .steps
            .last()
            .map(|s| s.target)
            .ok_or_else(|| route_error(self))
    }

    /// The navigation (or root entity set) the path's last step walks.
    fn navigation(&self) -> Result<&'static Navigation, ApiError> {
        self.path
            .steps
            .last()
            .map(|s| s.navigation)
            .ok_or_else(|| route_error(self))
    }

    /// The request body, which this operation needs.
    fn take_body(&mut self) -> Result<Value, ApiError> {
        self.body
            .take()
            .ok_or_else(|| ApiError::bad_request("A request body is required."))
    }
}

#[derive(Debug)]
pub enum Reply {
    /// One entity; `created` answers 201. `context` is the part after `$metadata#`.
    Entity {
        context: String,
        body: JsonObject,
        created: bool,
    },
    Collection {
        context: String,
        items: Vec<JsonObject>,
        count: Option<u64>,
        skiptoken: Option<String>,
    },
    Count(u64),
    /// A primitive result or a collection of them (`{"@odata.context", "value"}`).
    Value {
        context: String,
        value: Value,
    },
    NoContent,
    /// 200 with no body at all (the live `assign`).
    EmptyOk,
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub fidelity: Fidelity,
    pub page_size: usize,
}

pub struct Service {
    model: &'static Model,
    store: Arc<dyn Store>,
    settings: Settings,
    token_key: TokenKey,
    /// (tenant, collection) pairs whose built-in members this process has made sure of.
    builtins_done: Mutex<HashSet<(String, String)>>,
    /// The compliance engine (its rules checked against the model at start).
    engine: Arc<engine::Engine>,
    /// Webhook posts and mails: how they go out (`deliveries`).
    deliveries: deliveries::Deliveries,
    /// What audit events are written from.
    audit_shape: Arc<audit::EventShape>,
    /// The properties shown from another entity, per type (`followed`).
    followed: followed::FollowedProperties,
}

/// How many (tenant, collection) pairs `builtins_done` remembers before starting afresh.
const BUILTINS_REMEMBERED: usize = 10_000;

/// A new row, planned before the write transaction runs.
pub(crate) struct NewRow {
    key: Key,
    type_name: String,
    body: Map<String, Value>,
    /// `body` as stored, printed (and readied by the store) before the write so that the writer
    /// thread only stores it.
    text: ReadyBody,
    /// `body` changed since it was readied (inside the write).
    reprinted: bool,
}

impl NewRow {
    /// Prints `body` anew after a change to it.
    fn reprint(&mut self) {
        // Printing a map of JSON values cannot fail.
        self.text = ReadyBody::plain(serde_json::to_string(&self.body).unwrap_or_default());
        self.reprinted = true;
    }

    /// Has the store derive what it keeps beside the text now, off the writer.
    fn ready(&mut self, store: &dyn Store) {
        let text = std::mem::take(&mut self.text).into_text();
        self.text = store.ready(&self.key.collection, text);
        self.reprinted = false;
    }
}

impl Service {
    /// The service over `model`, once every handler and live rule the model names has code.
    pub fn new(
        model: &'static Model,
        store: Arc<dyn Store>,
        settings: Settings,
        token_key: TokenKey,
    ) -> Result<Self, String> {
        handlers::check(model)?;
        fidelity::check_rules(model)?;
        Ok(Self {
            model,
            store: engine::watched(store),
            settings,
            token_key,
            builtins_done: Mutex::new(HashSet::new()),
            engine: Arc::new(engine::Engine::new(model)?),
            deliveries: deliveries::Deliveries::new(DeliverySettings::default())?,
            audit_shape: audit::event_shape(model),
            followed: followed::FollowedProperties::of_model(model)?,
        })
    }

    /// The service with these delivery settings: with an SMTP relay, every outbox message
    /// written through its store is queued for mail in the same write (`deliveries::mailing`).
    pub fn with_deliveries(mut self, settings: DeliverySettings) -> Self {
        if let Some(relay) = &settings.smtp {
            self.store = deliveries::mailing(Arc::clone(&self.store), relay.clone());
        }
        self.deliveries.set(settings);
        self
    }

    /// One call as a client would make it, without HTTP (beta; query options after `?`): for
    /// what complyd does on a tenant itself (fleets, the demo, `complyd user add`).
    pub(super) async fn run_as_client(
        &self,
        tenant: &str,
        operation: Operation,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, ApiError> {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let query = odata::query::QueryOptions::parse(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            true,
        )?;
        let call = Call {
            tenant: tenant.to_string(),
            version: Version::Beta,
            path: ResourcePath::parse(self.model, Version::Beta, path)?,
            operation,
            body,
            query,
            caller: Caller::default(),
            eventual: false,
        };
        self.execute(call).await
    }

    pub async fn execute(&self, call: Call) -> Result<Reply, ApiError> {
        if self.is_directory(&call) {
            return Box::pin(self.directory(call)).await;
        }
        let addressed = call.path.addressed();
        let last_nav = call.path.steps.last().map(|s| s.navigation);
        if self.settings.fidelity == Fidelity::Intune
            && fidelity::is_live_route_gap(last_nav, addressed, call.operation)
        {
            return Err(route_error(&call));
        }
        if call.operation.is_write() && is_read_only(&call.path) {
            return Err(route_error(&call));
        }
        self.ensure_builtins(&call).await?;
        // Each operation's future on the heap at its own size: a get does not carry (and copy)
        // the state of the largest write.
        let answer: BoxFuture<'_, Result<Reply, ApiError>> = match (addressed, call.operation) {
            (Addressed::RootSingleton, Operation::Get) => Box::pin(self.read_root(call)),
            (Addressed::RootSingleton, Operation::Patch) => Box::pin(self.update_root(call)),
            (Addressed::Property, Operation::Get) => Box::pin(self.read_property(call)),
            (Addressed::Collection, Operation::Get) => Box::pin(self.list(call)),
            (Addressed::Collection, Operation::Post) => Box::pin(self.create(call)),
            (Addressed::Entity, Operation::Get) => Box::pin(self.read(call)),
            (Addressed::Entity, Operation::Patch) => Box::pin(self.update(call)),
            (Addressed::Entity, Operation::Delete) => Box::pin(self.delete(call)),
            (Addressed::Single, Operation::Get) => Box::pin(self.read_single(call)),
            (Addressed::Single, Operation::Patch) => Box::pin(self.update_single(call)),
            (Addressed::Action, Operation::Post) => Box::pin(self.invoke(call)),
            (Addressed::Function, Operation::Get) => Box::pin(self.invoke(call)),
            (Addressed::Count, Operation::Get) => Box::pin(self.count(call)),
            _ => return Err(route_error(&call)),
        };
        answer.await
    }

    /// The audit event a write of `call` records, if its path is audited.
    fn audit(&self, call: &Call, operation: AuditOperation) -> Option<AuditDraft> {
        AuditDraft::for_write(
            &self.audit_shape,
            &call.tenant,
            &call.path,
            operation,
            &call.caller,
            self.settings.fidelity == Fidelity::Intune,
        )
    }

    fn references(&self, tenant: &str) -> References {
        References {
            model: self.model,
            tenant: tenant.to_string(),
            fidelity: self.settings.fidelity,
        }
    }

    /// Inserts the built-in members of every collection along the path that the tenant lacks
    /// (once per process and collection; the insert is idempotent across instances).
    async fn ensure_builtins(&self, call: &Call) -> Result<(), ApiError> {
        let mut names: Vec<&str> = Vec::new();
        for step in &call.path.steps {
            names.push(step.name);
            if step.navigation.rules.builtins.is_empty() || names.len() > 1 && step.key.is_some() {
                continue;
            }
            let collection = names.join("/");
            let remembered = (call.tenant.clone(), collection.clone());
            let known = self
                .builtins_done
                .lock()
                .map(|done| done.contains(&remembered))
                .unwrap_or(false);
            if known {
                continue;
            }
            let (model, tenant, nav) = (self.model, call.tenant.clone(), step.navigation);
            let target = collection.clone();
            self.store
                .write(move |tx| integrity::insert_builtins(model, tx, &tenant, nav, &target))
                .await?;
            if let Ok(mut done) = self.builtins_done.lock() {
                if done.len() >= BUILTINS_REMEMBERED {
                    done.clear();
                }
                done.insert(remembered);
            }
        }
        Ok(())
    }

    /// Bodies and parameters checked with this server's tolerance.
    fn validator(&self, version: Version) -> Validator<'static> {
        Validator::new(self.model, version).live(self.settings.fidelity == Fidelity::Intune)
    }

    fn utc_timestamps(&self) -> bool {
        self.settings.fidelity == Fidelity::Intune
    }

    fn projection(&self, version: Version) -> Projection<'static> {
        Projection {
            model: self.model,
            version,
            utc_timestamps: self.settings.fidelity == Fidelity::Intune,
        }
    }

    fn project_row(
        &self,
        version: Version,
        type_name: &str,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        let ty = self.model.structured(type_name).ok_or_else(|| {
            ApiError::Internal(format!("stored type {type_name} is not in the model"))
        })?;
        Ok(self.projection(version).entity(ty, id, body))
    }

    /// The entity type an operation of `call` is bound to: its last step's, or the root
    /// singleton's.
    fn bound_type(&self, call: &Call) -> Result<&'static StructuredType, ApiError> {
        match call.path.steps.last() {
            Some(step) => Ok(step.target),
            None => self
                .model
                .structured(&call.path.root.type_name)
                .ok_or_else(|| route_error(call)),
        }
    }

    async fn require_ancestors(&self, location: &Location) -> Result<(), ApiError> {
        match self.store.all_exist(location.ancestors.clone()).await? {
            Some(missing) => Err(not_found(&missing)),
            None => Ok(()),
        }
    }

    async fn create(&self, mut call: Call) -> Result<Reply, ApiError> {
        let location = Location::of(&call.tenant, &call.path);
        let declared = call.target()?;
        let nav = call.navigation()?;
        let body = call.take_body()?;
        let validated = self
            .validator(call.version)
            .entity(declared, &body, Mode::Create)?;
        fidelity::apply_create_rules(self.settings.fidelity, self.model, call.version, &validated)?;
        rules::check(self.model, validated.ty, &validated.properties)?;
        let mut checks = Vec::new();
        self.references(&call.tenant)
            .of_entity(&validated, "", &mut checks)?;
        let mut rows = Vec::new();
        plan_rows(
            self.model,
            &call.tenant,
            &location.collection,
            &location.parent,
            &validated,
            &mut rows,
        );
        let mut ruled = Vec::new();
        ruled_children(&location.collection, &validated, &mut ruled);
        integrity::settle_new_members(&mut rows, &ruled)?;
        for row in &mut rows {
            row.ready(&*self.store);
        }
        let ancestors = location.ancestors.clone();
        let model = self.model;
        let audit = rows.first().and_then(|top| {
            let draft = self.audit(&call, AuditOperation::Create);
            audit::prepare_create(draft, model, &top.key.id, &top.body, &*self.store)
        });
        let (engine, tenant) = (Arc::clone(&self.engine), call.tenant.clone());
        let (type_name, id, stored) = self
            .store
            .write(move |tx| {
                let mut rows = rows;
                restamp_for_clock(tx, model, &tenant, &mut rows)?;
                check_exists(tx, &ancestors)?;
                integrity::check_references(tx, &checks)?;
                let top = rows.first_mut().ok_or_else(nothing_planned)?;
                integrity::admit_member(tx, nav, top)?;
                let evaluates = engine.evaluates(&top.type_name);
                if evaluates {
                    engine::Engine::hold_tenant(tx, &tenant)?;
                }
                insert_rows(tx, &rows)?;
                let first = rows.first_mut().ok_or_else(nothing_planned)?;
                // The event prepared before the write holds while the resource is stored as
                // planned: at real time (a tenant's clock reprints), unchanged by the write.
                let as_planned = !first.reprinted && !evaluates;
                let mut top = (
                    std::mem::take(&mut first.type_name),
                    std::mem::take(&mut first.key.id),
                    std::mem::take(&mut first.body),
                );
                if evaluates {
                    let now = time::now_ms(tx, &tenant)? / 1000;
                    engine.add_device(tx, &tenant, &top.1, now)?;
                    top.2 = engine.stored_device(tx, &tenant, &top.1)?;
                }
                audit::record_created(&audit, model, tx, &top.1, &top.2, as_planned)?;
                Ok::<_, ApiError>(top)
            })
            .await?;
        let body = self.project_row(call.version, &type_name, &id, &stored)?;
        // The live service answers some creates 200 (`live-answers create-200`).
        let live_ok = self.settings.fidelity == Fidelity::Intune && nav.live.create_ok;
        Ok(Reply::Entity {
            context: format!("{}/$entity", call.path.context_path()),
            body: JsonObject::from_map(&body),
            created: !live_ok,
        })
    }

    async fn update(&self, mut call: Call) -> Result<Reply, ApiError> {
        let key = Location::of(&call.tenant, &call.path).key(&call.tenant);
        let row = self.store.get(&key).await?.ok_or_else(|| not_found(&key))?;
        let ty = self.model.structured(&row.type_name).ok_or_else(|| {
            ApiError::Internal(format!("stored type {} is not in the model", row.type_name))
        })?;
        let body = call.take_body()?;
        let validated = self
            .validator(call.version)
            .entity(ty, &body, Mode::Update)?;
        if validated.id.as_ref().is_some_and(|id| *id != key.id) {
            return Err(ApiError::bad_request(format!(
                "The id in the body does not match the key '{}'.",
                key.id
            )));
        }
        rules::check(self.model, ty, &validated.properties)?;
        let changes = validated.properties;
        let stamp_key = key.clone();
        let (model, nav) = (self.model, call.navigation()?);
        let (audit, references) = (
            self.audit(&call, AuditOperation::Patch),
            self.references(&call.tenant),
        );
        let stored = self
            .store
            .write(move |tx| {
                let row = tx.get(&stamp_key)?.ok_or_else(|| not_found(&stamp_key))?;
                let before = parse_body(&row.body)?;
                let mut body = before.clone();
                body.extend(changes.clone());
                stamp_update(
                    model,
                    ty,
                    &mut body,
                    &time::now_text(tx, &stamp_key.tenant)?,
                );
                let body = canonical(model, ty, &body);
                let mut checks = Vec::new();
                references.of_changes(ty, &body, &changes, &mut checks)?;
                integrity::check_references(tx, &checks)?;
                integrity::admit_change(tx, nav, &stamp_key, &before, &body)?;
                tx.update(&stamp_key, &Value::Object(body.clone()).to_string())?;
                audit::record(&audit, model, tx, &stamp_key.id, Some(&before), Some(&body))?;
                Ok::<_, ApiError>(body)
            })
            .await?;
        self.after_update(&call, &row.type_name, &key.id, &stored)
    }

    fn after_update(
        &self,
        call: &Call,
        type_name: &str,
        id: &str,
        stored: &Map<String, Value>,
    ) -> Result<Reply, ApiError> {
        // The live service answers PATCH 204, except where a navigation says 200
        // (`live-answers patch-200`).
        let patch_ok = call
            .path
            .steps
            .last()
            .is_some_and(|s| s.navigation.live.patch_ok);
        if self.settings.fidelity == Fidelity::Intune && !patch_ok {
            return Ok(Reply::NoContent);
        }
        let body = self.project_row(call.version, type_name, id, stored)?;
        Ok(Reply::Entity {
            context: format!("{}/$entity", call.path.context_path()),
            body: JsonObject::from_map(&body),
            created: false,
        })
    }

    async fn delete(&self, call: Call) -> Result<Reply, ApiError> {
        let key = Location::of(&call.tenant, &call.path).key(&call.tenant);
        let nav = call.navigation()?;
        integrity::refuse_builtin_delete(nav, &key.id)?;
        let (model, audit) = (self.model, self.audit(&call, AuditOperation::Delete));
        let engine = Arc::clone(&self.engine);
        self.store
            .write(move |tx| {
                if key.collection == engine::DEVICES {
                    engine::Engine::hold_tenant(tx, &key.tenant)?;
                }
                let row = tx.get(&key)?.ok_or_else(|| not_found(&key))?;
                integrity::admit_delete(tx, nav, &key)?;
                if engine.evaluates(&row.type_name) {
                    engine.remove_device(tx, &key.tenant, &key.id)?;
                }
                tx.delete_tree(&key)?;
                let before = parse_body(&row.body)?;
                audit::record(&audit, model, tx, &key.id, Some(&before), None)?;
                Ok::<_, ApiError>(())
            })
            .await?;
        Ok(Reply::NoContent)
    }

    async fn update_single(&self, mut call: Call) -> Result<Reply, ApiError> {
        let location = Location::of(&call.tenant, &call.path);
        let ty = call.target()?;
        let nav = call.navigation()?;
        let body = call.take_body()?;
        let validated = self
            .validator(call.version)
            .entity(ty, &body, Mode::Update)?;
        let current = self
            .single_body(nav, &location.key(&call.tenant), location.ancestors.last())
            .await?;
        let key = location.key(&call.tenant);
        let (ancestors, changes, type_name) = (
            location.ancestors.clone(),
            validated.properties,
            ty.name.clone(),
        );
        let (model, audit) = (self.model, self.audit(&call, AuditOperation::Patch));
        let stored = self
            .store
            .write(move |tx| {
                check_exists(tx, &ancestors)?;
                let existing = tx.get(&key)?;
                let before = match &existing {
                    Some(row) => parse_body(&row.body)?,
                    None => current,
                };
                let mut body = before.clone();
                body.extend(changes);
                let body = canonical(model, ty, &body);
                put_single(tx, &key, &type_name, existing.is_some(), &body)?;
                audit::record(&audit, model, tx, &key.id, Some(&before), Some(&body))?;
                Ok::<_, ApiError>(body)
            })
            .await?;
        let id = location.id.clone().unwrap_or_default();
        self.after_update(&call, &ty.name, &id, &stored)
    }
}

/// Whether a navigation along the path is read-only to clients (`read-only`, `view`).
fn is_read_only(path: &ResourcePath<'_>) -> bool {
    path.root.navigation.rules.read_only || path.steps.iter().any(|s| s.navigation.rules.read_only)
}

/// The collection paths of `v`'s deep-inserted children whose navigation has member rules.
fn ruled_children(
    collection: &str,
    v: &Validated<'static>,
    out: &mut Vec<(String, &'static Navigation)>,
) {
    for (nav, members) in &v.children {
        let below = format!("{collection}/{}", nav.name);
        if nav.rules.one_default.is_some() || !nav.rules.unique.is_empty() {
            out.push((below.clone(), *nav));
        }
        for member in members {
            ruled_children(&below, member, out);
        }
    }
}

/// Rows for a validated entity and, recursively, its deep-inserted children.
fn plan_rows(
    model: &'static Model,
    tenant: &str,
    collection: &str,
    parent: &str,
    v: &Validated<'static>,
    out: &mut Vec<NewRow>,
) {
    let key = Key {
        tenant: tenant.to_string(),
        collection: collection.to_string(),
        parent: parent.to_string(),
        // Time-ordered GUIDs keep the key index append-mostly.
        id: uuid::Uuid::now_v7().to_string(),
    };
    let mut body = v.properties.clone();
    stamp_create(model, v, &mut body);
    let body = canonical(model, v.ty, &body);
    let child_parent = key.child_parent();
    // Printing a map of JSON values cannot fail.
    let text = serde_json::to_string(&body).unwrap_or_default();
    out.push(NewRow {
        key,
        type_name: v.ty.name.clone(),
        body,
        text: ReadyBody::plain(text),
        reprinted: false,
    });
    for (nav, items) in &v.children {
        let child_collection = format!("{collection}/{}", nav.name);
        for item in items {
            plan_rows(model, tenant, &child_collection, &child_parent, item, out);
        }
    }
}

/// Server-managed stamps at creation: creation and modification times now, version 1.
fn stamp_create(model: &'static Model, v: &Validated<'_>, body: &mut Map<String, Value>) {
    let now = Value::String(DateTimeOffset::now().to_utc_string());
    for prop in model.all_properties(v.ty) {
        let value = match prop.stamp {
            Some(Stamp::Created | Stamp::Modified) => now.clone(),
            Some(Stamp::Version) => Value::from(1),
            None => continue,
        };
        body.insert(prop.name.clone(), value);
    }
}

/// The stored form of a body: every property of the type in any version, in model order, with
/// defaults for what was never set — what /beta shows, so reads can answer it as it is (and
/// filters see what clients see).
fn canonical(
    model: &'static Model,
    ty: &'static odata::edm::StructuredType,
    body: &Map<String, Value>,
) -> Map<String, Value> {
    stored_shape(model).properties(ty, body)
}

/// `canonical`'s body as the text stored, written directly (no map built on the way).
pub(crate) fn canonical_text(
    model: &'static Model,
    ty: &'static odata::edm::StructuredType,
    body: &Map<String, Value>,
) -> String {
    stored_shape(model).properties_text(ty, body)
}

fn stored_shape(model: &'static Model) -> Projection<'static> {
    Projection {
        model,
        version: Version::Beta,
        utc_timestamps: false,
    }
}

fn nothing_planned() -> ApiError {
    ApiError::Internal("nothing planned".into())
}

/// New rows' creation and modification times from the tenant's clock, when it is not plain real
/// time (rows are planned, with real time, before the write).
pub(crate) fn restamp_for_clock(
    tx: &mut dyn WriteTx,
    model: &'static Model,
    tenant: &str,
    rows: &mut [NewRow],
) -> Result<(), ApiError> {
    let clock = time::TenantClock::read(tx, tenant)?;
    if clock == time::TenantClock::default() {
        return Ok(());
    }
    let now = Value::String(time::text(clock.now_ms()));
    for row in rows {
        let Some(ty) = model.structured(&row.type_name) else {
            continue;
        };
        for prop in model.all_properties(ty) {
            if matches!(prop.stamp, Some(Stamp::Created | Stamp::Modified))
                && row.body.contains_key(&prop.name)
            {
                row.body.insert(prop.name.clone(), now.clone());
            }
        }
        row.reprint();
    }
    Ok(())
}

/// Server-managed stamps on change: a new modification time (`now`) and the next version.
fn stamp_update(
    model: &'static Model,
    ty: &StructuredType,
    body: &mut Map<String, Value>,
    now: &str,
) {
    for prop in model.all_properties(ty) {
        let value = match (prop.stamp, body.get(&prop.name)) {
            (Some(Stamp::Modified), Some(_)) => Value::String(now.to_string()),
            (Some(Stamp::Version), Some(v)) => match v.as_i64() {
                Some(version) => Value::from(version.saturating_add(1)),
                None => continue,
            },
            _ => continue,
        };
        body.insert(prop.name.clone(), value);
    }
}

/// Stores the body of a single-valued entity (a singleton, an overview): an update when it is
/// stored already, else its first insert.
fn put_single(
    tx: &mut dyn WriteTx,
    key: &Key,
    type_name: &str,
    stored: bool,
    body: &Map<String, Value>,
) -> Result<(), StoreError> {
    let text = Value::Object(body.clone()).to_string();
    if stored {
        tx.update(key, &text).map(|_| ())
    } else {
        tx.insert(key, type_name, &text)
    }
}

fn check_exists(tx: &mut dyn WriteTx, keys: &[Key]) -> Result<(), ApiError> {
    for key in keys {
        if !tx.exists(key)? {
            return Err(not_found(key));
        }
    }
    Ok(())
}

fn insert_rows(tx: &mut dyn WriteTx, rows: &[NewRow]) -> Result<(), ApiError> {
    for row in rows {
        tx.insert_ready(&row.key, &row.type_name, &row.text)?;
    }
    Ok(())
}

fn parse_body(text: &str) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::Internal(
            "a stored body is not a JSON object".into(),
        )),
    }
}

fn not_found(key: &Key) -> ApiError {
    let set = key.collection.rsplit('/').next().unwrap_or(&key.collection);
    ApiError::NotFound(format!(
        "The resource '{set}' with key '{}' was not found.",
        key.id
    ))
}

/// When the path exists but the method is not served there: the route template Graph names in
/// its answer (`http` words the message with the verb and the request path).
fn route_error(call: &Call) -> ApiError {
    let mut template = Vec::new();
    for (i, step) in call.path.steps.iter().enumerate() {
        let is_root_set = i == 0 && call.path.root.kind == odata::edm::RootKind::EntitySet;
        template.push(if is_root_set {
            "entityset"
        } else {
            "navigation"
        });
        if step.key.is_some() {
            template.push("key");
        }
    }
    if call.path.root.kind == odata::edm::RootKind::Singleton {
        template.insert(0, "singleton");
    }
    if let Some(op) = call.path.operation {
        template.push(op.kind.as_str());
    }
    if call.path.count {
        template.push("$count");
    }
    ApiError::Unrouted(crate::error::RouteTemplate(template))
}
