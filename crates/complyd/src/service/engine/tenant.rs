//! What an evaluation reads of the tenant, inside the write that stores its results: the
//! compliance settings, every policy with its assignments and its grace period, and the groups
//! a device and its primary user belong to.

use crate::error::ApiError;
use crate::service::parse_body;
use crate::store::{Key, PageRow, Query, Related, WriteTx};
use odata::query::bind::{Compare, Condition, Literal, Operand, Scalar, Scope};
use odata::Model;
use serde_json::{Map, Value};

pub const POLICIES: &str = "deviceCompliancePolicies";
const ASSIGNMENTS: &str = "deviceCompliancePolicies/assignments";
const RULES: &str = "deviceCompliancePolicies/scheduledActionsForRule";
const ACTIONS: &str =
    "deviceCompliancePolicies/scheduledActionsForRule/scheduledActionConfigurations";
pub const DIRECTORY: &str = "directoryObjects";
pub const GROUP_TYPE: &str = "microsoft.graph.group";
pub const DIRECTORY_DEVICE: &str = "microsoft.graph.device";

/// The most policies one evaluation reads (a tenant with more is refused, not half-evaluated).
pub const MAX_POLICIES: usize = 10_000;
/// The most assignments, rules or actions read per policy.
const MAX_PER_POLICY: usize = 1_000;
/// The most groups a device or user is found in (every level).
const MAX_GROUPS: usize = 10_000;

/// `deviceManagement.settings`, with the defaults the model declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub secure_by_default: bool,
    pub checkin_threshold_days: i64,
    pub scheduled_actions_enabled: bool,
}

impl Settings {
    pub fn read(tx: &mut dyn WriteTx, tenant: &str) -> Result<Self, ApiError> {
        let key = Key {
            tenant: tenant.to_string(),
            collection: "deviceManagement".into(),
            parent: String::new(),
            id: tenant.to_string(),
        };
        let body = match tx.get(&key)? {
            Some(row) => parse_body(&row.body)?,
            None => Map::new(),
        };
        let settings = body.get("settings").and_then(Value::as_object);
        let get = |name: &str| settings.and_then(|s| s.get(name));
        Ok(Self {
            secure_by_default: get("secureByDefault")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            checkin_threshold_days: get("deviceComplianceCheckinThresholdDays")
                .and_then(Value::as_i64)
                .unwrap_or(30),
            scheduled_actions_enabled: get("isScheduledActionEnabled")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        })
    }
}

/// One assignment target, as evaluation reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    AllDevices,
    AllUsers,
    Group(String),
    ExcludedGroup(String),
    /// A target the engine cannot resolve (Configuration Manager collections, scope tag groups).
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub target: Target,
    /// The filter's id and whether it includes (`true`) or excludes the devices it matches.
    pub filter: Option<(String, bool)>,
}

/// A policy with what evaluation needs of it.
#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub type_name: String,
    pub body: Map<String, Value>,
    pub assignments: Vec<Assignment>,
    /// The `block` action's grace period (0 when the policy has none).
    pub grace_hours: i64,
    /// Its scheduled actions for noncompliance, in the order stored.
    pub actions: Vec<ScheduledAction>,
}

/// One `deviceComplianceActionItem` of a policy's rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledAction {
    pub action_type: String,
    pub grace_hours: i64,
    pub template_id: Option<String>,
    /// Group ids of `notificationMessageCCList`.
    pub cc: Vec<String>,
}

