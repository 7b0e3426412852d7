//! Where an evaluation's results are stored, as the Graph entities that show them: the device's
//! policy states, the policy's device and user statuses, and the per-setting summaries (per
//! policy and tenant-wide), whose counts are kept up to date by the change each evaluation makes.

use super::tenant::{property_eq, Policy};
use crate::common::Fnv1a;
use crate::error::ApiError;
use crate::service::parse_body;
use crate::store::{Key, Query, WriteTx};
use compliance::PolicyState;
use odata::Model;
use serde_json::{json, Map, Value};
use std::fmt::Write;

pub const DEVICES: &str = "managedDevices";
pub const POLICY_STATES: &str = "managedDevices/deviceCompliancePolicyStates";
const DEVICE_STATUSES: &str = "deviceCompliancePolicies/deviceStatuses";
const USER_STATUSES: &str = "deviceCompliancePolicies/userStatuses";
/// Seed 002's root, which the managed tenants' view shows.
pub const TENANT_VIEW: &str = "managedDeviceCompliances";
const TENANT_SETTING_STATES: &str =
    "deviceCompliancePolicySettingStateSummaries/deviceComplianceSettingStates";

/// The most devices of one user a user status is computed over.
const MAX_USER_DEVICES: usize = 1_000;

/// A stored entity: its id and body.
pub type Stored = (String, Map<String, Value>);

/// What every write of one evaluation shares: the model (for the stored shapes), the tenant and
/// the time it runs at.
pub struct Writer<'a> {
    pub model: &'static Model,
    pub tenant: &'a str,
    /// `DateTimeOffset` text of the evaluation's time.
    pub now: &'a str,
    /// The device reported (check-in, new device): its statuses take `now` as last reported.
    /// Otherwise (a re-evaluation) a status that would change in nothing else is left alone.
    pub reported: bool,
    /// The setting summaries' moves, written once for the whole write (`Tally::flush`).
    pub tally: &'a super::tally::SharedTally,
}

/// `body` as stored text, in the stored shape of its type (hidden rows as they are).
fn shaped_text(model: &'static Model, type_name: &str, body: &Map<String, Value>) -> String {
    match model.structured(type_name) {
        Some(ty) => crate::service::canonical_text(model, ty, body),
        None => serde_json::to_string(body).unwrap_or_default(),
    }
}

fn upsert(tx: &mut dyn WriteTx, key: &Key, type_name: &str, text: &str) -> Result<(), ApiError> {
    if !tx.update(key, text)? {
        tx.insert(key, type_name, text)?;
    }
    Ok(())
}

/// Inserts or replaces a row, in the stored shape of its type.
pub fn put(
    tx: &mut dyn WriteTx,
    model: &'static Model,
    key: &Key,
    type_name: &str,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    upsert(tx, key, type_name, &shaped_text(model, type_name, body))
}

/// A row as read: its text, and its body parsed.
#[derive(Debug, Clone, Default)]
pub struct StoredRow {
    pub text: String,
    pub body: Map<String, Value>,
}

impl StoredRow {
    pub fn parse(text: String) -> Result<Self, ApiError> {
        Ok(Self {
            body: parse_body(&text)?,
            text,
        })
    }

    /// The stored `text` parsed, or `ahead` when it was parsed from that very text before the
    /// write (off the writer, by a round: see `ahead::read_ahead`).
    pub fn of_text(text: String, ahead: Option<Self>) -> Result<Self, ApiError> {
        match ahead {
            Some(ahead) if ahead.text == text => Ok(ahead),
            _ => Self::parse(text),
        }
    }

    pub fn read(tx: &mut dyn WriteTx, key: &Key) -> Result<Option<Self>, ApiError> {
        tx.get(key)?.map(|row| Self::parse(row.body)).transpose()
    }
}

/// What an evaluation reads of a stored policy state: its text (to compare with the new one)
/// and the setting states and platform whose counts it moves. Read without parsing the rest of
/// the body (Graph's `settingStates` repeat the user and the source per setting).
#[derive(Debug, Clone, Default)]
pub struct StoredState {
    pub text: String,
    platform_type: Option<String>,
    /// (setting, settingName, state) per setting state.
    settings: Vec<(String, String, String)>,
}

