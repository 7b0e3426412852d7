//! Intune's audit log: one `auditEvent` for every successful write below a navigation the model
//! gives an audit category (`audit CATEGORY`), inserted by the write's own transaction so that a
//! change and its record are committed (or refused) together. The categories and activity types
//! the functions list come from the model too.

use crate::store::{Key, ReadyBody, Store, StoreError, WriteTx};
use odata::edm::{Binding, Model, Navigation, Operation, OperationKind, RootKind, StructuredType};
use odata::path::ResourcePath;
use odata::Version;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use text::{Actor, Change, EventValues};

mod text;

pub use text::EventShape;

/// Where the tenant's audit events are stored (`deviceManagement/auditEvents`).
pub const AUDIT_EVENTS: &str = "auditEvents";
const AUDIT_TYPE: &str = "microsoft.graph.auditEvent";
/// The most modified properties one resource lists, and the longest value shown.
const MAX_MODIFIED: usize = 100;
const MAX_VALUE_CHARS: usize = 1000;

/// Who made a request, as its token says (and, for an app's name, the token service's registry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// `appid` / `azp`.
    pub app_id: Option<String>,
    /// `app_displayname`, else the registered app's name.
    pub app_display_name: Option<String>,
    /// `oid`: the user's object id, or the app's service principal.
    pub object_id: Option<String>,
    /// `upn` or `unique_name` (delegated tokens).
    pub user_principal_name: Option<String>,
    pub app_only: bool,
}

/// What kind of write an event records (`activityOperationType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOperation {
    Create,
    Patch,
    Delete,
    Action,
}

impl AuditOperation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Patch => "Patch",
            Self::Delete => "Delete",
            Self::Action => "Action",
        }
    }
}

/// Records `draft`'s event, when the write is audited, for the resource `id` that went from
/// `before` to `after` (either absent on a create or a delete), in the write's transaction.
pub fn record(
    draft: &Option<AuditDraft>,
    model: &'static Model,
    tx: &mut dyn WriteTx,
    id: &str,
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
) -> Result<(), StoreError> {
    match draft {
        Some(draft) => draft.record(model, tx, id, before, after),
        None => Ok(()),
    }
}

/// An audit event prepared before the write: everything but the resource it changes, which the
/// write's transaction fills in ([`AuditDraft::record`]).
#[derive(Debug, Clone)]
pub struct AuditDraft {
    tenant: String,
    category: String,
    operation: AuditOperation,
    /// `Create DeviceCompliancePolicy`, `Assign DeviceCompliancePolicy`.
    activity_type: String,
    /// `DeviceCompliancePolicy`.
    resource_type: String,
    actor: Actor,
    shape: Arc<EventShape>,
    /// The live service leaves `activity` null (`--fidelity intune`).
    activity_null: bool,
}

impl AuditDraft {
    /// The event a write of `operation` (an action's name for actions) at `path` records, if a
    /// navigation along it (or its root) declares an audit category.
    pub fn for_write(
        shape: &Arc<EventShape>,
        tenant: &str,
        path: &ResourcePath<'_>,
        operation: AuditOperation,
        caller: &Caller,
        activity_null: bool,
    ) -> Option<Self> {
        let category = category_of(path)?;
        let resource_type = match path.steps.last() {
            Some(step) => pascal(step.target.short_name()),
            None => pascal(short(&path.root.type_name)),
        };
        let verb = match (operation, path.operation) {
            (AuditOperation::Action, Some(op)) => pascal(&op.name),
            _ => operation.as_str().to_string(),
        };
        Some(Self {
            tenant: tenant.to_string(),
            category,
            operation,
            activity_type: format!("{verb} {resource_type}"),
            resource_type,
            actor: actor(caller),
            shape: Arc::clone(shape),
            activity_null,
        })
    }

    /// Inserts the event for the resource `id` in the write's transaction.
    fn record(
        &self,
        model: &'static Model,
        tx: &mut dyn WriteTx,
        id: &str,
        before: Option<&Map<String, Value>>,
        after: Option<&Map<String, Value>>,
    ) -> Result<(), StoreError> {
        self.event(model, id, before, after)
            .insert(tx, &self.tenant)
    }

