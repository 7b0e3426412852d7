//! One device: its verdict and grace countdown, every policy's state with each setting's
//! reported value against the required one, its action history, and a check-in form.

use super::{when, DEVICE_WRITERS};
use crate::console::api::{path_with, segment};
use crate::console::request::{query, redirect, Ctx, Signed};
use crate::console::view::{self, badge, E};
use axum::extract::Path;
use axum::http::{Method, Uri};
use axum::response::Response;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;

fn seconds(text: &Value) -> Option<i64> {
    odata::value::DateTimeOffset::parse(text.as_str()?).map(|t| t.to_unix_seconds())
}

/// "2 days 3 hours left" from the tenant's now to the grace end.
fn countdown(now: &Value, end: &Value) -> Option<String> {
    let left = seconds(end)? - seconds(now)?;
    if left <= 0 {
        return Some("the grace period has ended".into());
    }
    let (days, hours, minutes) = (left / 86_400, left % 86_400 / 3600, left % 3600 / 60);
    Some(format!(
        "{days} day(s) {hours} hour(s) {minutes} minute(s) left"
    ))
}

pub async fn show(ctx: Ctx, Path(id): Path<String>, uri: Uri) -> Response {
    let params = query(&uri);
    let base = format!("/beta/deviceManagement/managedDevices/{}", segment(&id));
    let states_path = format!("{base}/deviceCompliancePolicyStates");
    let (device, states, clock) = tokio::join!(
        ctx.get(&base),
        ctx.get(&states_path),
        ctx.get("/complyd/v1/clock"),
    );
    let device = match device {
        Ok(device) => device,
        Err(f) => return view::page(&ctx, "/console/devices", "Device", &view::failure(&f)),
    };
    let title = device["deviceName"].as_str().unwrap_or(&id).to_string();
    let mut body = super::done(&params);
    body.push_str("<div id=\"device\" data-live>");
    body.push_str(&facts(&device, clock.as_ref().ok()));
    body.push_str(&match &states {
        Ok(states) => policy_states(&ctx, states).await,
        Err(f) => view::failure(f),
    });
    body.push_str(&history(&device));
    body.push_str("</div>");
    body.push_str(&check_in_form(&ctx, &id, ""));
    view::page(&ctx, "/console/devices", &title, &body)
}

fn facts(device: &Value, clock: Option<&Value>) -> String {
    let state = device["complianceState"].as_str().unwrap_or("");
    let grace = &device["complianceGracePeriodExpirationDateTime"];
    let countdown = match (state, clock) {
        ("inGracePeriod", Some(clock)) => countdown(&clock["now"], grace),
        _ => None,
    };
    let mut out = format!(
        "<dl class=\"facts\"><dt>Verdict</dt><dd id=\"verdict\">{}</dd>",
        badge(state)
    );
    if let Some(left) = countdown {
        let _ = write!(
            out,
            "<dt>Grace period</dt><dd>ends {} — {}</dd>",
            E(&when(grace)),
            E(&left)
        );
    }
    for (name, key) in [
        ("Platform", "operatingSystem"),
        ("OS version", "osVersion"),
        ("User", "userPrincipalName"),
        ("Last check-in", "lastSyncDateTime"),
        ("Enrolled", "enrolledDateTime"),
        ("Management state", "managementState"),
    ] {
        let value = if key.ends_with("DateTime") {
            when(&device[key])
        } else {
            view::text(&device[key])
        };
        let user = device["userId"].as_str().filter(|u| !u.is_empty());
        let shown = match (key, user) {
            ("userPrincipalName", Some(user)) => {
                view::link(&format!("/console/users/{user}"), &value)
            }
            _ => E(&value).to_string(),
        };
        let _ = write!(out, "<dt>{name}</dt><dd>{shown}</dd>");
    }
    out.push_str("</dl>");
    out
}

