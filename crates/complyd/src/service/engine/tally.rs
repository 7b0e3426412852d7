//! The setting summaries' counts an evaluation moves, added up in memory and written once per
//! write: a round over 200 devices moves each summary row once, not once per device and setting.

use super::results;
use crate::error::ApiError;
use crate::store::{Key, WriteTx};
use odata::Model;
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;

const SETTING_SUMMARIES: &str = "deviceCompliancePolicies/deviceSettingStateSummaries";
const TENANT_SUMMARIES: &str = "deviceCompliancePolicySettingStateSummaries";

/// The count properties of the summaries, in `complianceStatus` order of the states that feed
/// them (`count_index`).
const COUNTS: [&str; 7] = [
    "compliantDeviceCount",
    "nonCompliantDeviceCount",
    "notApplicableDeviceCount",
    "errorDeviceCount",
    "conflictDeviceCount",
    "remediatedDeviceCount",
    "unknownDeviceCount",
];

fn count_index(state: &str) -> usize {
    match state {
        "compliant" => 0,
        "nonCompliant" => 1,
        "notApplicable" => 2,
        "error" => 3,
        "conflict" => 4,
        "remediated" => 5,
        _ => 6,
    }
}

/// One summary row's pending change: what a new row is made with, and the moves.
#[derive(Default)]
struct Pending {
    setting: String,
    name: String,
    platform_type: String,
    by: [i64; 7],
}

/// Pending moves, per policy setting and per tenant setting (ordered: rows are written, and on
/// PostgreSQL locked, in one order).
#[derive(Default)]
pub struct Tally {
    per_policy: BTreeMap<(String, String), Pending>,
    per_tenant: BTreeMap<String, Pending>,
}

/// The tally one write shares between its evaluations.
pub type SharedTally = RefCell<Tally>;

impl Tally {
    /// Whether nothing moved.
    pub fn is_empty(&self) -> bool {
        self.per_policy.is_empty() && self.per_tenant.is_empty()
    }

    /// Moves the count of `state` for the setting by `by` (+1 or -1).
    pub fn add(
        &mut self,
        policy_id: &str,
        setting: &str,
        name: &str,
        platform_type: &str,
        state: &str,
        by: i64,
    ) {
        let pending = |p: &mut Pending| {
            if p.setting.is_empty() {
                p.setting = setting.to_string();
                p.name = name.to_string();
                p.platform_type = platform_type.to_string();
            }
            p.by[count_index(state)] += by;
        };
        pending(
            self.per_policy
                .entry((policy_id.to_string(), name.to_string()))
                .or_default(),
        );
        pending(
            self.per_tenant
                .entry(tenant_summary_id(setting))
                .or_default(),
        );
    }

    /// Writes every moved row (rows whose moves cancel out are left alone).
    pub fn flush(
        self,
        tx: &mut dyn WriteTx,
        model: &'static Model,
        tenant: &str,
    ) -> Result<(), ApiError> {
        for ((policy_id, name), p) in self.per_policy {
            let key = Key::new(tenant, SETTING_SUMMARIES, &policy_id, &name);
            let fresh = || {
                let mut b = zero_counts();
                b.insert("settingName".into(), json!(p.name));
                b.insert("instancePath".into(), json!(p.setting));
                b
            };
            moved(
                tx,
                model,
                &key,
                "microsoft.graph.settingStateDeviceSummary",
                &p.by,
                fresh,
            )?;
        }
        for (id, p) in self.per_tenant {
            let key = Key::new(tenant, TENANT_SUMMARIES, "", &id);
            let fresh = || {
                let mut b = zero_counts();
                b.insert("platformType".into(), json!(p.platform_type));
                b.insert("setting".into(), json!(p.setting));
                b.insert("settingName".into(), json!(p.name));
                b
            };
            let ty = "microsoft.graph.deviceCompliancePolicySettingStateSummary";
            moved(tx, model, &key, ty, &p.by, fresh)?;
        }
        Ok(())
    }
}

fn moved(
    tx: &mut dyn WriteTx,
    model: &'static Model,
    key: &crate::store::Key,
    type_name: &str,
    by: &[i64; 7],
    fresh: impl FnOnce() -> Map<String, Value>,
) -> Result<(), ApiError> {
    if by.iter().all(|n| *n == 0) {
        return Ok(());
    }
    let mut body = match tx.get(key)? {
        Some(row) => crate::service::parse_body(&row.body)?,
        // Only taking away from a row that is gone (its policy was deleted): nothing to count.
        None if by.iter().all(|n| *n <= 0) => return Ok(()),
        None => fresh(),
    };
    for (count, n) in COUNTS.iter().zip(by) {
        let now = body.get(*count).and_then(Value::as_i64).unwrap_or(0);
        body.insert((*count).into(), json!(now.saturating_add(*n).max(0)));
    }
    results::put(tx, model, key, type_name, &body)
}

fn zero_counts() -> Map<String, Value> {
    COUNTS.iter().map(|c| (c.to_string(), json!(0))).collect()
}

/// The tenant-wide summary's id for a setting (`windows10CompliancePolicy.passwordRequired`).
pub fn tenant_summary_id(setting: &str) -> String {
    setting.replace('.', "_")
}
