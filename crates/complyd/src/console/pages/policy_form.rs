//! Creating and editing a policy: a form whose settings are a JSON object (validated by the API,
//! whose error is shown as it answered), its actions for noncompliance, and a what-if
//! (`POST /complyd/v1/policies/evaluate`) shown before saving.

use super::policy::NOT_SETTINGS;
use super::POLICY_WRITERS;
use crate::console::api::{path_with, segment, Failure};
use crate::console::request::{redirect, Ctx, Form, Signed};
use crate::console::view::{self, badge, E};
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// The policy types the form offers, with the settings it starts from.
const TYPES: [(&str, &str, &str); 4] = [
    ("windows10CompliancePolicy", "Windows 10 and later", "{\n  \"passwordRequired\": true,\n  \"passwordMinimumLength\": 8,\n  \"bitLockerEnabled\": true\n}"),
    ("iosCompliancePolicy", "iOS/iPadOS", "{\n  \"passcodeRequired\": true,\n  \"passcodeMinimumLength\": 6\n}"),
    ("androidWorkProfileCompliancePolicy", "Android work profile", "{\n  \"passwordRequired\": true,\n  \"securityBlockJailbrokenDevices\": true\n}"),
    ("macOSCompliancePolicy", "macOS", "{\n  \"passwordRequired\": true,\n  \"storageRequireEncryption\": true\n}"),
];

/// What the form holds.
#[derive(Default)]
struct Fields {
    kind: String,
    name: String,
    description: String,
    settings: String,
    block: String,
    notify: String,
    template: String,
    lock: String,
}

impl Fields {
    fn from_form(form: &Form) -> Self {
        Self {
            kind: form.get("type").to_string(),
            name: form.get("displayName").to_string(),
            description: form.get("description").to_string(),
            settings: form.get("settings").to_string(),
            block: form.get("block").to_string(),
            notify: form.get("notify").to_string(),
            template: form.get("template").to_string(),
            lock: form.get("lock").to_string(),
        }
    }

    /// A stored policy as the form shows it.
    fn from_policy(policy: &Value) -> Self {
        let mut settings = Map::new();
        if let Some(map) = policy.as_object() {
            for (k, v) in map {
                if !NOT_SETTINGS.contains(&k.as_str()) && !k.contains('@') {
                    settings.insert(k.clone(), v.clone());
                }
            }
        }
        let mut out = Self {
            kind: policy["@odata.type"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("#microsoft.graph.")
                .to_string(),
            name: policy["displayName"].as_str().unwrap_or("").to_string(),
            description: policy["description"].as_str().unwrap_or("").to_string(),
            settings: serde_json::to_string_pretty(&settings).unwrap_or_default(),
            block: "0".into(),
            ..Self::default()
        };
        for rule in policy["scheduledActionsForRule"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            for a in rule["scheduledActionConfigurations"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let hours = a["gracePeriodHours"].as_i64().unwrap_or(0).to_string();
                match a["actionType"].as_str() {
                    Some("block") => out.block = hours,
                    Some("notification") => {
                        out.notify = hours;
                        out.template = a["notificationTemplateId"]
                            .as_str()
                            .unwrap_or("")
                            .to_string();
                    }
                    Some("remoteLock") => out.lock = hours,
                    _ => {}
                }
            }
        }
        out
    }

    /// The scheduled actions the form asks for.
    fn actions(&self) -> Result<Vec<Value>, String> {
        let hours = |name: &str, text: &str| -> Result<Option<i64>, String> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<i64>()
                .map(Some)
                .map_err(|_| format!("{name} takes a whole number of hours, not '{text}'."))
        };
        let mut actions = vec![json!({
            "actionType": "block",
            "gracePeriodHours": hours("Mark noncompliant after", &self.block)?.unwrap_or(0),
        })];
        if let Some(h) = hours("Email after", &self.notify)? {
            actions.push(json!({
                "actionType": "notification",
                "gracePeriodHours": h,
                "notificationTemplateId": self.template,
            }));
        }
        if let Some(h) = hours("Remote lock after", &self.lock)? {
            actions.push(json!({"actionType": "remoteLock", "gracePeriodHours": h}));
        }
        Ok(actions)
    }

    /// The policy body (settings, names, type), without its actions.
    fn body(&self) -> Result<Map<String, Value>, String> {
        let settings: Value = serde_json::from_str(if self.settings.trim().is_empty() {
            "{}"
        } else {
            &self.settings
        })
        .map_err(|e| format!("The settings are not JSON: {e}."))?;
        let Value::Object(mut body) = settings else {
            return Err("The settings must be a JSON object of setting names and values.".into());
        };
        body.insert(
            "@odata.type".into(),
            json!(format!("#microsoft.graph.{}", self.kind)),
        );
        body.insert("displayName".into(), json!(self.name));
        body.insert("description".into(), json!(self.description));
        Ok(body)
    }

