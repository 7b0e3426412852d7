//! The compliance engine through HTTP: managed devices, check-ins, assignments, grace periods and
//! the reports that follow.

mod checkin;
mod consistency;
mod fleet;
mod instances;
mod platforms;
mod reevaluation;

pub use crate::directory::support::{add_member, DIRECTORY_WRITE};

use crate::directory::support::{create, group, user};
use crate::support::*;
use complyd::auth::TokenRequest;
use serde_json::{json, Value};

pub const DEVICES: &str = "deviceManagement/managedDevices";
pub const DEVICES_WRITE: &str = "DeviceManagementManagedDevices.ReadWrite.All";

/// A caller that may manage policies, devices and the directory.
pub fn admin(server: &Server) -> Client {
    server.client_with(TokenRequest::delegated(
        TENANT,
        &[WRITE, DEVICES_WRITE, DIRECTORY_WRITE],
    ))
}

/// `POST /complyd/v1/devices/{id}/checkIn`.
pub async fn check_in(client: &Client, device: &str, report: &Value) -> Resp {
    let url = format!("{}/complyd/v1/devices/{device}/checkIn", client.base);
    client
        .send(reqwest::Method::POST, &url, Some(report.to_string()))
        .await
}

/// A Windows 11 device of `user` (no user: `None`).
pub fn windows_device(name: &str, user: Option<(&str, &str)>) -> Value {
    let mut device = json!({
        "deviceName": name,
        "operatingSystem": "Windows",
        "osVersion": "10.0.22631.2861",
        "model": "Surface Laptop 5",
        "manufacturer": "Microsoft",
    });
    if let Some((id, upn)) = user {
        device["userId"] = json!(id);
        device["userPrincipalName"] = json!(upn);
        device["userDisplayName"] = json!(upn.split('@').next().unwrap_or(upn));
    }
    device
}

/// A Windows policy asking for a password of at least 8 characters and Windows 10 22H2 or later,
/// with `grace_hours` before the device is marked noncompliant.
pub fn password_policy(name: &str, grace_hours: i64) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
        "displayName": name,
        "passwordRequired": true,
        "passwordMinimumLength": 8,
        "osMinimumVersion": "10.0.19045",
        "scheduledActionsForRule": [{
            "ruleName": "PasswordRequired",
            "scheduledActionConfigurations": [{ "actionType": "block", "gracePeriodHours": grace_hours }]
        }]
    })
}

/// Creates the policy and assigns it to `targets` (assignment target bodies).
pub async fn assigned_policy(client: &Client, body: &Value, targets: &[Value]) -> String {
    let id = client.post("beta", POLICIES, body).await.expect(201).id();
    let assignments: Vec<Value> = targets.iter().map(|t| json!({ "target": t })).collect();
    client
        .post(
            "beta",
            &format!("{POLICIES}/{id}/assign"),
            &json!({ "assignments": assignments }),
        )
        .await
        .expect(200);
    id
}

pub fn all_devices() -> Value {
    json!({"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"})
}

pub fn group_target(group: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group})
}

pub fn excluded_group(group: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": group})
}

/// A compliant Windows check-in for [`password_policy`].
pub fn good_report() -> Value {
    json!({ "passwordSet": true, "passwordLength": 12, "osVersion": "10.0.22631.2861" })
}

/// `POST /complyd/v1/engine/settle`: every pending re-evaluation of the caller's tenant done.
pub async fn settle(c: &Client) -> Value {
    let url = format!("{}/complyd/v1/engine/settle", c.base);
    c.send(reqwest::Method::POST, &url, Some("{}".into()))
        .await
        .expect(200)
        .json()
}

/// Sets the tenant's `secureByDefault`, then settles: every device evaluated under it.
pub async fn secure_by_default(c: &Client, on: bool) {
    c.patch(
        "v1.0",
        "deviceManagement",
        &json!({"settings": {"secureByDefault": on}}),
    )
    .await
    .expect(200);
    settle(c).await;
}

/// The policy's `deviceSettingStateSummaries` member for one setting (by `settingName`).
pub async fn setting_summary(c: &Client, version: &str, policy: &str, name: &str) -> Value {
    c.list(
        version,
        &format!("{POLICIES}/{policy}/deviceSettingStateSummaries"),
    )
    .await
    .into_iter()
    .find(|s| s["settingName"] == name)
    .unwrap_or_else(|| panic!("no setting summary named {name}"))
}

/// The object id of the managed device's directory device (found by its `azureADDeviceId`).
pub async fn directory_object(c: &Client, device: &str) -> String {
    let aad = c.get("beta", &format!("{DEVICES}/{device}")).await.json()["azureADDeviceId"]
        .as_str()
        .unwrap()
        .to_string();
    c.get("v1.0", &format!("devices?$filter=deviceId eq '{aad}'"))
        .await
        .values()[0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A user `nick@contoso.com` (the domain the engine's devices name their users in); answers its id.
pub async fn new_user(c: &Client, nick: &str) -> String {
    let mut body = user(nick);
    body["userPrincipalName"] = json!(format!("{nick}@contoso.com"));
    create(c, "v1.0", "users", &body).await
}

/// A static security group; answers its id.
pub async fn new_group(c: &Client, name: &str) -> String {
    create(c, "v1.0", "groups", &group(name)).await
}