impl ScheduledAction {
    fn of(body: &Map<String, Value>) -> Self {
        let text = |name: &str| body.get(name).and_then(Value::as_str);
        Self {
            action_type: text("actionType").unwrap_or("noAction").to_string(),
            grace_hours: body
                .get("gracePeriodHours")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            template_id: text("notificationTemplateId")
                .filter(|id| !id.is_empty() && *id != "00000000-0000-0000-0000-000000000000")
                .map(str::to_string),
            cc: body
                .get("notificationMessageCCList")
                .and_then(Value::as_array)
                .map(|ids| {
                    ids.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

impl Policy {
    pub fn display_name(&self) -> &str {
        self.body
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn version(&self) -> i64 {
        self.body
            .get("version")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }
}

fn members(
    tx: &mut dyn WriteTx,
    tenant: &str,
    collection: &str,
    parent: &str,
) -> Result<Vec<super::results::Stored>, ApiError> {
    tx.members(tenant, collection, parent, MAX_PER_POLICY)?
        .into_iter()
        .map(|row| Ok((row.key.id.clone(), parse_body(&row.body)?)))
        .collect()
}

/// Every policy of the tenant, oldest first.
pub fn policies(tx: &mut dyn WriteTx, tenant: &str) -> Result<Vec<Policy>, ApiError> {
    let mut query = Query::all(tenant, POLICIES, "");
    query.limit = MAX_POLICIES + 1;
    let rows = tx.query(&query)?;
    if rows.len() > MAX_POLICIES {
        return Err(ApiError::bad_request(format!(
            "The tenant has more than {MAX_POLICIES} compliance policies (the engine's limit)."
        )));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (row, _) in rows {
        out.push(policy(tx, tenant, &row.key.id, &row.type_name, &row.body)?);
    }
    Ok(out)
}

/// One stored policy, with its assignments and grace period.
pub fn policy(
    tx: &mut dyn WriteTx,
    tenant: &str,
    id: &str,
    type_name: &str,
    body: &str,
) -> Result<Policy, ApiError> {
    let assignments = members(tx, tenant, ASSIGNMENTS, id)?
        .into_iter()
        .filter_map(|(_, body)| assignment(&body))
        .collect();
    let mut grace_hours = 0;
    let mut actions = Vec::new();
    for (rule_id, _) in members(tx, tenant, RULES, id)? {
        let parent = format!("{id}/{rule_id}");
        for (_, body) in members(tx, tenant, ACTIONS, &parent)? {
            let action = ScheduledAction::of(&body);
            if action.action_type == "block" {
                grace_hours = action.grace_hours;
            }
            actions.push(action);
        }
    }
    Ok(Policy {
        id: id.to_string(),
        type_name: type_name.to_string(),
        body: parse_body(body)?,
        assignments,
        grace_hours,
        actions,
    })
}

pub(super) fn assignment(body: &Map<String, Value>) -> Option<Assignment> {
    let target = body.get("target")?.as_object()?;
    let kind = target
        .get("@odata.type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let group = || {
        target
            .get("groupId")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let target_kind = match kind.trim_start_matches('#').rsplit('.').next() {
        Some("allDevicesAssignmentTarget") => Target::AllDevices,
        Some("allLicensedUsersAssignmentTarget") => Target::AllUsers,
        Some("groupAssignmentTarget") => Target::Group(group()?),
        Some("exclusionGroupAssignmentTarget") => Target::ExcludedGroup(group()?),
        _ => Target::Other,
    };
    let filter_id = target
        .get("deviceAndAppManagementAssignmentFilterId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && *id != "00000000-0000-0000-0000-000000000000");
    let filter_type = target
        .get("deviceAndAppManagementAssignmentFilterType")
        .and_then(Value::as_str)
        .unwrap_or("none");
    let filter = match (filter_id, filter_type) {
        (Some(id), "include") => Some((id.to_string(), true)),
        (Some(id), "exclude") => Some((id.to_string(), false)),
        _ => None,
    };
    Some(Assignment {
        target: target_kind,
        filter,
    })
}

/// The groups `id` is a member of, at every level (none when it is not a directory object).
pub fn groups_of(
    tx: &mut dyn WriteTx,
    model: &Model,
    tenant: &str,
    id: &str,
) -> Result<Vec<String>, ApiError> {
    let Some(links) = model.link_collection("members") else {
        return Ok(Vec::new());
    };
    let mut query = Query::all(tenant, DIRECTORY, "");
    query.related = Some(Related {
        links,
        anchor: id.to_string(),
        inverse: true,
        transitive: true,
    });
    query.limit = MAX_GROUPS;
    Ok(tx
        .query(&query)?
        .into_iter()
        .map(|(row, _)| row.key.id)
        .collect())
}

/// The object id of the directory device whose `deviceId` is `device_id`.
pub fn directory_device_id(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device_id: &str,
) -> Result<Option<String>, ApiError> {
    Ok(directory_device_in(
        tx.query(&directory_device_query(tenant, device_id))?,
    ))
}

/// The query `directory_device_id` answers from: the first directory object with that `deviceId`.
pub fn directory_device_query(tenant: &str, device_id: &str) -> Query {
    let mut query = Query::all(tenant, DIRECTORY, "");
    query.filter = Some(property_eq("deviceId", device_id));
    query.limit = 1;
    query
}

/// The directory device in what `directory_device_query` found: its first row, if a device.
pub fn directory_device_in(found: Vec<PageRow>) -> Option<String> {
    match found.into_iter().next() {
        Some((row, _)) if row.type_name == DIRECTORY_DEVICE => Some(row.key.id),
        _ => None,
    }
}

/// `PROPERTY eq 'value'` on the stored bodies.
pub fn property_eq(property: &str, value: &str) -> Condition {
    Condition::Compare {
        op: Compare::Eq,
        left: Operand::Property {
            scope: Scope::Entity,
            path: vec![property.to_string()],
            ty: Scalar::String,
            only_types: None,
            members: Vec::new(),
        },
        right: Operand::Literal(Literal::String(value.to_string())),
        ty: Scalar::String,
    }
}
