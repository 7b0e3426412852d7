//! Behaviours of the live Intune service that differ from the documented API, switched on by
//! `--fidelity intune`, and the compliance rules that go with them.

use super::Operation;
use crate::error::ApiError;
use odata::path::Addressed;
use odata::query::bind::BoundQuery;
use odata::validate::Validated;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fidelity {
    /// The documented API, as the Graph reference pages and their examples show it.
    #[default]
    Documented,
    /// The live service's quirks (reference §2.4).
    Intune,
}

/// Routes the docs list that the live service does not serve: (navigation, target, operation).
const LIVE_ROUTE_GAPS: &[(&str, Addressed, Operation)] = &[
    ("assignments", Addressed::Collection, Operation::Post),
    ("assignments", Addressed::Entity, Operation::Delete),
    (
        "scheduledActionsForRule",
        Addressed::Collection,
        Operation::Get,
    ),
];

pub fn is_live_route_gap(navigation: &str, addressed: Addressed, operation: Operation) -> bool {
    LIVE_ROUTE_GAPS
        .iter()
        .any(|(n, a, o)| *n == navigation && *a == addressed && *o == operation)
}

pub const POLICY_TYPE: &str = "microsoft.graph.deviceCompliancePolicy";
pub const SCHEDULED_ACTIONS: &str = "scheduledActionsForRule";

/// The live rule: a policy carries exactly one `block` action across its scheduled actions.
pub fn require_one_block_action(rules: &[Validated<'_>]) -> Result<(), ApiError> {
    let blocks = rules
        .iter()
        .flat_map(|rule| rule.children.iter().flat_map(|(_, items)| items.iter()))
        .filter(|item| item.properties.get("actionType") == Some(&Value::String("block".into())))
        .count();
    if blocks == 1 {
        Ok(())
    } else {
        Err(ApiError::Business(
            "Compliance policy must have one and only one block scheduled action".into(),
        ))
    }
}

/// What the live service does with string functions in `$filter`, per collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StringFunctions {
    Refused,
    Ignored,
}

/// Compliance policies refuse them; the status collections, like managed devices, drop a filter
/// they cannot serve and answer unfiltered.
const STRING_FUNCTION_RULES: &[(&str, StringFunctions)] = &[
    ("deviceCompliancePolicies", StringFunctions::Refused),
    (
        "deviceCompliancePolicies/deviceStatuses",
        StringFunctions::Ignored,
    ),
    (
        "deviceCompliancePolicies/userStatuses",
        StringFunctions::Ignored,
    ),
];

/// Applies the live `$filter` restrictions in `intune` fidelity; the documented mode follows OData.
pub fn apply_filter_rules(
    fidelity: Fidelity,
    collection: &str,
    bound: &mut BoundQuery<'_>,
) -> Result<(), ApiError> {
    if fidelity != Fidelity::Intune
        || !bound
            .filter
            .as_ref()
            .is_some_and(|f| f.uses_string_functions())
    {
        return Ok(());
    }
    match STRING_FUNCTION_RULES.iter().find(|(c, _)| *c == collection).map(|(_, r)| *r) {
        Some(StringFunctions::Refused) => Err(ApiError::bad_request(format!(
            "Invalid filter clause: string functions (contains, startswith, endswith, tolower, toupper, length) are not supported on {collection}."
        ))),
        Some(StringFunctions::Ignored) => {
            bound.filter = None;
            Ok(())
        }
        None => Ok(()),
    }
}
