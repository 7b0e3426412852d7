//! Intune's audit log: one `auditEvent` for every successful write below a navigation the model
//! gives an audit category (`audit CATEGORY`), inserted by the write's own transaction so that a
//! change and its record are committed (or refused) together. The categories and activity types
//! the functions list come from the model too.

use crate::store::{Key, StoreError, WriteTx};
use odata::edm::{Binding, Model, Navigation, Operation, OperationKind, RootKind, StructuredType};
use odata::path::ResourcePath;
use odata::Version;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

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
    actor: Value,
    /// The live service leaves `activity` null (`--fidelity intune`).
    activity_null: bool,
}

impl AuditDraft {
    /// The event a write of `operation` (an action's name for actions) at `path` records, if a
    /// navigation along it (or its root) declares an audit category.
    pub fn for_write(
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
        let name = after
            .or(before)
            .and_then(|b| b.get("displayName"))
            .and_then(Value::as_str)
            .unwrap_or("<null>");
        let modified = modified_properties(model, before, after);
        let body = json!({
            "displayName": self.activity_type,
            "componentName": self.category,
            "actor": self.actor,
            "activity": if self.activity_null { Value::Null } else { Value::String(self.activity_type.clone()) },
            "activityDateTime": super::time::now_text(tx, &self.tenant).map_err(|e| StoreError::Backend(e.to_string()))?,
            "activityType": self.activity_type,
            "activityOperationType": self.operation.as_str(),
            "activityResult": "Success",
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "resources": [{
                "@odata.type": "#microsoft.graph.auditResource",
                "displayName": name,
                "modifiedProperties": modified,
                "type": self.resource_type,
                "auditResourceType": self.resource_type,
                "resourceId": id,
            }],
            "category": self.category,
        });
        let key = Key {
            tenant: self.tenant.clone(),
            collection: AUDIT_EVENTS.to_string(),
            parent: String::new(),
            id: uuid::Uuid::now_v7().to_string(),
        };
        let stored = stored_body(model, &body);
        tx.insert(&key, AUDIT_TYPE, &stored)
    }
}

/// The event as stored: every property of the type in model order, as other entities are.
fn stored_body(model: &'static Model, body: &Value) -> String {
    let map = body.as_object().cloned().unwrap_or_default();
    match model.structured(AUDIT_TYPE) {
        Some(ty) => {
            let projected = odata::project::Projection {
                model,
                version: Version::Beta,
                utc_timestamps: false,
            }
            .properties(ty, &map);
            Value::Object(projected).to_string()
        }
        None => Value::Object(map).to_string(),
    }
}

fn actor(caller: &Caller) -> Value {
    let kind = if caller.app_only {
        "Application"
    } else {
        "ItPro"
    };
    json!({
        "@odata.type": "#microsoft.graph.auditActor",
        "type": kind,
        "auditActorType": kind,
        "userPermissions": ["*"],
        "applicationId": caller.app_id,
        "applicationDisplayName": caller.app_display_name,
        "userPrincipalName": if caller.app_only { None } else { caller.user_principal_name.clone() },
        "servicePrincipalName": if caller.app_only { caller.app_display_name.clone() } else { None },
        "ipAddress": null,
        "userId": if caller.app_only { None } else { caller.object_id.clone() },
    })
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
) -> Vec<Value> {
    let stamps: BTreeSet<String> = model
        .types()
        .flat_map(|t| t.own_properties.iter())
        .filter(|p| p.stamp.is_some())
        .map(|p| p.name.clone())
        .collect();
    let mut old = Vec::new();
    let mut new = Vec::new();
    if let Some(b) = before {
        flatten("", &Value::Object(b.clone()), &mut old);
    }
    if let Some(a) = after {
        flatten("", &Value::Object(a.clone()), &mut new);
    }
    let mut out = Vec::new();
    for (path, value) in &new {
        let first = path.split('.').next().unwrap_or_default();
        if stamps.iter().any(|s| pascal(s) == first) {
            continue;
        }
        let previous = old.iter().find(|(p, _)| p == path).map(|(_, v)| v);
        if previous == Some(value) {
            continue;
        }
        if out.len() == MAX_MODIFIED {
            break;
        }
        out.push(json!({
            "@odata.type": "#microsoft.graph.auditProperty",
            "displayName": path,
            "oldValue": previous,
            "newValue": value,
        }));
    }
    out
}

/// `(Path.To.Value, text)` for every scalar or array below `value`.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
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
                    Value::Object(_) => flatten(&path, item, out),
                    _ if key == "@odata.type" => {
                        let type_name = item.as_str().unwrap_or_default();
                        out.push((path, pascal(short(type_name.trim_start_matches('#')))));
                    }
                    _ => out.push((path, text(item))),
                }
            }
        }
        other => out.push((prefix.to_string(), text(other))),
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