/// The members of a stored policy state `StoredState` keeps; serde skips the others.
#[derive(serde::Deserialize)]
struct StateMembers {
    #[serde(rename = "platformType", default)]
    platform_type: Option<String>,
    #[serde(rename = "settingStates", default)]
    setting_states: Option<Vec<SettingMembers>>,
}

#[derive(serde::Deserialize)]
struct SettingMembers {
    #[serde(default)]
    setting: Option<String>,
    #[serde(rename = "settingName", default)]
    setting_name: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

impl StoredState {
    fn from_text(text: String) -> Result<Self, ApiError> {
        let (platform_type, settings) = match serde_json::from_str::<StateMembers>(&text) {
            Ok(members) => (
                members.platform_type,
                members
                    .setting_states
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|s| Some((s.setting?, s.setting_name?, s.state?)))
                    .collect(),
            ),
            // Not the shape the engine writes (a member of another type): read it whole.
            Err(_) => {
                let body = parse_body(&text)?;
                let platform = body.get("platformType").and_then(Value::as_str);
                (platform.map(str::to_string), setting_states_of(&body))
            }
        };
        Ok(Self {
            text,
            platform_type,
            settings,
        })
    }
}

/// `put`, unless the row holds the same text already: `stored` is its text as stored (`None`:
/// read it). Returns whether it wrote.
pub fn put_changed(
    tx: &mut dyn WriteTx,
    model: &'static Model,
    key: &Key,
    type_name: &str,
    body: &Map<String, Value>,
    stored: Option<&str>,
) -> Result<bool, ApiError> {
    let text = shaped_text(model, type_name, body);
    let same = match stored {
        Some(stored) => stored == text,
        None => tx.get(key)?.is_some_and(|row| row.body == text),
    };
    if !same {
        upsert(tx, key, type_name, &text)?;
    }
    Ok(!same)
}

/// Whether a re-evaluation leaves the stored status `key` as it is: `status` (with `now` as last
/// reported) differs from it in nothing but that time.
fn status_unchanged(
    tx: &mut dyn WriteTx,
    w: &Writer<'_>,
    key: &Key,
    type_name: &str,
    status: &Map<String, Value>,
) -> Result<bool, ApiError> {
    if w.reported {
        return Ok(false);
    }
    let Some(stored) = StoredRow::read(tx, key)? else {
        return Ok(false);
    };
    let mut same = status.clone();
    same.insert(
        "lastReportedDateTime".into(),
        stored
            .body
            .get("lastReportedDateTime")
            .cloned()
            .unwrap_or(Value::Null),
    );
    Ok(shaped_text(w.model, type_name, &same) == stored.text)
}

fn get(tx: &mut dyn WriteTx, key: &Key) -> Result<Option<Map<String, Value>>, ApiError> {
    Ok(StoredRow::read(tx, key)?.map(|row| row.body))
}

/// One setting's state on one device, as a policy state's `settingStates` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingOutcome {
    /// `windows10CompliancePolicy.passwordRequired`
    pub setting: String,
    pub name: String,
    pub state: &'static str,
    pub current: Option<String>,
}

/// A policy's outcome on a device, with its grace period applied.
#[derive(Debug, Clone)]
pub struct PolicyOutcome {
    pub state: PolicyState,
    pub since: Option<i64>,
    pub grace_ends: Option<i64>,
    pub settings: Vec<SettingOutcome>,
    pub platform_type: String,
}

/// Who the device is, as the reports name it.
pub struct DeviceFacts<'a> {
    pub id: &'a str,
    pub body: &'a Map<String, Value>,
    /// Whether a name the reports show (device, model, user) changed since the last evaluation:
    /// then every row that shows one is written again.
    pub renamed: bool,
}

/// The device's names the reports show, as one fingerprint (`renamed`).
pub fn names_print(device: &Map<String, Value>) -> String {
    let mut hash = Fnv1a::default();
    for name in NAMES_SHOWN {
        if let Some(value) = device.get(*name) {
            let _ = write!(hash, "{value}");
        }
        let _ = hash.write_char('\u{1f}');
    }
    hash.hex()
}

