//! The operations on the policies collection that answer from the tenant's compliance state:
//! the retire schedule (devices a `retire` action scheduled, which the engine fills; its rows are
//! `retireScheduledManagedDevice` bodies plus the `state` set here), the report summarization
//! stamp, and whether policies are linked to policy sets.

use super::audit;
use super::invoke::Invocation;
use super::{canonical, parse_body, put_single, route_error, JsonObject, Reply, Service};
use crate::error::ApiError;
use crate::store::{Key, Query, WriteTx};
use odata::edm::StructuredType;
use odata::validate::Argument;
use odata::Version;
use serde_json::{json, Map, Value};

/// The collection of the tenant's retire schedule (not in the model: the engine writes it; a
/// leading `_` cannot start a model name).
pub const RETIRE_SCHEDULE: &str = "_retireSchedule";
/// The most scheduled devices one answer or one state change covers.
pub const MAX_SCHEDULED: usize = 10_000;
const SCHEDULED_TYPE: &str = "microsoft.graph.retireScheduledManagedDevice";
const LINK_TYPE: &str = "microsoft.graph.hasPayloadLinkResultItem";

/// Puts `device` (a `retireScheduledManagedDevice` body with its `managedDeviceId`) on `tenant`'s
/// retire schedule inside a write, replacing what the schedule held for it: what the engine does
/// when a `retire` action comes due.
pub fn schedule(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device: &Map<String, Value>,
) -> Result<(), ApiError> {
    let id = device
        .get("managedDeviceId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::Internal("a scheduled device needs its managedDeviceId".into()))?;
    let key = Key {
        tenant: tenant.to_string(),
        collection: RETIRE_SCHEDULE.to_string(),
        parent: String::new(),
        id: id.to_string(),
    };
    let text = Value::Object(device.clone()).to_string();
    if !tx.update(&key, &text)? {
        tx.insert(&key, SCHEDULED_TYPE, &text)?;
    }
    Ok(())
}

/// Takes `device` off `tenant`'s retire schedule (when `policy` is given, only if that policy
/// scheduled it), unless an admin confirmed its retirement: a device that complies again, or
/// that is gone.
pub fn unschedule(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device: &str,
    policy: Option<&str>,
) -> Result<(), ApiError> {
    let key = Key {
        tenant: tenant.to_string(),
        collection: RETIRE_SCHEDULE.to_string(),
        parent: String::new(),
        id: device.to_string(),
    };
    let Some(row) = tx.get(&key)? else {
        return Ok(());
    };
    let body = parse_body(&row.body)?;
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    let confirmed = text("state") == Some("confirmRetire");
    let ours = policy.is_none_or(|p| text("deviceCompliancePolicyId") == Some(p));
    if ours && (!confirmed || policy.is_none()) {
        tx.delete_tree(&key)?;
    }
    Ok(())
}

/// The value of the parameter `name`, if given.
fn value<'a>(invocation: &'a Invocation, name: &str) -> Option<&'a Value> {
    invocation.arguments.iter().find_map(|(p, a)| match a {
        Argument::Value(v) if p.name == name => Some(v),
        _ => None,
    })
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl Service {
    fn complex(&self, name: &str) -> Result<&'static StructuredType, ApiError> {
        self.model
            .structured(name)
            .ok_or_else(|| ApiError::Internal(format!("{name} is not in the model")))
    }

    /// `getDevicesScheduledToRetire`: the schedule's devices, cancelled ones left out.
    pub(super) async fn scheduled_to_retire(
        &self,
        invocation: Invocation,
    ) -> Result<Reply, ApiError> {
        let ty = self.complex(SCHEDULED_TYPE)?;
        let mut query = Query::all(&invocation.call.tenant, RETIRE_SCHEDULE, "");
        query.limit = MAX_SCHEDULED;
        let projection = self.projection(invocation.call.version);
        let mut items = Vec::new();
        for (row, _) in self.store.query(query).await? {
            let body = parse_body(&row.body)?;
            if body.get("state").and_then(Value::as_str) == Some("cancelRetire") {
                continue;
            }
            items.push(JsonObject::from_map(&projection.properties(ty, &body)));
        }
        Ok(Reply::Collection {
            context: format!("Collection({SCHEDULED_TYPE})"),
            items,
            count: None,
            skiptoken: None,
        })
    }

    /// `setScheduledRetireState`: the state of the devices named (or, with `scopedToAllDevices`,
    /// of every scheduled device); ids the schedule lacks are ignored.
    pub(super) async fn set_retire_state(&self, invocation: Invocation) -> Result<Reply, ApiError> {
        let state = value(&invocation, "state").cloned().unwrap_or(Value::Null);
        let ids = strings(value(&invocation, "managedDeviceIds"));
        let all = value(&invocation, "scopedToAllDevices") == Some(&Value::Bool(true));
        let tenant = invocation.call.tenant.clone();
        let (model, audit) = (self.model, invocation.audit);
        self.store
            .write(move |tx| {
                let rows = tx.members(&tenant, RETIRE_SCHEDULE, "", MAX_SCHEDULED)?;
                for row in rows {
                    let mut body = parse_body(&row.body)?;
                    let device = body
                        .get("managedDeviceId")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if all || ids.iter().any(|id| id == device) {
                        if state.as_str() == Some("confirmRetire") {
                            super::engine::retire_device(tx, model, &tenant, device)?;
                        }
                        body.insert("state".into(), state.clone());
                        tx.update(&row.key, &Value::Object(body).to_string())?;
                    }
                }
                let after = Map::from_iter([
                    ("state".to_string(), state.clone()),
                    ("managedDeviceIds".to_string(), json!(ids)),
                    ("scopedToAllDevices".to_string(), Value::Bool(all)),
                ]);
                audit::record(
                    &audit,
                    model,
                    tx,
                    "deviceCompliancePolicies",
                    None,
                    Some(&after),
                )?;
                Ok::<_, ApiError>(())
            })
            .await?;
        Ok(Reply::NoContent)
    }

    /// `stampRoot PROPERTY`: the root singleton's `PROPERTY` becomes now.
    pub(super) async fn stamp_root(&self, invocation: Invocation) -> Result<Reply, ApiError> {
        let Invocation {
            call,
            operation,
            audit,
            ..
        } = invocation;
        let property = operation
            .handler_args
            .first()
            .cloned()
            .ok_or_else(|| route_error(&call))?;
        let ty = self
            .model
            .structured(&call.path.root.type_name)
            .ok_or_else(|| route_error(&call))?;
        let key = Key {
            tenant: call.tenant.clone(),
            collection: call.path.root.name.clone(),
            parent: String::new(),
            id: call.tenant.clone(),
        };
        let model = self.model;
        self.store
            .write(move |tx| {
                let existing = tx.get(&key)?;
                let before = match &existing {
                    Some(row) => parse_body(&row.body)?,
                    None => canonical(model, ty, &Map::new()),
                };
                let mut body = before.clone();
                body.insert(
                    property,
                    Value::String(super::time::now_text(tx, &key.tenant)?),
                );
                let body = canonical(model, ty, &body);
                put_single(tx, &key, &ty.name, existing.is_some(), &body)?;
                audit::record(&audit, model, tx, &key.id, Some(&before), Some(&body))?;
                Ok::<_, ApiError>(())
            })
            .await?;
        Ok(Reply::NoContent)
    }

    /// `hasPayloadLinks`: for each policy named, whether an assignment of it comes from a policy
    /// set, and the sources of its assignments; an id that names no policy answers an `error`.
    pub(super) async fn payload_links(&self, invocation: Invocation) -> Result<Reply, ApiError> {
        let ty = self.complex(LINK_TYPE)?;
        let ids = strings(invocation.arguments.first().and_then(|(_, a)| match a {
            Argument::Value(v) => Some(v),
            Argument::Entities(_) => None,
        }));
        let tenant = &invocation.call.tenant;
        let collection = invocation
            .call
            .path
            .steps
            .iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join("/");
        let projection = self.projection(Version::Beta);
        let mut items = Vec::new();
        for id in ids {
            let key = Key {
                tenant: tenant.clone(),
                collection: collection.clone(),
                parent: String::new(),
                id: id.clone(),
            };
            let result = if self.store.get(&key).await?.is_none() {
                json!({ "payloadId": id, "hasLink": false, "sources": [],
                        "error": format!("No compliance policy has the id '{id}'.") })
            } else {
                let assignments = Query::all(tenant, &format!("{collection}/assignments"), &id);
                let mut sources: Vec<String> = Vec::new();
                for (row, _) in self.store.query(assignments).await? {
                    let body = parse_body(&row.body)?;
                    let source = body
                        .get("source")
                        .and_then(Value::as_str)
                        .unwrap_or("direct");
                    if !sources.iter().any(|s| s == source) {
                        sources.push(source.to_string());
                    }
                }
                let linked = sources.iter().any(|s| s == "policySets");
                json!({ "payloadId": id, "hasLink": linked, "sources": sources, "error": null })
            };
            let body = result.as_object().cloned().unwrap_or_default();
            items.push(JsonObject::from_map(&projection.properties(ty, &body)));
        }
        Ok(Reply::Collection {
            context: format!("Collection({LINK_TYPE})"),
            items,
            count: None,
            skiptoken: None,
        })
    }
}
