//! What a policy would do before it is saved (`POST /complyd/v1/policies/evaluate`): the
//! tenant's devices it would reach (its `assignments`, else every device) and, for each it would
//! not find compliant, why, setting by setting. Nothing is stored; Intune has no such preview.

use super::applies::{self, Filters, Subject};
use super::tenant::{self, Policy};
use super::{read_evaluation, results, Engine};
use crate::error::ApiError;
use crate::service::{parse_body, Service};
use crate::store::{Cursor, Key, Query};
use compliance::PolicyState;
use odata::validate::{Mode, Validator};
use odata::Version;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Devices read per batch.
const BATCH: usize = 500;
/// The most devices one preview lists (it counts them all).
pub const MAX_LISTED: usize = 1_000;

impl Service {
    /// Evaluates the unsaved policy `body` on the tenant's devices.
    pub async fn what_if(&self, tenant: &str, body: &Value) -> Result<Value, ApiError> {
        let base = self
            .model
            .structured("microsoft.graph.deviceCompliancePolicy")
            .ok_or_else(|| {
                ApiError::Internal("deviceCompliancePolicy is not in the model".into())
            })?;
        let validated =
            Validator::new(self.model, Version::Beta).entity(base, body, Mode::Create)?;
        let assignments: Vec<tenant::Assignment> = validated
            .children
            .iter()
            .filter(|(nav, _)| nav.name == "assignments")
            .flat_map(|(_, members)| members.iter())
            .filter_map(|m| tenant::assignment(&m.properties))
            .collect();
        let everyone = assignments.is_empty();
        let grace_hours = validated
            .children
            .iter()
            .filter(|(nav, _)| nav.name == "scheduledActionsForRule")
            .flat_map(|(_, rules)| rules.iter())
            .flat_map(|rule| rule.children.iter().flat_map(|(_, actions)| actions.iter()))
            .find(|a| a.properties.get("actionType").and_then(Value::as_str) == Some("block"))
            .and_then(|a| a.properties.get("gracePeriodHours").and_then(Value::as_i64))
            .unwrap_or(0);
        let policy = Arc::new(Policy {
            id: "(unsaved)".into(),
            type_name: validated.ty.name.clone(),
            body: validated.properties.clone(),
            assignments,
            grace_hours,
            actions: Vec::new(),
        });
        let mut cursor: Option<Cursor> = None;
        let (mut reached, mut counts, mut listed) = (0usize, Map::new(), Vec::new());
        loop {
            let mut query = Query::all(tenant, results::DEVICES, "");
            query.limit = BATCH;
            query.cursor = cursor.take();
            let page = self.store.query(query).await?;
            let Some((last, values)) = page.last() else {
                break;
            };
            cursor = Some(Cursor {
                values: values.clone(),
                seq: last.seq,
            });
            let ids: Vec<String> = page.iter().map(|(r, _)| r.key.id.clone()).collect();
            let (engine, policy, tenant_owned) = (
                Arc::clone(&self.engine),
                Arc::clone(&policy),
                tenant.to_string(),
            );
            // Read inside one job per batch so each device is seen with its groups as of one moment;
            // the job writes nothing.
            let found = self
                .store
                .write(move |tx| {
                    let mut out = Vec::new();
                    let mut filters = Filters::default();
                    let now = crate::service::time::now_ms(tx, &tenant_owned)? / 1000;
                    let view = engine.view(tx, &tenant_owned)?;
                    for id in &ids {
                        let key = Key::new(&tenant_owned, results::DEVICES, "", id);
                        let Some(row) = tx.get(&key)? else { continue };
                        let device = parse_body(&row.body)?;
                        let record = read_evaluation(tx, &tenant_owned, id)?;
                        let groups = engine.groups(tx, &view, &tenant_owned, &device, None)?;
                        let subject = Subject {
                            device_id: id,
                            device: &device,
                            has_user: device
                                .get("userId")
                                .and_then(Value::as_str)
                                .is_some_and(|u| !u.is_empty()),
                            groups: &groups,
                        };
                        if !everyone
                            && !applies::applies(
                                tx,
                                &tenant_owned,
                                &policy,
                                &subject,
                                &mut filters,
                            )?
                        {
                            continue;
                        }
                        out.push(preview(&engine, &policy, id, &device, &record, now));
                    }
                    Ok::<_, ApiError>(out)
                })
                .await?;
            for (state, entry) in found {
                reached += 1;
                let n = counts
                    .get(state.name())
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                counts.insert(state.name().into(), json!(n + 1));
                if state >= PolicyState::InGracePeriod && listed.len() < MAX_LISTED {
                    listed.push(entry);
                }
            }
            if page.len() < BATCH {
                break;
            }
        }
        Ok(json!({
            "policyType": policy.type_name.trim_start_matches("microsoft.graph."),
            "devicesReached": reached,
            "states": counts,
            "devices": listed,
        }))
    }
}

/// One device under the unsaved policy: its state and, when it fails, the failing settings.
fn preview(
    engine: &Engine,
    policy: &Policy,
    id: &str,
    device: &Map<String, Value>,
    record: &Map<String, Value>,
    now: i64,
) -> (PolicyState, Value) {
    let facts = engine.facts(device, record);
    let platform = compliance::platform_of(&engine.rules, facts).map(str::to_string);
    // As if the policy found the device failing now: the grace period starts today.
    let outcome = engine.outcome(policy, platform.as_deref(), facts, None, now);
    let failing: Vec<Value> = outcome
        .settings
        .iter()
        .filter(|s| s.state != "compliant")
        .map(|s| {
            json!({
                "setting": s.name,
                "state": s.state,
                "currentValue": s.current,
                "requiredValue": policy.body.get(&s.name).cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let entry = json!({
        "id": id,
        "deviceName": device.get("deviceName").cloned().unwrap_or(Value::Null),
        "userPrincipalName": device.get("userPrincipalName").cloned().unwrap_or(Value::Null),
        "operatingSystem": device.get("operatingSystem").cloned().unwrap_or(Value::Null),
        "state": outcome.state.name(),
        "complianceGracePeriodExpirationDateTime": outcome.grace_ends.map(results::utc),
        "settings": failing,
    });
    (outcome.state, entry)
}