const NAMES_SHOWN: &[&str] = &[
    "deviceName",
    "model",
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "emailAddress",
];

/// A fingerprint of what a device status shows of an outcome (besides the device's names).
pub fn status_print(outcome: &PolicyOutcome) -> String {
    let mut hash = Fnv1a::default();
    let _ = write!(
        hash,
        "{}\u{1f}{}\u{1f}{:?}",
        outcome.state.name(),
        outcome.platform_type,
        outcome.grace_ends
    );
    hash.hex()
}

/// A fingerprint of everything a policy's outcome shows besides the device's names and the
/// policy's version (a state shows its policy's version as the policy has it, read when shown:
/// the model's `follows`): equal fingerprints, equal rows.
pub fn outcome_print(policy: &Policy, outcome: &PolicyOutcome) -> String {
    // Hashed as written: the text is never built.
    let mut hash = Fnv1a::default();
    let _ = write!(
        hash,
        "{}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{}",
        policy.id,
        policy.display_name(),
        outcome.state.name(),
        outcome.grace_ends,
        outcome.platform_type,
    );
    for s in &outcome.settings {
        let _ = write!(
            hash,
            "\u{1e}{}\u{1f}{}\u{1f}{}\u{1f}{:?}",
            s.setting, s.name, s.state, s.current
        );
    }
    hash.hex()
}

impl DeviceFacts<'_> {
    fn text(&self, name: &str) -> Value {
        self.body.get(name).cloned().unwrap_or(Value::Null)
    }
}

/// What an evaluation found unchanged since the last one, by fingerprints.
#[derive(Debug, Clone, Copy)]
pub struct Unchanged {
    /// The whole outcome: only what a report stamps is written.
    pub outcome: bool,
    /// What the device status shows of it (its state, platform and grace end).
    pub status: bool,
}

/// Stores the outcome of `policy` on the device everywhere it shows, and moves the setting
/// counts from the previous outcome (`before`, the stored policy state) to this one.
pub fn store(
    tx: &mut dyn WriteTx,
    w: &Writer<'_>,
    device: &DeviceFacts<'_>,
    policy: &Policy,
    outcome: &PolicyOutcome,
    before: Option<&StoredState>,
    unchanged: Unchanged,
) -> Result<(), ApiError> {
    let same = unchanged.outcome && !device.renamed;
    if same && !w.reported {
        return Ok(());
    }
    let grace_end = outcome
        .grace_ends
        .map(utc)
        .unwrap_or_else(|| NO_GRACE.to_string());
    let upn = device.text("userPrincipalName");
    if !same {
        put_changed(
            tx,
            w.model,
            &Key::new(w.tenant, POLICY_STATES, device.id, &policy.id),
            "microsoft.graph.deviceCompliancePolicyState",
            &policy_state(device, policy, outcome),
            before.map(|b| b.text.as_str()),
        )?;
    }
    let status = json!({
        "deviceDisplayName": device.text("deviceName"),
        "userName": device.text("userDisplayName"),
        "deviceModel": device.text("model"),
        "platform": platform_number(w.model, &outcome.platform_type),
        "complianceGracePeriodExpirationDateTime": grace_end,
        "status": outcome.state.status(),
        "lastReportedDateTime": w.now,
        "userPrincipalName": upn,
    });
    let status = object(status);
    let status_key = Key::new(w.tenant, DEVICE_STATUSES, &policy.id, device.id);
    const STATUS: &str = "microsoft.graph.deviceComplianceDeviceStatus";
    // The user's status follows from the device statuses: unchanged when this one is.
    let shows_same = unchanged.status && !device.renamed;
    if same || (shows_same && w.reported) {
        // Reported again, and the status shows what it showed (the setting states may have
        // moved): only the report times move; the user's worst state and device count stand.
        put(tx, w.model, &status_key, STATUS, &status)?;
        if !stamp_user_status(tx, w, &policy.id, device)? {
            refresh_user_status(tx, w, &policy.id, device)?;
        }
    } else if shows_same {
        // A re-evaluation that moves nothing the status shows leaves it (and the user's).
    } else if !status_unchanged(tx, w, &status_key, STATUS, &status)? {
        put(tx, w.model, &status_key, STATUS, &status)?;
        refresh_user_status(tx, w, &policy.id, device)?;
    }
    if same {
        return Ok(());
    }
    let old = before.map_or(&[][..], |b| &b.settings);
    let new: Vec<(String, String, String)> = outcome
        .settings
        .iter()
        .map(|s| (s.setting.clone(), s.name.clone(), s.state.to_string()))
        .collect();
    move_counts(tx, w, device, policy, &outcome.platform_type, old, &new)
}