    fn with_actions(&self) -> Result<Value, String> {
        let mut body = self.body()?;
        body.insert(
            "scheduledActionsForRule".into(),
            json!([{ "ruleName": "PasswordRequired", "scheduledActionConfigurations": self.actions()? }]),
        );
        Ok(Value::Object(body))
    }
}

async fn templates(ctx: &Ctx) -> Vec<(String, String)> {
    ctx.get("/beta/deviceManagement/notificationMessageTemplates?$select=id,displayName&$top=100")
        .await
        .ok()
        .and_then(|t| t["value"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or("").to_string(),
                t["displayName"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The form, with what the last try brought back (an error, a what-if).
async fn form_page(ctx: &Ctx, editing: Option<&str>, fields: &Fields, notice: &str) -> Response {
    let title = if editing.is_some() {
        "Edit policy"
    } else {
        "Create a policy"
    };
    if !ctx.may(&POLICY_WRITERS) {
        let body = view::not_permitted(
            "create or edit policies",
            "DeviceManagementConfiguration.ReadWrite.All",
        );
        return view::page(ctx, "/console/policies", title, &body);
    }
    let action = editing.map_or("/console/policies".to_string(), |id| {
        format!("/console/policies/{id}")
    });
    let mut types = String::new();
    for (value, words, _) in TYPES {
        let selected = if fields.kind == value {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            types,
            "<option value=\"{value}\"{selected}>{words}</option>"
        );
    }
    let type_control = match editing {
        Some(_) => format!(
            "<p>Platform: <strong>{}</strong></p><input type=\"hidden\" name=\"type\" value=\"{}\">",
            E(&super::platform(&fields.kind)),
            E(&fields.kind)
        ),
        None => format!("<label for=\"type\">Platform</label><select id=\"type\" name=\"type\">{types}</select>"),
    };
    let mut template_options = String::from("<option value=\"\">None</option>");
    for (id, name) in templates(ctx).await {
        let selected = if fields.template == id {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            template_options,
            "<option value=\"{}\"{selected}>{}</option>",
            E(&id),
            E(&name)
        );
    }
    let body = format!(
        "{notice}<form class=\"stack\" method=\"post\" action=\"{action}\">{csrf}{type_control}\
<label for=\"displayName\">Name</label><input id=\"displayName\" name=\"displayName\" required maxlength=\"256\" value=\"{name}\">\
<label for=\"description\">Description</label><input id=\"description\" name=\"description\" maxlength=\"1024\" value=\"{description}\">\
<label for=\"settings\">Settings (a JSON object of the policy type's properties)</label>\
<textarea id=\"settings\" name=\"settings\" rows=\"10\" aria-describedby=\"settings-help\">{settings}</textarea>\
<p id=\"settings-help\" class=\"muted\">The API checks every name and value; its answer shows here.</p>\
<fieldset><legend>Actions for noncompliance</legend>\
<label for=\"block\">Mark noncompliant after (hours)</label><input id=\"block\" name=\"block\" inputmode=\"numeric\" value=\"{block}\">\
<label for=\"notify\">Email the user after (hours, empty for none)</label><input id=\"notify\" name=\"notify\" inputmode=\"numeric\" value=\"{notify}\">\
<label for=\"template\">Email template</label><select id=\"template\" name=\"template\">{template_options}</select>\
<label for=\"lock\">Remote lock after (hours, empty for none; iOS and Android)</label><input id=\"lock\" name=\"lock\" inputmode=\"numeric\" value=\"{lock}\">\
</fieldset>\
<button type=\"submit\" name=\"intent\" value=\"whatif\" class=\"secondary\">Preview (what-if)</button> \
<button type=\"submit\" name=\"intent\" value=\"save\">Save policy</button></form>",
        csrf = view::csrf_field(ctx),
        name = E(&fields.name),
        description = E(&fields.description),
        settings = E(&fields.settings),
        block = E(&fields.block),
        notify = E(&fields.notify),
        lock = E(&fields.lock),
    );
    view::page(ctx, "/console/policies", title, &body)
}

fn problem(message: &str) -> String {
    view::failure(&Failure {
        status: StatusCode::BAD_REQUEST,
        code: "BadRequest".into(),
        message: message.into(),
    })
}

/// The what-if's answer: devices reached, their states, and those that would not comply.
fn what_if(answer: &Value) -> String {
    let mut out = format!(
        "<section class=\"card\" aria-labelledby=\"whatif-h\" id=\"whatif\"><h2 id=\"whatif-h\">What-if</h2><p>This policy would reach <strong>{}</strong> device(s):",
        E(&view::text(&answer["devicesReached"]))
    );
    if let Some(states) = answer["states"].as_object() {
        for (state, n) in states {
            let _ = write!(out, " {} {};", view::label(state), E(&view::text(n)));
        }
    }
    out.push_str("</p>");
    let rows: Vec<Vec<String>> = answer["devices"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|d| {
            let failing = d["settings"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    format!(
                        "{}: {} (required {})",
                        view::text(&s["setting"]),
                        view::text(&s["currentValue"]),
                        view::text(&s["requiredValue"])
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            vec![
                E(&view::text(&d["deviceName"])).to_string(),
                badge(d["state"].as_str().unwrap_or("")),
                E(&failing).to_string(),
            ]
        })
        .collect();
    out.push_str(&view::table(
        "Devices that would not comply",
        &["Device", "State", "Failing settings: reported (required)"],
        &rows,
    ));
    out.push_str("</section>");
    out
}

pub async fn new(ctx: Ctx) -> Response {
    let (kind, _, settings) = TYPES[0];
    let fields = Fields {
        kind: kind.into(),
        settings: settings.into(),
        block: "0".into(),
        ..Fields::default()
    };
    form_page(&ctx, None, &fields, "").await
}

pub async fn edit(ctx: Ctx, Path(id): Path<String>) -> Response {
    let path = format!(
        "/beta/deviceManagement/deviceCompliancePolicies/{}?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)",
        segment(&id)
    );
    match ctx.get(&path).await {
        Ok(policy) => form_page(&ctx, Some(&id), &Fields::from_policy(&policy), "").await,
        Err(f) => view::page(&ctx, "/console/policies", "Edit policy", &view::failure(&f)),
    }
}

/// `POST /console/policies`: the what-if, or the new policy.
pub async fn create(signed: Signed) -> Response {
    submitted(signed, None).await
}

/// `POST /console/policies/{id}`: the what-if, or the policy saved (settings by PATCH, actions
/// by `scheduleActionsForRules`).
pub async fn update(Path(id): Path<String>, signed: Signed) -> Response {
    submitted(signed, Some(&id)).await
}

async fn submitted(Signed { ctx, form }: Signed, editing: Option<&str>) -> Response {
    let fields = Fields::from_form(&form);
    let policy = match fields.with_actions() {
        Ok(policy) => policy,
        Err(why) => return form_page(&ctx, editing, &fields, &problem(&why)).await,
    };
    if form.get("intent") == "whatif" {
        let notice = match ctx
            .call(Method::POST, "/complyd/v1/policies/evaluate", Some(&policy))
            .await
        {
            Ok(answer) => what_if(&answer),
            Err(f) => view::failure(&f),
        };
        return form_page(&ctx, editing, &fields, &notice).await;
    }
    let saved = match editing {
        None => ctx
            .call(
                Method::POST,
                "/beta/deviceManagement/deviceCompliancePolicies",
                Some(&policy),
            )
            .await
            .map(|created| (created["id"].as_str().unwrap_or("").to_string(), "created")),
        Some(id) => save(&ctx, id, &fields)
            .await
            .map(|()| (id.to_string(), "saved")),
    };
    match saved {
        Ok((id, done)) => redirect(&path_with(
            &format!("/console/policies/{id}"),
            &[("done", done.into())],
        )),
        Err(f) => form_page(&ctx, editing, &fields, &view::failure(&f)).await,
    }
}

async fn save(ctx: &Ctx, id: &str, fields: &Fields) -> Result<(), Failure> {
    let path = format!(
        "/beta/deviceManagement/deviceCompliancePolicies/{}",
        segment(id)
    );
    let bad = |message: String| Failure {
        status: StatusCode::BAD_REQUEST,
        code: "BadRequest".into(),
        message,
    };
    let body = fields.body().map_err(bad)?;
    let actions = fields.actions().map_err(bad)?;
    ctx.call(Method::PATCH, &path, Some(&Value::Object(body)))
        .await?;
    let rules = json!({ "deviceComplianceScheduledActionForRules": [
        { "ruleName": "PasswordRequired", "scheduledActionConfigurations": actions }
    ]});
    ctx.call(
        Method::POST,
        &format!("{path}/scheduleActionsForRules"),
        Some(&rules),
    )
    .await?;
    Ok(())
}
