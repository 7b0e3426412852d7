//! Firing what fell due on a tenant's clock (`plan` put it on the schedule): a grace period's
//! end or a passed check-in threshold evaluates the device again; a scheduled action's instance
//! does what the action does, once, while the device still fails the policy.

use super::plan::{self, ACTION, CHECK_IN, GRACE, SIMULATE};
use super::tally::SharedTally;
use super::{notify, read_device, read_evaluation, results, Engine, TenantView};
use crate::error::ApiError;
use crate::store::{DueItem, Key, WriteTx};
use serde_json::{json, Map, Value};

/// The actions recorded on the device as `deviceActionResults` (the others write elsewhere).
const DEVICE_ACTIONS: &[&str] = &[
    "pushNotification",
    "remoteLock",
    "wipe",
    "removeResourceAccessProfiles",
];

fn report(item: &DueItem, at: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("kind".into(), json!(item.kind));
    out.insert("dueDateTime".into(), json!(results::utc(item.at / 1000)));
    out.insert("firedDateTime".into(), json!(at));
    if !item.device.is_empty() {
        out.insert("managedDeviceId".into(), json!(item.device));
    }
    if !item.policy.is_empty() {
        out.insert("deviceCompliancePolicyId".into(), json!(item.policy));
    }
    out
}

fn skipped(mut out: Map<String, Value>, why: impl Into<String>) -> Value {
    out.insert("outcome".into(), json!("skipped"));
    out.insert("reason".into(), json!(why.into()));
    Value::Object(out)
}

impl Engine {
    /// Fires `item` at `now_ms` (the tenant's time) inside the write that removes it from the
    /// schedule; answers what it did.
    pub fn fire(
        &self,
        tx: &mut dyn WriteTx,
        view: &TenantView,
        item: &DueItem,
        now_ms: i64,
        tally: &SharedTally,
    ) -> Result<Value, ApiError> {
        let at = crate::service::time::text(now_ms);
        let mut out = report(item, &at);
        match item.kind.as_str() {
            GRACE | CHECK_IN => {
                match self.evaluate_in(
                    tx,
                    view,
                    &item.tenant,
                    &item.device,
                    now_ms / 1000,
                    tally,
                    super::DeviceAhead::default(),
                ) {
                    Ok(verdict) => {
                        out.insert("outcome".into(), json!("evaluated"));
                        out.insert("complianceState".into(), json!(verdict.state.verdict()));
                        Ok(Value::Object(out))
                    }
                    Err(ApiError::NotFound(_)) => Ok(skipped(out, "the device no longer exists")),
                    Err(other) => Err(other),
                }
            }
            ACTION => self.fire_action(tx, view, item, &at, out),
            SIMULATE => {
                let checked = self.simulated_round(tx, view, item, now_ms, tally)?;
                out.insert("outcome".into(), json!("checkedIn"));
                out.insert("devices".into(), json!(checked));
                Ok(Value::Object(out))
            }
            other => Ok(skipped(out, format!("unknown kind '{other}'"))),
        }
    }