/// The device's state under `policy`, with a setting state per rule (its `deviceCompliancePolicyStates` row).
fn policy_state(
    device: &DeviceFacts<'_>,
    policy: &Policy,
    outcome: &PolicyOutcome,
) -> Map<String, Value> {
    let user_id = device.text("userId");
    let upn = device.text("userPrincipalName");
    let setting_states: Vec<Value> = outcome
        .settings
        .iter()
        .map(|s| {
            json!({
                "setting": s.setting,
                "settingName": s.name,
                "instanceDisplayName": null,
                "state": s.state,
                "errorCode": 0,
                "errorDescription": null,
                "currentValue": s.current,
                "userId": user_id,
                "userName": device.text("userDisplayName"),
                "userEmail": device.text("emailAddress"),
                "userPrincipalName": upn,
                "sources": [{"id": policy.id, "displayName": policy.display_name(), "sourceType": "deviceConfiguration"}],
                "settingInstanceId": null,
            })
        })
        .collect();
    let mut state = json!({
        "displayName": policy.display_name(),
        "platformType": outcome.platform_type,
        "settingCount": outcome.settings.len(),
        "settingStates": null,
        "state": outcome.state.status(),
        "version": policy.version(),
        "userId": user_id,
        "userPrincipalName": upn,
    });
    // Moved in, not through `json!`, which would copy every state by serializing it.
    state["settingStates"] = Value::Array(setting_states);
    object(state)
}

/// A `json!({…})` row as the map it is.
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Removes what `policy` showed for the device (it no longer applies).
pub fn remove(
    tx: &mut dyn WriteTx,
    w: &Writer<'_>,
    device: &DeviceFacts<'_>,
    policy_id: &str,
    before: &StoredState,
) -> Result<(), ApiError> {
    tx.delete_tree(&Key::new(w.tenant, POLICY_STATES, device.id, policy_id))?;
    tx.delete_tree(&Key::new(w.tenant, DEVICE_STATUSES, policy_id, device.id))?;
    refresh_user_status(tx, w, policy_id, device)?;
    let platform = before.platform_type.as_deref().unwrap_or("all").to_string();
    let stub = Policy {
        id: policy_id.to_string(),
        type_name: String::new(),
        body: Map::new(),
        assignments: Vec::new(),
        grace_hours: 0,
        actions: Vec::new(),
    };
    move_counts(tx, w, device, &stub, &platform, &before.settings, &[])
}

/// `complianceGracePeriodExpirationDateTime` when no grace period runs (what Graph shows).
pub const NO_GRACE: &str = "9999-12-31T23:59:59Z";

pub fn utc(unix_seconds: i64) -> String {
    odata::value::DateTimeOffset::from_unix_seconds(unix_seconds).to_utc_string()
}

/// The `policyPlatformType` member's value, as the status's Int32 `platform` shows it (the
/// model's enum; `all` for a type the model lacks).
fn platform_number(model: &Model, platform_type: &str) -> i64 {
    let members = model.enum_type("microsoft.graph.policyPlatformType");
    let value = |name: &str| {
        members.and_then(|e| e.members.iter().find(|m| m.name == name).map(|m| m.value))
    };
    value(platform_type).or_else(|| value("all")).unwrap_or(100)
}