    /// The event, all but the time (which only the write's transaction knows).
    fn event(
        &self,
        model: &'static Model,
        id: &str,
        before: Option<&Map<String, Value>>,
        after: Option<&Map<String, Value>>,
    ) -> EventText {
        let name = after
            .or(before)
            .and_then(|b| b.get("displayName"))
            .and_then(Value::as_str)
            .unwrap_or("<null>");
        let changes = modified_properties(model, before, after);
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let (before_time, after_time) = self.shape.write(&EventValues {
            activity_type: &self.activity_type,
            category: &self.category,
            actor: &self.actor,
            activity: (!self.activity_null).then_some(self.activity_type.as_str()),
            operation: self.operation.as_str(),
            correlation_id: &correlation_id,
            resource_name: name,
            changes: &changes,
            resource_type: &self.resource_type,
            resource_id: id,
        });
        EventText {
            before_time,
            after_time,
        }
    }
}

/// An event's stored text cut where its `activityDateTime` value goes.
struct EventText {
    before_time: String,
    after_time: String,
}

impl EventText {
    /// The stored text with the time in its place.
    fn at(&self, now: &str) -> String {
        let mut text =
            String::with_capacity(self.before_time.len() + now.len() + 2 + self.after_time.len());
        text.push_str(&self.before_time);
        text.push('"');
        text.push_str(now);
        text.push('"');
        text.push_str(&self.after_time);
        text
    }

    fn insert(&self, tx: &mut dyn WriteTx, tenant: &str) -> Result<(), StoreError> {
        let now =
            super::time::now_text(tx, tenant).map_err(|e| StoreError::Backend(e.to_string()))?;
        tx.insert(&event_key(tenant), AUDIT_TYPE, &self.at(&now))
    }
}

/// Where a new event of `tenant` goes.
fn event_key(tenant: &str) -> Key {
    Key {
        tenant: tenant.to_string(),
        collection: AUDIT_EVENTS.to_string(),
        parent: String::new(),
        id: uuid::Uuid::now_v7().to_string(),
    }
}

/// A creation's event made before the write, at real time, from the resource the write is
/// expected to create, and readied for the store. The write inserts it as is when the resource
/// was stored as planned, and builds it anew otherwise (the engine adds to a managed device, a
/// tenant's clock restamps). It keeps the event's JSON off the single writer thread.
pub struct Prepared {
    draft: AuditDraft,
    id: String,
    key: Key,
    text: ReadyBody,
}

/// [`AuditDraft::event`] ahead of the write, for the resource `id` to be created as `created`.
pub fn prepare_create(
    draft: Option<AuditDraft>,
    model: &'static Model,
    id: &str,
    created: &Map<String, Value>,
    store: &dyn Store,
) -> Option<Prepared> {
    let draft = draft?;
    let now = super::time::text(super::time::real_ms());
    let text = draft.event(model, id, None, Some(created)).at(&now);
    Some(Prepared {
        key: event_key(&draft.tenant),
        text: store.ready(AUDIT_EVENTS, text),
        draft,
        id: id.to_string(),
    })
}

/// Records the creation of the resource `id` as `created`: the event prepared before the write
/// when the resource was stored `as_planned` (as `prepare_create` saw it, at real time).
pub fn record_created(
    prepared: &Option<Prepared>,
    model: &'static Model,
    tx: &mut dyn WriteTx,
    id: &str,
    created: &Map<String, Value>,
    as_planned: bool,
) -> Result<(), StoreError> {
    match prepared {
        Some(p) if as_planned && p.id == id => tx.insert_ready(&p.key, AUDIT_TYPE, &p.text),
        Some(p) => p.draft.record(model, tx, id, None, Some(created)),
        None => Ok(()),
    }
}

/// The templates events are written from: the model's stored shape of an `auditEvent`, every
/// property in model order, as other entities are stored.
pub fn event_shape(model: &'static Model) -> Arc<EventShape> {
    Arc::new(EventShape::new(&text::stored_text(model, AUDIT_TYPE)))
}

fn actor(caller: &Caller) -> Actor {
    let (kind, user) = if caller.app_only {
        ("Application", None)
    } else {
        ("ItPro", Some(caller))
    };
    Actor {
        kind,
        app_id: caller.app_id.clone(),
        app_name: caller.app_display_name.clone(),
        user_principal_name: user.and_then(|c| c.user_principal_name.clone()),
        service_principal_name: caller
            .app_only
            .then(|| caller.app_display_name.clone())
            .flatten(),
        user_id: user.and_then(|c| c.object_id.clone()),
    }
}