    fn fire_action(
        &self,
        tx: &mut dyn WriteTx,
        view: &TenantView,
        item: &DueItem,
        at: &str,
        mut out: Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let body = crate::service::parse_body(&item.body)?;
        let action = body
            .get("actionType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let instance = body
            .get("instance")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        out.insert("actionType".into(), json!(action));
        out.insert("instance".into(), json!(instance));
        let (tenant, device_id) = (item.tenant.as_str(), item.device.as_str());
        let Ok((type_name, mut device)) = read_device(tx, tenant, device_id) else {
            return Ok(skipped(out, "the device no longer exists"));
        };
        let mut record = read_evaluation(tx, tenant, device_id)?;
        let mut policies = record
            .get("policies")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let Some(mut entry) = policies
            .get(&item.policy)
            .and_then(Value::as_object)
            .cloned()
        else {
            return Ok(skipped(out, "the policy no longer applies to the device"));
        };
        if entry.get("since") != body.get("since") {
            return Ok(skipped(out, "the device no longer fails the policy"));
        }
        plan::mark_fired(&mut entry, &instance);
        policies.insert(item.policy.clone(), Value::Object(entry));
        record.insert("policies".into(), Value::Object(policies));
        results::put(
            tx,
            self.model,
            &super::evaluation_key(tenant, device_id),
            "",
            &record,
        )?;
        if !view.settings.scheduled_actions_enabled {
            return Ok(skipped(out, "isScheduledActionEnabled is false"));
        }
        let policy_name = view
            .policies
            .iter()
            .find(|p| p.id == item.policy)
            .map(|p| p.display_name().to_string())
            .unwrap_or_default();
        match action.as_str() {
            "notification" => {
                let subject = notify::Subject {
                    device_id,
                    device: &device,
                    policy_id: &item.policy,
                    policy_name: &policy_name,
                };
                let cc: Vec<String> = body
                    .get("notificationMessageCCList")
                    .and_then(Value::as_array)
                    .map(|ids| {
                        ids.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let template = body.get("notificationTemplateId").and_then(Value::as_str);
                match notify::render(tx, self.model, tenant, &subject, template, &cc, at)? {
                    Ok(message) => {
                        crate::service::append_to_outbox(tx, tenant, &message)?;
                        out.insert("recipients".into(), message["recipients"].clone());
                    }
                    Err(why) => return Ok(skipped(out, why)),
                }
            }
            "retire" => {
                let shown = |name: &str| device.get(name).cloned().unwrap_or(Value::Null);
                let scheduled = json!({
                    "id": device_id,
                    "managedDeviceId": device_id,
                    "managedDeviceName": shown("deviceName"),
                    "deviceCompliancePolicyId": item.policy,
                    "deviceCompliancePolicyName": policy_name,
                    "retireAfterDateTime": at,
                    "managementAgent": shown("managementAgent"),
                    "ownerType": shown("ownerType"),
                    "complianceState": shown("complianceState"),
                    "deviceType": shown("deviceType"),
                    "roleScopeTagIds": shown("roleScopeTagIds"),
                });
                crate::service::retire::schedule(
                    tx,
                    tenant,
                    scheduled.as_object().unwrap_or(&Map::new()),
                )?;
            }
            name if DEVICE_ACTIONS.contains(&name) => {
                record_device_action(&mut device, name, "pending", at);
                if name == "wipe" {
                    device.insert("managementState".into(), json!("wipePending"));
                }
                results::put(
                    tx,
                    self.model,
                    &Key::new(tenant, results::DEVICES, "", device_id),
                    &type_name,
                    &device,
                )?;
            }
            other => return Ok(skipped(out, format!("'{other}' does nothing on a device"))),
        }
        out.insert("outcome".into(), json!("fired"));
        Ok(Value::Object(out))
    }
}

/// Adds (or restarts) the device's result for `action`: Graph keeps one per action name.
pub fn record_device_action(device: &mut Map<String, Value>, action: &str, state: &str, at: &str) {
    let mut items: Vec<Value> = device
        .get("deviceActionResults")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    items.retain(|i| i.get("actionName").and_then(Value::as_str) != Some(action));
    items.push(json!({
        "actionName": action,
        "actionState": state,
        "startDateTime": at,
        "lastUpdatedDateTime": at,
    }));
    device.insert("deviceActionResults".into(), Value::Array(items));
}

/// A confirmed retirement, as the live service starts one: the device's management state becomes
/// `retirePending` and its `retire` action result is pending (a device gone is left alone).
pub fn retire_device(
    tx: &mut dyn WriteTx,
    model: &'static odata::Model,
    tenant: &str,
    device_id: &str,
) -> Result<(), ApiError> {
    let Ok((type_name, mut device)) = read_device(tx, tenant, device_id) else {
        return Ok(());
    };
    let now = crate::service::time::now_text(tx, tenant)?;
    record_device_action(&mut device, "retire", "pending", &now);
    device.insert("managementState".into(), json!("retirePending"));
    let key = Key::new(tenant, results::DEVICES, "", device_id);
    results::put(tx, model, &key, &type_name, &device)
}

/// At a check-in the device carries out what was pending for it: each pending action result
/// (but a wipe, after which it no longer reports as itself) becomes `done`.
pub fn complete_pending(device: &mut Map<String, Value>, at: &str) {
    let Some(Value::Array(items)) = device.get_mut("deviceActionResults") else {
        return;
    };
    for item in items.iter_mut() {
        let Some(result) = item.as_object_mut() else {
            continue;
        };
        let pending = result.get("actionState").and_then(Value::as_str) == Some("pending");
        let wipe = result.get("actionName").and_then(Value::as_str) == Some("wipe");
        if pending && !wipe {
            result.insert("actionState".into(), json!("done"));
            result.insert("lastUpdatedDateTime".into(), json!(at));
        }
    }
}
