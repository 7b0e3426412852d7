//! What an evaluation puts on the tenant's schedule (the store's `due` items, fired by
//! `service/time`): for a device failing a policy, the end of its grace period and each instance
//! of the policy's scheduled actions, timed from the moment it began failing; for every device,
//! the moment it passes the tenant's check-in threshold. A policy's part of the device's hidden
//! record keeps a fingerprint of what was planned (`plan`) and the instances that fired
//! (`fired`), so an evaluation that changes nothing writes nothing, and an instance fires once.

use super::tenant::{Policy, ScheduledAction};
use crate::error::ApiError;
use crate::store::{DueItem, WriteTx};
use compliance::Ruleset;
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// A grace period's end: the device is evaluated again.
pub const GRACE: &str = "grace";
/// An instance of a scheduled action.
pub const ACTION: &str = "action";
/// The check-in threshold passes: the device is evaluated again.
pub const CHECK_IN: &str = "checkIn";
/// A round of simulated check-ins (`simulate`).
pub const SIMULATE: &str = "simulatedCheckIns";

/// The device an evaluation plans for.
pub struct Planner<'a> {
    pub rules: &'a Ruleset,
    pub tenant: &'a str,
    pub device: &'a str,
    pub platform: Option<&'a str>,
}

/// The name of each instance of `actions`: its type, its hours, and which of the equal ones it is
/// (the same action may be configured more than once; each instance fires once).
pub fn instances(actions: &[ScheduledAction]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(actions.len());
    for action in actions {
        let base = format!("{}@{}h", action.action_type, action.grace_hours);
        let nth = out
            .iter()
            .filter(|i| i.rsplit_once('#').map(|(b, _)| b) == Some(base.as_str()))
            .count();
        out.push(format!("{base}#{}", nth + 1));
    }
    out
}

fn hours_after(since: i64, hours: i64) -> i64 {
    since
        .saturating_add(hours.saturating_mul(3600))
        .saturating_mul(1000)
}

fn fired(entry: &Map<String, Value>) -> Vec<String> {
    entry
        .get("fired")
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

impl Planner<'_> {
    /// Brings the schedule of `policy` on the device in line with `since` (when it began failing,
    /// Unix seconds; `None`: it does not fail). `entry` is the policy's part of the hidden record
    /// as it will be stored, holding the last plan and fired instances. Returns whether a
    /// recovery cancelled instances of a `retire` that had fired (the caller takes the device off
    /// the retire list).
    pub fn policy(
        &self,
        tx: &mut dyn WriteTx,
        policy: &Policy,
        since: Option<i64>,
        entry: &mut Map<String, Value>,
    ) -> Result<bool, ApiError> {
        let Some(since) = since else {
            let had_plan = entry.remove("plan").is_some();
            let fired = fired(entry);
            entry.remove("fired");
            if had_plan {
                tx.due_cancel(self.tenant, self.device, Some(&policy.id))?;
            }
            return Ok(fired.iter().any(|i| i.starts_with("retire@")));
        };
        let mut hash = crate::common::Fnv1a::default();
        let _ = write!(
            hash,
            "{since}\u{1f}{:?}\u{1f}{:?}",
            self.platform, policy.actions
        );
        let print = hash.hex();
        if entry.get("plan").and_then(Value::as_str) == Some(print.as_str()) {
            return Ok(false);
        }
        // A new moment of noncompliance starts the schedule again.
        let since_before = entry.get("plannedSince").and_then(Value::as_i64);
        let mut fired = fired(entry);
        if since_before != Some(since) {
            fired.clear();
        }
        tx.due_cancel(self.tenant, self.device, Some(&policy.id))?;
        for (action, instance) in policy.actions.iter().zip(instances(&policy.actions)) {
            let (kind, body) = match action.action_type.as_str() {
                "block" if action.grace_hours > 0 => (GRACE, json!({ "since": since })),
                "block" | "noAction" => continue,
                other if !self.rules.action_exists(other, self.platform) => continue,
                _ if fired.contains(&instance) => continue,
                _ => (
                    ACTION,
                    json!({
                        "since": since,
                        "instance": instance,
                        "actionType": action.action_type,
                        "gracePeriodHours": action.grace_hours,
                        "notificationTemplateId": action.template_id,
                        "notificationMessageCCList": action.cc,
                    }),
                ),
            };
            tx.due_put(&DueItem {
                tenant: self.tenant.to_string(),
                id: format!("{}/{}/{instance}", self.device, policy.id),
                at: hours_after(since, action.grace_hours),
                device: self.device.to_string(),
                policy: policy.id.clone(),
                kind: kind.to_string(),
                body: body.to_string(),
            })?;
        }
        entry.insert("plan".into(), json!(print));
        entry.insert("plannedSince".into(), json!(since));
        entry.insert("fired".into(), json!(fired));
        Ok(false)
    }

    /// Puts the moment the device passes the check-in threshold on the schedule (`stale_at`, Unix
    /// milliseconds; `None`: it never reported), unless the record has it there already.
    pub fn check_in(
        &self,
        tx: &mut dyn WriteTx,
        stale_at: Option<i64>,
        record: &mut Map<String, Value>,
    ) -> Result<(), ApiError> {
        let planned = record.get("staleAt").and_then(Value::as_i64);
        if planned == stale_at {
            return Ok(());
        }
        match stale_at {
            // Its id is the device's: putting it replaces the one planned before.
            Some(at) => {
                tx.due_put(&DueItem {
                    tenant: self.tenant.to_string(),
                    id: format!("{}/{CHECK_IN}", self.device),
                    at,
                    device: self.device.to_string(),
                    policy: String::new(),
                    kind: CHECK_IN.to_string(),
                    body: "{}".into(),
                })?;
                record.insert("staleAt".into(), json!(at));
            }
            None => {
                tx.due_cancel(self.tenant, self.device, Some(""))?;
                record.remove("staleAt");
            }
        }
        Ok(())
    }
}

/// A hidden record as an import brings it, without its plans: the schedule's items are the
/// store's, not entities, so an export does not carry them. The record keeps since when each
/// policy fails and what has fired; without the plans, the first evaluation after the import
/// puts the same items back on the schedule.
pub fn without_plans(record: &mut Map<String, Value>) {
    record.remove("staleAt");
    if let Some(Value::Object(policies)) = record.get_mut("policies") {
        for entry in policies.values_mut().filter_map(Value::as_object_mut) {
            entry.remove("plan");
        }
    }
}

/// Records that `instance` of the policy fired on the device (`entry`: the policy's part of the
/// hidden record).
pub fn mark_fired(entry: &mut Map<String, Value>, instance: &str) {
    let mut fired = fired(entry);
    if !fired.iter().any(|i| i == instance) {
        fired.push(instance.to_string());
    }
    entry.insert("fired".into(), json!(fired));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(kind: &str, hours: i64) -> ScheduledAction {
        ScheduledAction {
            action_type: kind.into(),
            grace_hours: hours,
            template_id: None,
            cc: Vec::new(),
        }
    }

    #[test]
    fn equal_actions_are_told_apart_by_their_order() {
        let names = instances(&[
            action("notification", 24),
            action("remoteLock", 120),
            action("notification", 24),
            action("notification", 48),
        ]);
        assert_eq!(
            names,
            [
                "notification@24h#1",
                "remoteLock@120h#1",
                "notification@24h#2",
                "notification@48h#1"
            ]
        );
    }
}
