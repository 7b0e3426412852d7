//! Time: a tenant's clock moved by a request, grace periods running out, scheduled actions firing
//! (email, remote lock, retire), recovery cancelling them, the check-in threshold.

mod actions;
mod clock;
mod crash;
mod schedule;
mod verdicts;

use crate::engine::{DEVICES, DEVICES_WRITE, DIRECTORY_WRITE};
use crate::support::*;
use complyd::auth::TokenRequest;
use serde_json::{json, Value};

pub const SERVICE_WRITE: &str = "DeviceManagementServiceConfig.ReadWrite.All";
pub const TEMPLATES: &str = "deviceManagement/notificationMessageTemplates";

/// A caller that may manage policies, devices, templates and the directory.
pub fn admin(server: &Server) -> Client {
    server.client_with(TokenRequest::delegated(
        TENANT,
        &[WRITE, DEVICES_WRITE, DIRECTORY_WRITE, SERVICE_WRITE],
    ))
}

fn clock_url(c: &Client) -> String {
    format!("{}/complyd/v1/clock", c.base)
}

/// `GET /complyd/v1/clock`.
pub async fn clock(c: &Client) -> Value {
    c.send(reqwest::Method::GET, &clock_url(c), None)
        .await
        .expect(200)
        .json()
}

/// `POST /complyd/v1/clock` with `body`, as answered.
pub async fn move_clock(c: &Client, body: &Value) -> Resp {
    c.send(reqwest::Method::POST, &clock_url(c), Some(body.to_string()))
        .await
}

/// Sets the tenant's clock to `at` and freezes it there.
pub async fn freeze_at(c: &Client, at: &str) {
    move_clock(c, &json!({ "setTo": at, "freeze": true }))
        .await
        .expect(200);
}

/// Moves the clock forward by `by` (an ISO 8601 duration); answers what fired.
pub async fn advance(c: &Client, by: &str) -> Value {
    move_clock(c, &json!({ "advanceBy": by }))
        .await
        .expect(200)
        .json()
}

/// Unix seconds of a `DateTimeOffset` text.
pub fn seconds(text: &Value) -> i64 {
    odata::value::DateTimeOffset::parse(text.as_str().expect("a DateTimeOffset"))
        .expect("a DateTimeOffset")
        .to_unix_seconds()
}

/// A user with a preferred language, the primary user of the devices made for it.
pub async fn user(c: &Client, name: &str, language: &str) -> (String, String) {
    let upn = format!("{}@contoso.test", name.to_lowercase());
    let body = json!({
        "accountEnabled": true,
        "displayName": name,
        "mailNickname": name,
        "userPrincipalName": upn,
        "preferredLanguage": language,
        "passwordProfile": { "forceChangePasswordNextSignIn": false, "password": "Pa55word!" }
    });
    let id = c.post("v1.0", "users", &body).await.expect(201).id();
    (id, upn)
}

/// An iPhone of the user.
pub fn iphone(name: &str, user: &(String, String)) -> Value {
    json!({
        "deviceName": name,
        "operatingSystem": "iOS",
        "osVersion": "17.4",
        "model": "iPhone 15",
        "manufacturer": "Apple",
        "userId": user.0,
        "userPrincipalName": user.1,
    })
}

/// A template with an English (default) and a German message, each naming the device.
pub async fn template(c: &Client) -> String {
    let body = json!({
        "displayName": "Noncompliance",
        "localizedNotificationMessages": [
            {"locale": "en-us", "subject": "Fix {{DeviceName}}", "messageTemplate": "Hello {{UserName}}, {{DeviceName}} ({{OSAndVersion}}) is not compliant.", "isDefault": true},
            {"locale": "de-de", "subject": "Bitte {{DeviceName}} reparieren", "messageTemplate": "Hallo {{UserName}}", "isDefault": false}
        ]
    });
    let created = c.post("beta", TEMPLATES, &body).await;
    assert!(
        created.status == 201 || created.status == 200,
        "{}",
        created.text
    );
    created.id()
}

/// An iOS policy requiring a passcode, with these scheduled actions (`block` first).
pub fn ios_policy(name: &str, actions: &[Value]) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.iosCompliancePolicy",
        "displayName": name,
        "passcodeRequired": true,
        "scheduledActionsForRule": [{
            "ruleName": "PasswordRequired",
            "scheduledActionConfigurations": actions,
        }]
    })
}

pub fn action(kind: &str, hours: i64) -> Value {
    json!({ "actionType": kind, "gracePeriodHours": hours })
}

pub fn email(hours: i64, template: &str) -> Value {
    json!({ "actionType": "notification", "gracePeriodHours": hours, "notificationTemplateId": template })
}

pub fn failing() -> Value {
    json!({ "passwordSet": false })
}

pub fn passing() -> Value {
    json!({ "passwordSet": true })
}

/// The tenant's outbox.
pub async fn outbox(c: &Client) -> Vec<Value> {
    let url = format!("{}/complyd/v1/outbox", c.base);
    c.send(reqwest::Method::GET, &url, None)
        .await
        .expect(200)
        .json()["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub async fn device(c: &Client, id: &str) -> Value {
    c.get("beta", &format!("{DEVICES}/{id}"))
        .await
        .expect(200)
        .json()
}

/// The device's result for one action, if any.
pub fn action_result(device: &Value, name: &str) -> Option<Value> {
    device["deviceActionResults"]
        .as_array()?
        .iter()
        .find(|r| r["actionName"] == name)
        .cloned()
}
