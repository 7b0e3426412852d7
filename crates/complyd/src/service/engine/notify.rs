//! A `notification` action's email: the template's message in the primary user's locale (else
//! the default one), its tokens filled in, addressed to the primary user and the members of the
//! `notificationMessageCCList` groups. What it renders goes to the tenant's outbox.

use super::tenant::DIRECTORY;
use crate::error::ApiError;
use crate::service::parse_body;
use crate::store::{Key, Query, Related, WriteTx};
use odata::Model;
use serde_json::{json, Map, Value};

const TEMPLATES: &str = "notificationMessageTemplates";
const MESSAGES: &str = "notificationMessageTemplates/localizedNotificationMessages";
/// The most localized messages read of a template.
const MAX_MESSAGES: usize = 200;
/// The most addresses one email is copied to.
pub const MAX_CC: usize = 1_000;

/// Who and what an email is about.
pub struct Subject<'a> {
    pub device_id: &'a str,
    pub device: &'a Map<String, Value>,
    pub policy_id: &'a str,
    pub policy_name: &'a str,
}

fn text<'a>(body: &'a Map<String, Value>, name: &str) -> &'a str {
    body.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// The message, or why there is none (`Err` text: no template, no message, nobody to send to).
pub fn render(
    tx: &mut dyn WriteTx,
    model: &Model,
    tenant: &str,
    subject: &Subject<'_>,
    template_id: Option<&str>,
    cc_groups: &[String],
    now: &str,
) -> Result<Result<Value, String>, ApiError> {
    let Some(template_id) = template_id else {
        return Ok(Err("the action names no notification template".into()));
    };
    let Some(row) = tx.get(&Key::new(tenant, TEMPLATES, "", template_id))? else {
        return Ok(Err(format!(
            "the notification template '{template_id}' does not exist"
        )));
    };
    let template = parse_body(&row.body)?;
    let mut messages = Vec::new();
    for row in tx.members(tenant, MESSAGES, template_id, MAX_MESSAGES)? {
        messages.push(parse_body(&row.body)?);
    }
    let user = match subject.device.get("userId").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => tx
            .get(&Key::new(tenant, DIRECTORY, "", id))?
            .map(|row| parse_body(&row.body))
            .transpose()?,
        _ => None,
    };
    let locale = user
        .as_ref()
        .map(|u| text(u, "preferredLanguage"))
        .unwrap_or_default();
    let chosen = messages
        .iter()
        .find(|m| !locale.is_empty() && text(m, "locale").eq_ignore_ascii_case(locale))
        .or_else(|| {
            messages
                .iter()
                .find(|m| m.get("isDefault") == Some(&Value::Bool(true)))
        })
        .or(messages.first());
    let Some(chosen) = chosen else {
        return Ok(Err(format!(
            "the notification template '{template_id}' has no localized message"
        )));
    };
    let recipients: Vec<String> = user.as_ref().map(address).into_iter().flatten().collect();
    let cc = copied(tx, model, tenant, cc_groups, &recipients)?;
    if recipients.is_empty() && cc.is_empty() {
        return Ok(Err(
            "the device has no primary user with an address, and no group is copied".into(),
        ));
    }
    let fill = |text: &str| fill_tokens(text, subject, user.as_ref());
    Ok(Ok(json!({
        "kind": "noncomplianceNotification",
        "sentDateTime": now,
        "notificationMessageTemplateId": template_id,
        "templateDisplayName": template.get("displayName"),
        "brandingOptions": template.get("brandingOptions"),
        "locale": chosen.get("locale"),
        "subject": fill(text(chosen, "subject")),
        "messageTemplate": fill(text(chosen, "messageTemplate")),
        "recipients": recipients,
        "cc": cc,
        "managedDeviceId": subject.device_id,
        "deviceCompliancePolicyId": subject.policy_id,
        "deviceCompliancePolicyName": subject.policy_name,
    })))
}

/// A directory object's email address: its `mail`, else its `userPrincipalName`.
fn address(body: &Map<String, Value>) -> Option<String> {
    [text(body, "mail"), text(body, "userPrincipalName")]
        .into_iter()
        .find(|a| !a.is_empty())
        .map(str::to_string)
}

/// The addresses of the users in `groups` (every level), the primary recipients left out.
fn copied(
    tx: &mut dyn WriteTx,
    model: &Model,
    tenant: &str,
    groups: &[String],
    recipients: &[String],
) -> Result<Vec<String>, ApiError> {
    let Some(links) = model.link_collection("members") else {
        return Ok(Vec::new());
    };
    let mut out: Vec<String> = Vec::new();
    for group in groups {
        let mut query = Query::all(tenant, DIRECTORY, "");
        query.related = Some(Related {
            links: links.clone(),
            anchor: group.clone(),
            inverse: false,
            transitive: true,
        });
        query.limit = MAX_CC;
        for (row, _) in tx.query(&query)? {
            if row.type_name != "microsoft.graph.user" {
                continue;
            }
            if let Some(a) = address(&parse_body(&row.body)?) {
                if !recipients.contains(&a) && !out.contains(&a) && out.len() < MAX_CC {
                    out.push(a);
                }
            }
        }
    }
    Ok(out)
}

/// The tokens a message may hold: `{{UserName}}`, `{{DeviceName}}`, `{{DeviceId}}`,
/// `{{OSAndVersion}}`.
fn fill_tokens(template: &str, s: &Subject<'_>, user: Option<&Map<String, Value>>) -> String {
    let device = |name: &str| s.device.get(name).and_then(Value::as_str).unwrap_or("");
    let os = format!("{} {}", device("operatingSystem"), device("osVersion"));
    let user_name = user.map(|u| text(u, "displayName")).unwrap_or("");
    template
        .replace("{{UserName}}", user_name)
        .replace("{{DeviceName}}", device("deviceName"))
        .replace("{{DeviceId}}", s.device_id)
        .replace("{{OSAndVersion}}", os.trim())
}