/// Each policy's state, its settings' reported values against the policies' required ones.
async fn policy_states(ctx: &Ctx, states: &Value) -> String {
    let states = states["value"].as_array().cloned().unwrap_or_default();
    let mut policies: HashMap<String, Value> = HashMap::new();
    for s in &states {
        let Some(pid) = s["settingStates"][0]["sources"][0]["id"]
            .as_str()
            .or(s["id"].as_str())
        else {
            continue;
        };
        if policies.contains_key(pid) || policies.len() >= 50 {
            continue;
        }
        if let Ok(p) = ctx
            .get(&format!(
                "/beta/deviceManagement/deviceCompliancePolicies/{}",
                segment(pid)
            ))
            .await
        {
            policies.insert(pid.to_string(), p);
        }
    }
    let mut out = String::from("<h2>Policies</h2>");
    if states.is_empty() {
        out.push_str("<p>No policy applies to this device.</p>");
    }
    for s in &states {
        let pid = s["settingStates"][0]["sources"][0]["id"]
            .as_str()
            .or(s["id"].as_str())
            .unwrap_or("");
        let required = policies.get(pid);
        let _ = write!(
            out,
            "<h3>{} {}</h3>",
            E(&view::text(&s["displayName"])),
            badge(s["state"].as_str().unwrap_or(""))
        );
        let rows: Vec<Vec<String>> = s["settingStates"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|setting| {
                let name = setting["settingName"].as_str().unwrap_or("");
                vec![
                    E(name).to_string(),
                    badge(setting["state"].as_str().unwrap_or("")),
                    E(&view::text(&setting["currentValue"])).to_string(),
                    E(&required.map_or("—".to_string(), |p| view::text(&p[name]))).to_string(),
                ]
            })
            .collect();
        out.push_str(&view::table(
            "Settings",
            &["Setting", "State", "Reported", "Required"],
            &rows,
        ));
    }
    out
}

fn history(device: &Value) -> String {
    let rows: Vec<Vec<String>> = device["deviceActionResults"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|a| {
            vec![
                E(&view::text(&a["actionName"])).to_string(),
                E(&view::text(&a["actionState"])).to_string(),
                E(&when(&a["startDateTime"])).to_string(),
                E(&when(&a["lastUpdatedDateTime"])).to_string(),
            ]
        })
        .collect();
    format!(
        "<h2>Action history</h2>{}",
        view::table(
            "Device actions",
            &["Action", "State", "Started", "Updated"],
            &rows
        )
    )
}

fn check_in_form(ctx: &Ctx, id: &str, report: &str) -> String {
    if !ctx.may(&DEVICE_WRITERS) {
        return String::new();
    }
    let report = if report.is_empty() {
        "{\n  \"passwordSet\": true\n}"
    } else {
        report
    };
    format!(
        "<h2 id=\"checkin-h\">Check in a changed state</h2><form class=\"stack\" method=\"post\" action=\"/console/devices/{id}/checkin\">{csrf}\
<label for=\"report\">What the device reports (a JSON object of properties and facts)</label>\
<textarea id=\"report\" name=\"report\" rows=\"6\">{report}</textarea><button type=\"submit\">Check in</button></form>",
        id = E(id),
        csrf = view::csrf_field(ctx),
        report = E(report),
    )
}

/// `POST /console/devices/{id}/checkin` (`report`): the device checks in with that state.
pub async fn check_in(Path(id): Path<String>, Signed { ctx, form }: Signed) -> Response {
    let report = form.get("report");
    let failed = match serde_json::from_str::<Value>(if report.trim().is_empty() {
        "{}"
    } else {
        report
    }) {
        Err(e) => view::failure(&crate::console::api::Failure {
            status: axum::http::StatusCode::BAD_REQUEST,
            code: "BadRequest".into(),
            message: format!("The report is not JSON: {e}."),
        }),
        Ok(value) => match ctx
            .call(
                Method::POST,
                &format!("/complyd/v1/devices/{}/checkIn", segment(&id)),
                Some(&value),
            )
            .await
        {
            Ok(_) => {
                return redirect(&path_with(
                    &format!("/console/devices/{id}"),
                    &[("done", "checkedin".into())],
                ))
            }
            Err(f) => view::failure(&f),
        },
    };
    let body = format!("{failed}{}", check_in_form(&ctx, &id, report));
    view::page(&ctx, "/console/devices", "Check in", &body)
}