fn setting_states_of(state: &Map<String, Value>) -> Vec<(String, String, String)> {
    state
        .get("settingStates")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|s| {
                    Some((
                        s.get("setting")?.as_str()?.to_string(),
                        s.get("settingName")?.as_str()?.to_string(),
                        s.get("state")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Moves the user's status's `lastReportedDateTime` to now, when the device's status changed in
/// nothing else (its count and worst state stand). Returns whether there was one to move.
fn stamp_user_status(
    tx: &mut dyn WriteTx,
    w: &Writer<'_>,
    policy_id: &str,
    device: &DeviceFacts<'_>,
) -> Result<bool, ApiError> {
    let Some(user_id) = device.body.get("userId").and_then(Value::as_str) else {
        return Ok(true);
    };
    let user_key = Key::new(w.tenant, USER_STATUSES, policy_id, user_id);
    let Some(mut status) = get(tx, &user_key)? else {
        return Ok(false);
    };
    status.insert("lastReportedDateTime".into(), json!(w.now));
    tx.update(&user_key, &Value::Object(status).to_string())?;
    Ok(true)
}

/// The user's status for the policy, from the statuses of the user's devices.
fn refresh_user_status(
    tx: &mut dyn WriteTx,
    w: &Writer<'_>,
    policy_id: &str,
    device: &DeviceFacts<'_>,
) -> Result<(), ApiError> {
    let (Some(user_id), Some(upn)) = (
        device.body.get("userId").and_then(Value::as_str),
        device.body.get("userPrincipalName").and_then(Value::as_str),
    ) else {
        return Ok(());
    };
    let mut query = Query::all(w.tenant, DEVICE_STATUSES, policy_id);
    query.filter = Some(property_eq("userPrincipalName", upn));
    query.limit = MAX_USER_DEVICES;
    let rows = tx.query(&query)?;
    let user_key = Key::new(w.tenant, USER_STATUSES, policy_id, user_id);
    if rows.is_empty() {
        tx.delete_tree(&user_key)?;
        return Ok(());
    }
    let worst = rows
        .iter()
        .filter_map(|(row, _)| {
            let body = parse_body(&row.body).ok()?;
            PolicyState::parse(body.get("status")?.as_str()?)
        })
        .max()
        .unwrap_or(PolicyState::Unknown);
    let status = json!({
        "devicesCount": rows.len(),
        "lastReportedDateTime": w.now,
        "status": worst.status(),
        "userDisplayName": device.body.get("userDisplayName").cloned().unwrap_or(Value::Null),
        "userPrincipalName": upn,
    });
    put(
        tx,
        w.model,
        &user_key,
        "microsoft.graph.deviceComplianceUserStatus",
        status.as_object().unwrap_or(&Map::new()),
    )
}

/// Moves the per-setting counts from `old` to `new` (setting, name, state) in the policy's
/// `deviceSettingStateSummaries` and the tenant's setting state summaries, and keeps the
/// tenant's per-device setting states in step.
#[allow(clippy::too_many_arguments)]
fn move_counts(
    tx: &mut dyn WriteTx,
    w: &Writer<'_>,
    device: &DeviceFacts<'_>,
    policy: &Policy,
    platform_type: &str,
    old: &[(String, String, String)],
    new: &[(String, String, String)],
) -> Result<(), ApiError> {
    for (setting, name, state) in old {
        if new.iter().any(|n| &n.0 == setting && &n.2 == state) {
            continue;
        }
        w.tally
            .borrow_mut()
            .add(&policy.id, setting, name, platform_type, state, -1);
        if !new.iter().any(|n| &n.0 == setting) {
            let summary = super::tally::tenant_summary_id(setting);
            let row = format!("{}_{}", device.id, policy.id);
            tx.delete_tree(&Key::new(w.tenant, TENANT_SETTING_STATES, &summary, &row))?;
        }
    }
    for (setting, name, state) in new {
        let kept = old.iter().any(|o| &o.0 == setting && &o.2 == state);
        if !kept {
            w.tally
                .borrow_mut()
                .add(&policy.id, setting, name, platform_type, state, 1);
        }
        // The tenant's row shows the state and the device's names only.
        if kept && !device.renamed {
            continue;
        }
        let summary = super::tally::tenant_summary_id(setting);
        let row = json!({
            "complianceGracePeriodExpirationDateTime": NO_GRACE,
            "deviceId": device.id,
            "deviceModel": device.text("model"),
            "deviceName": device.text("deviceName"),
            "setting": setting,
            "settingName": name,
            "state": state,
            "userEmail": device.text("emailAddress"),
            "userId": device.text("userId"),
            "userName": device.text("userDisplayName"),
            "userPrincipalName": device.text("userPrincipalName"),
            "platformType": null,
        });
        let id = format!("{}_{}", device.id, policy.id);
        put(
            tx,
            w.model,
            &Key::new(w.tenant, TENANT_SETTING_STATES, &summary, &id),
            "microsoft.graph.deviceComplianceSettingState",
            row.as_object().unwrap_or(&Map::new()),
        )?;
    }
    Ok(())
}

/// The policies whose states the device shows now: (policy id, stored state).
pub fn current_states(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device: &str,
) -> Result<Vec<(String, StoredState)>, ApiError> {
    tx.members(tenant, POLICY_STATES, device, super::tenant::MAX_POLICIES)?
        .into_iter()
        .map(|row| Ok((row.key.id, StoredState::from_text(row.body)?)))
        .collect()
}

/// The device's stored state for one policy, if it has one.
pub fn stored_state(
    tx: &mut dyn WriteTx,
    tenant: &str,
    device: &str,
    policy_id: &str,
) -> Result<Option<StoredState>, ApiError> {
    tx.get(&Key::new(tenant, POLICY_STATES, device, policy_id))?
        .map(|row| StoredState::from_text(row.body))
        .transpose()
}

/// The multi-tenant view's row of the device (`/beta/managedDeviceCompliances`, shown also at
/// `tenantRelationships/managedTenants/managedDeviceCompliances`): its verdict, id = the device's.
pub fn put_tenant_view(
    tx: &mut dyn WriteTx,
    model: &'static Model,
    tenant: &str,
    device_id: &str,
    device: &Map<String, Value>,
    grace_ends: Option<i64>,
    now: &str,
) -> Result<(), ApiError> {
    let text = |name: &str| device.get(name).cloned().unwrap_or(Value::Null);
    let row = json!({
        "organizationId": tenant,
        "managedDeviceId": device_id,
        "managedDeviceName": text("deviceName"),
        "complianceStatus": text("complianceState"),
        "osDescription": text("operatingSystem"),
        "osVersion": text("osVersion"),
        "lastSyncDateTime": text("lastSyncDateTime"),
        "ownerType": text("managedDeviceOwnerType"),
        "model": text("model"),
        "manufacturer": text("manufacturer"),
        "inGracePeriodUntilDateTime": grace_ends.map(utc),
        "lastRefreshedDateTime": now,
        "deviceType": text("deviceType"),
    });
    put(
        tx,
        model,
        &Key::new(tenant, TENANT_VIEW, "", device_id),
        "microsoft.management.services.api.managedDeviceCompliance",
        row.as_object().unwrap_or(&Map::new()),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The fingerprints hash the texts they always hashed (records hold them): an outcome's,
    /// a status's and the names' are checked against the text built whole.
    #[test]
    fn fingerprints_hash_the_texts_records_hold() {
        let policy = Policy {
            id: "p1".into(),
            type_name: String::new(),
            body: json!({"displayName": "Windows \"baseline\""})
                .as_object()
                .cloned()
                .unwrap(),
            assignments: Vec::new(),
            grace_hours: 0,
            actions: Vec::new(),
        };
        let outcome = PolicyOutcome {
            state: PolicyState::InGracePeriod,
            since: Some(5),
            grace_ends: Some(86_405),
            settings: vec![
                SettingOutcome {
                    setting: "a.one".into(),
                    name: "one".into(),
                    state: "nonCompliant",
                    current: Some("4".into()),
                },
                SettingOutcome {
                    setting: "a.two".into(),
                    name: "two".into(),
                    state: "compliant",
                    current: None,
                },
            ],
            platform_type: "windows10AndLater".into(),
        };
        let whole = |text: String| format!("{:016x}", crate::common::fnv1a(text.as_bytes()));
        let mut text = format!(
            "p1\u{1f}Windows \"baseline\"\u{1f}{}\u{1f}Some(86405)\u{1f}windows10AndLater",
            PolicyState::InGracePeriod.name()
        );
        text.push_str("\u{1e}a.one\u{1f}one\u{1f}nonCompliant\u{1f}Some(\"4\")");
        text.push_str("\u{1e}a.two\u{1f}two\u{1f}compliant\u{1f}None");
        assert_eq!(outcome_print(&policy, &outcome), whole(text));
        let status = format!(
            "{}\u{1f}windows10AndLater\u{1f}Some(86405)",
            PolicyState::InGracePeriod.name()
        );
        assert_eq!(status_print(&outcome), whole(status));
        let device = json!({"deviceName": "d1", "userId": null, "emailAddress": "a@b"});
        let names = "\"d1\"\u{1f}\u{1f}null\u{1f}\u{1f}\u{1f}\"a@b\"\u{1f}".to_string();
        assert_eq!(names_print(device.as_object().unwrap()), whole(names));
    }

    /// The members a stored state's typed read keeps are those the whole body shows.
    #[test]
    fn a_stored_state_reads_as_its_whole_body_would() {
        let texts = [
            // As the engine writes it, with members the read skips.
            r##"{"displayName":"P","platformType":"iOS","settingCount":2,"settingStates":[
                {"@odata.type":"#x","currentValue":"4","errorCode":0,"setting":"a.one","settingName":"one",
                 "sources":[{"id":"p","displayName":"P \"q\""}],"state":"nonCompliant","userId":null},
                {"setting":"a.two","settingName":"two","state":"compliant","sources":[]}],"version":3}"##,
            // Setting states without a name, or of another shape: left out, as before.
            r##"{"platformType":"android","settingStates":[{"setting":"a.one","state":"compliant"},
                {"setting":"a.two","settingName":"two","state":"error"}]}"##,
            r##"{"settingStates":[{"setting":"a.one","settingName":7,"state":"compliant"},
                {"setting":"a.two","settingName":"two","state":"error"}],"platformType":5}"##,
            r##"{"settingStates":null}"##,
            r##"{}"##,
        ];
        for text in texts {
            let body = parse_body(text).unwrap();
            let state = StoredState::from_text(text.to_string()).unwrap();
            assert_eq!(state.settings, setting_states_of(&body), "{text}");
            assert_eq!(
                state.platform_type.as_deref(),
                body.get("platformType").and_then(Value::as_str),
                "{text}"
            );
            assert_eq!(state.text, text);
        }
        assert!(StoredState::from_text("not json".into()).is_err());
    }

    /// A policy's new version alone moves no fingerprint (a state reads it from the policy);
    /// what a state stores does.
    #[test]
    fn an_outcome_print_leaves_the_version_out_and_nothing_a_state_stores() {
        let policy = |body: Value| Policy {
            id: "p1".into(),
            type_name: "microsoft.graph.windows10CompliancePolicy".into(),
            body: object(body),
            assignments: Vec::new(),
            grace_hours: 0,
            actions: Vec::new(),
        };
        let outcome = |state: &'static str| PolicyOutcome {
            state: PolicyState::Compliant,
            since: None,
            grace_ends: None,
            settings: vec![SettingOutcome {
                setting: "windows10CompliancePolicy.passwordMinimumLength".into(),
                name: "passwordMinimumLength".into(),
                state,
                current: Some("10".into()),
            }],
            platform_type: "windows10AndLater".into(),
        };
        let first = outcome_print(
            &policy(json!({"displayName": "P", "version": 1})),
            &outcome("compliant"),
        );
        let patched = json!({"displayName": "P", "version": 7});
        assert_eq!(
            outcome_print(&policy(patched.clone()), &outcome("compliant")),
            first
        );
        assert_ne!(
            outcome_print(&policy(patched), &outcome("nonCompliant")),
            first
        );
        let renamed = json!({"displayName": "Q", "version": 1});
        assert_ne!(
            outcome_print(&policy(renamed), &outcome("compliant")),
            first
        );
    }
}