/// The deepest audit category along the path, else its root's.
fn category_of(path: &ResourcePath<'_>) -> Option<String> {
    path.steps
        .iter()
        .rev()
        .find_map(|s| s.navigation.rules.audit.clone())
        .or_else(|| path.root.navigation.rules.audit.clone())
}

/// What changed, as Intune lists it: PascalCase property paths (complex values flattened with
/// dots), values as text (`<null>` for null), the before value null on creation. Server stamps
/// are left out.
fn modified_properties(
    model: &Model,
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
) -> Vec<Change> {
    let mut old = Vec::new();
    let mut new = Vec::new();
    if let Some(b) = before {
        flatten("", b, &mut old);
    }
    if let Some(a) = after {
        flatten("", a, &mut new);
    }
    let mut before_values: HashMap<String, String> = HashMap::with_capacity(old.len());
    for (path, value) in old {
        // The first of two equal paths counts (`@odata.type` and a `type` are both `Type`).
        before_values.entry(path).or_insert(value);
    }
    let mut out = Vec::new();
    for (path, value) in new {
        let first = path.split('.').next().unwrap_or_default();
        if model.is_stamp_name(&camel(first)) {
            continue;
        }
        let previous = before_values.get(&path);
        if previous == Some(&value) {
            continue;
        }
        if out.len() == MAX_MODIFIED {
            break;
        }
        out.push(Change {
            old: previous.cloned(),
            name: path,
            new: value,
        });
    }
    out
}

/// `(Path.To.Value, text)` for every scalar or array below `map`.
fn flatten(prefix: &str, map: &Map<String, Value>, out: &mut Vec<(String, String)>) {
    for (key, item) in map {
        if out.len() > MAX_MODIFIED * 4 {
            return;
        }
        let name = if key == "@odata.type" {
            "Type".to_string()
        } else if key.starts_with('@') {
            continue;
        } else {
            pascal(key)
        };
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        match item {
            Value::Object(inner) => flatten(&path, inner, out),
            _ if key == "@odata.type" => {
                let type_name = item.as_str().unwrap_or_default();
                out.push((path, pascal(short(type_name.trim_start_matches('#')))));
            }
            _ => out.push((path, text(item))),
        }
    }
}

fn text(value: &Value) -> String {
    let full = match value {
        Value::Null => "<null>".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match full.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}...", &full[..cut]),
        None => full,
    }
}

