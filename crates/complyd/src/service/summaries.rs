//! Overviews and summaries derived from the statuses they count, until a client PATCHes them.
//! Which single-valued navigation counts what is data here; the counting is one routine.

use crate::error::ApiError;
use crate::store::{CountBy, Key, Store};
use serde_json::{Map, Value};

pub struct Derivation {
    /// Collection path of the single-valued navigation.
    pub single: &'static str,
    /// Collection path of the entities counted.
    pub source: &'static str,
    /// Count only the source entities under the same parent (else the whole tenant's).
    pub per_parent: bool,
    pub status_property: &'static str,
    /// Counter property and the status values it counts.
    pub counters: &'static [(&'static str, &'static [&'static str])],
    /// Overview property copied from the containing entity's property.
    pub from_container: &'static [(&'static str, &'static str)],
}

const OVERVIEW_COUNTERS: &[(&str, &[&str])] = &[
    ("pendingCount", &["unknown"]),
    ("notApplicableCount", &["notApplicable"]),
    ("successCount", &["compliant", "remediated"]),
    ("errorCount", &["error"]),
    ("failedCount", &["nonCompliant"]),
    ("conflictCount", &["conflict"]),
];

const FROM_POLICY: &[(&str, &str)] = &[
    ("configurationVersion", "version"),
    ("lastUpdateDateTime", "lastModifiedDateTime"),
];

pub const DERIVATIONS: &[Derivation] = &[
    Derivation {
        single: "deviceCompliancePolicies/deviceStatusOverview",
        source: "deviceCompliancePolicies/deviceStatuses",
        per_parent: true,
        status_property: "status",
        counters: OVERVIEW_COUNTERS,
        from_container: FROM_POLICY,
    },
    Derivation {
        single: "deviceCompliancePolicies/userStatusOverview",
        source: "deviceCompliancePolicies/userStatuses",
        per_parent: true,
        status_property: "status",
        counters: OVERVIEW_COUNTERS,
        from_container: FROM_POLICY,
    },
    Derivation {
        single: "deviceCompliancePolicyDeviceStateSummary",
        source: "deviceCompliancePolicies/deviceStatuses",
        per_parent: false,
        status_property: "status",
        counters: &[
            ("compliantDeviceCount", &["compliant"]),
            ("nonCompliantDeviceCount", &["nonCompliant"]),
            ("remediatedDeviceCount", &["remediated"]),
            ("errorDeviceCount", &["error"]),
            ("conflictDeviceCount", &["conflict"]),
            ("notApplicableDeviceCount", &["notApplicable"]),
            ("unknownDeviceCount", &["unknown", "notAssigned"]),
        ],
        from_container: &[],
    },
];

/// The derived body of the single-valued navigation at `key`, if it is one we derive.
pub async fn derive(
    store: &dyn Store,
    key: &Key,
    container: Option<&Map<String, Value>>,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let Some(d) = DERIVATIONS.iter().find(|d| d.single == key.collection) else {
        return Ok(None);
    };
    let parent = d.per_parent.then_some(key.parent.as_str());
    let groups = store
        .count_by(CountBy {
            tenant: &key.tenant,
            collection: d.source,
            parent,
            property: d.status_property,
        })
        .await?;
    let mut body = Map::new();
    for (counter, statuses) in d.counters {
        let n: u64 = groups
            .iter()
            .filter(|(s, _)| statuses.contains(&s.as_str()))
            .map(|(_, n)| n)
            .sum();
        body.insert(counter.to_string(), Value::from(n));
    }
    if let Some(container) = container {
        for (to, from) in d.from_container {
            if let Some(v) = container.get(*from) {
                body.insert(to.to_string(), v.clone());
            }
        }
    }
    Ok(Some(body))
}