fn short(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// `LastModifiedDateTime` → `lastModifiedDateTime` (a path's first step back to its property).
fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `deviceCompliancePolicy` → `DeviceCompliancePolicy`.
fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Every audit category the model declares, sorted (`getAuditCategories`).
pub fn categories(model: &Model) -> Vec<String> {
    let mut found = BTreeSet::new();
    walk(model, &mut |category, _| {
        found.insert(category.to_string());
    });
    found.into_iter().collect()
}

/// The activity types recorded under `category` (`getAuditActivityTypes`), sorted.
pub fn activity_types(model: &Model, category: &str) -> Vec<String> {
    let mut found = BTreeSet::new();
    walk(model, &mut |c, activity| {
        if c == category {
            found.insert(activity);
        }
    });
    found.into_iter().collect()
}

/// Calls `f(category, activity type)` for every write the model's paths allow under an audit
/// category: each root and navigation is visited once.
fn walk(model: &Model, f: &mut dyn FnMut(&str, String)) {
    let mut seen = BTreeSet::new();
    for root in model.roots() {
        let Some(ty) = model.structured(&root.type_name) else {
            continue;
        };
        let category = root.navigation.rules.audit.clone();
        if root.kind == RootKind::Singleton {
            if let Some(c) = &category {
                f(c, format!("Patch {}", pascal(ty.short_name())));
                entity_actions(model, ty, c, f);
            }
            navigations(model, ty, category.as_deref(), &mut seen, f);
        } else if root.kind == RootKind::EntitySet {
            visit(
                model,
                &root.navigation,
                ty,
                category.as_deref(),
                &mut seen,
                f,
            );
        }
    }
}

fn navigations(
    model: &Model,
    owner: &StructuredType,
    category: Option<&str>,
    seen: &mut BTreeSet<String>,
    f: &mut dyn FnMut(&str, String),
) {
    for nav in model.navigations(owner, Version::Beta) {
        if let Some(target) = model.structured(&nav.target) {
            visit(model, nav, target, category, seen, f);
        }
    }
}

fn visit(
    model: &Model,
    nav: &Navigation,
    target: &StructuredType,
    inherited: Option<&str>,
    seen: &mut BTreeSet<String>,
    f: &mut dyn FnMut(&str, String),
) {
    let category = nav.rules.audit.as_deref().or(inherited);
    if !seen.insert(format!(
        "{}:{}:{}",
        target.name,
        nav.name,
        category.unwrap_or("")
    )) {
        return;
    }
    if let (Some(c), false) = (category, nav.rules.read_only) {
        let name = pascal(target.short_name());
        if nav.collection {
            for verb in ["Create", "Patch", "Delete"] {
                f(c, format!("{verb} {name}"));
            }
        } else {
            f(c, format!("Patch {name}"));
        }
        entity_actions(model, target, c, f);
    }
    navigations(model, target, category, seen, f);
}

/// Whether calling `op` is a write the audit log records: an action without a result (it
/// changes state, and has nothing to answer) or one that replaces a contained collection. The
/// actions that only compute an answer (`validateComplianceScript`, `hasPayloadLinks`) are not.
pub fn records(op: &Operation) -> bool {
    op.kind == OperationKind::Action && (op.returns.is_none() || op.handler == "replaceCollection")
}

/// The audited actions bound to `ty` (or to a collection of it).
fn entity_actions(
    model: &Model,
    ty: &StructuredType,
    category: &str,
    f: &mut dyn FnMut(&str, String),
) {
    for op in model.operations().iter().filter(|op| records(op)) {
        if let Binding::Entity(bound) | Binding::Collection(bound) = &op.binding {
            if bound == &ty.name {
                f(
                    category,
                    format!("{} {}", pascal(&op.name), pascal(ty.short_name())),
                );
            }
        }
    }
}

impl super::Service {
    /// `getAuditCategories`.
    pub(super) async fn audit_categories(
        &self,
        _invocation: super::invoke::Invocation,
    ) -> Result<super::Reply, crate::error::ApiError> {
        Ok(super::Reply::Value {
            context: "Collection(Edm.String)".into(),
            value: json!(categories(self.model)),
        })
    }

    /// `getAuditActivityTypes(category='…')`.
    pub(super) async fn audit_activity_types(
        &self,
        invocation: super::invoke::Invocation,
    ) -> Result<super::Reply, crate::error::ApiError> {
        let category = invocation
            .arguments
            .iter()
            .find_map(|(_, a)| match a {
                odata::validate::Argument::Value(Value::String(c)) => Some(c.clone()),
                _ => None,
            })
            .unwrap_or_default();
        Ok(super::Reply::Value {
            context: "Collection(Edm.String)".into(),
            value: json!(activity_types(self.model, &category)),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TIME: &str = "2030-01-01T00:00:00Z";

    fn draft(model: &'static Model, caller: &Caller, activity_null: bool) -> AuditDraft {
        AuditDraft {
            tenant: "t".into(),
            category: "Compliance".into(),
            operation: AuditOperation::Create,
            activity_type: "Create DeviceCompliancePolicy".into(),
            resource_type: "DeviceCompliancePolicy".into(),
            actor: actor(caller),
            shape: event_shape(model),
            activity_null,
        }
    }

    /// The event as a document, projected by the model as every other stored body is: what the
    /// templates must write, member for member.
    fn projected(
        model: &'static Model,
        draft: &AuditDraft,
        id: &str,
        before: Option<&Map<String, Value>>,
        after: Option<&Map<String, Value>>,
        correlation_id: &Value,
    ) -> String {
        let name = after
            .or(before)
            .and_then(|b| b.get("displayName"))
            .and_then(Value::as_str)
            .unwrap_or("<null>");
        let modified: Vec<Value> = modified_properties(model, before, after)
            .into_iter()
            .map(|c| {
                json!({"@odata.type": "#microsoft.graph.auditProperty", "displayName": c.name,
                       "oldValue": c.old, "newValue": c.new})
            })
            .collect();
        let a = &draft.actor;
        let body = json!({
            "displayName": draft.activity_type,
            "componentName": draft.category,
            "actor": {
                "@odata.type": "#microsoft.graph.auditActor", "type": a.kind,
                "auditActorType": a.kind, "userPermissions": ["*"], "applicationId": a.app_id,
                "applicationDisplayName": a.app_name, "userPrincipalName": a.user_principal_name,
                "servicePrincipalName": a.service_principal_name, "ipAddress": null,
                "userId": a.user_id,
            },
            "activity": if draft.activity_null { Value::Null } else { json!(draft.activity_type) },
            "activityDateTime": TIME,
            "activityType": draft.activity_type,
            "activityOperationType": draft.operation.as_str(),
            "activityResult": "Success",
            "correlationId": correlation_id,
            "resources": [{
                "@odata.type": "#microsoft.graph.auditResource", "displayName": name,
                "modifiedProperties": modified, "type": draft.resource_type,
                "auditResourceType": draft.resource_type, "resourceId": id,
            }],
            "category": draft.category,
        });
        let ty = model.structured(AUDIT_TYPE).unwrap();
        crate::service::canonical_text(model, ty, body.as_object().unwrap())
    }

    #[test]
    fn events_are_written_as_the_model_projects_them() {
        let model = Model::intune().unwrap();
        let odd = "q\"uo\\te \u{1}3 \u{1}\"x\" \u{7f} é 😀 \"\\u0001\"";
        let callers = [
            Caller::default(),
            Caller {
                app_id: Some("app".into()),
                app_display_name: Some(odd.into()),
                object_id: Some("oid".into()),
                user_principal_name: Some(odd.into()),
                app_only: false,
            },
            Caller {
                app_id: Some(odd.into()),
                app_display_name: Some("Tool".into()),
                object_id: Some("sp".into()),
                user_principal_name: Some("ignored".into()),
                app_only: true,
            },
        ];
        let before = json!({"displayName": "Old", "description": odd, "version": 1,
                            "nested": {"a": 1, "b": [1, 2]}, "gone": true});
        let after = json!({"displayName": odd, "description": odd, "version": 2, "list": [odd],
                           "nested": {"a": 2, "b": [1, 2]}, "n": null,
                           "@odata.type": "#microsoft.graph.iosCompliancePolicy"});
        let bodies = [
            (None, after.as_object()),
            (before.as_object(), after.as_object()),
            (before.as_object(), None),
            (None, Some(&Map::new())),
        ];
        for caller in &callers {
            for activity_null in [false, true] {
                let draft = draft(model, caller, activity_null);
                for (before, after) in bodies {
                    let text = draft.event(model, "id-1", before, after).at(TIME);
                    let parsed: Value = serde_json::from_str(&text).unwrap();
                    let expected = projected(
                        model,
                        &draft,
                        "id-1",
                        before,
                        after,
                        &parsed["correlationId"],
                    );
                    assert_eq!(text, expected);
                }
            }
        }
    }

    #[test]
    fn the_time_goes_in_its_place_whatever_the_resource_holds() {
        let model = Model::intune().unwrap();
        let slot = r#""activityDateTime":null"#;
        let hostile = r#"x","activityDateTime":null,"y":""#;
        let after = json!({"displayName": hostile, "description": slot});
        let event =
            draft(model, &Caller::default(), false).event(model, "id-1", None, after.as_object());
        let parsed: Value = serde_json::from_str(&event.at(TIME)).unwrap();
        assert_eq!(parsed["activityDateTime"], TIME);
        assert_eq!(parsed["resources"][0]["displayName"], hostile);
        let descriptions: Vec<&Value> = parsed["resources"][0]["modifiedProperties"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["displayName"] == "Description")
            .map(|p| &p["newValue"])
            .collect();
        assert_eq!(descriptions, [&json!(slot)]);
    }

    #[test]
    fn server_stamps_are_not_listed_as_changes() {
        let model = Model::intune().unwrap();
        let after = json!({"displayName": "Renamed", "createdDateTime": "2030-01-01T00:00:00Z",
                           "lastModifiedDateTime": "2030-01-01T00:00:00Z", "version": 3});
        let listed: Vec<String> = modified_properties(model, None, after.as_object())
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(listed, ["DisplayName"]);
    }
}
