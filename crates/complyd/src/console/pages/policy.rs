//! One policy: its settings, assignments (group names, filters, exclusions), its actions as a
//! timeline, its setting summaries and its device statuses (filtered, sorted and paged by the
//! API); and, for a writer, a form that adds an assignment.

use super::{literal, platform, when, PAGE_ROWS, POLICY_WRITERS};
use crate::console::api::{next_skiptoken, path_with, segment};
use crate::console::request::{query, redirect, Ctx, Signed};
use crate::console::view::{self, badge, E};
use axum::extract::Path;
use axum::http::{Method, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use std::fmt::Write;

/// What a policy body holds besides its settings.
pub const NOT_SETTINGS: [&str; 12] = [
    "@odata.type",
    "@odata.context",
    "id",
    "displayName",
    "description",
    "createdDateTime",
    "lastModifiedDateTime",
    "version",
    "roleScopeTagIds",
    "assignments",
    "scheduledActionsForRule",
    "scheduledActionsForRule@odata.context",
];

/// The statuses a device-status list may be filtered by, and the orders it may be sorted in.
const STATUSES: [&str; 5] = [
    "compliant",
    "nonCompliant",
    "error",
    "notApplicable",
    "unknown",
];
/// The orders offered; the first (none chosen) is the device name, or the filter's own order
/// (by user for a user filter, the service's for a status filter), which the API answers from one
/// index at any size.
const ORDERS: [(&str, &str); 5] = [
    ("", "Default"),
    ("deviceDisplayName", "Device name"),
    ("status", "Status"),
    ("userPrincipalName", "User"),
    ("lastReportedDateTime desc", "Last report, newest first"),
];

fn base(id: &str) -> String {
    format!(
        "/beta/deviceManagement/deviceCompliancePolicies/{}",
        segment(id)
    )
}

pub async fn show(ctx: Ctx, Path(id): Path<String>, uri: Uri) -> Response {
    let params = query(&uri);
    let policy_path = format!(
        "{}?$expand=assignments,scheduledActionsForRule($expand=scheduledActionConfigurations)",
        base(&id)
    );
    let policy = match ctx.get(&policy_path).await {
        Ok(policy) => policy,
        Err(f) => return view::page(&ctx, "/console/policies", "Policy", &view::failure(&f)),
    };
    let title = policy["displayName"].as_str().unwrap_or(&id).to_string();
    let summaries_path = format!("{}/deviceSettingStateSummaries", base(&id));
    let statuses_path = statuses_path(&id, &params);
    let (summaries, statuses, groups) = tokio::join!(
        ctx.get(&summaries_path),
        ctx.get(&statuses_path),
        group_names(&ctx, &policy),
    );
    let mut body = format!(
        "<p>{} · version {} · modified {}</p>",
        E(&platform(policy["@odata.type"].as_str().unwrap_or(""))),
        E(&view::text(&policy["version"])),
        E(&when(&policy["lastModifiedDateTime"])),
    );
    body.push_str(&super::done(&params));
    if ctx.may(&POLICY_WRITERS) {
        let _ = write!(
            body,
            "<p><a href=\"/console/policies/{}/edit\">Edit this policy</a></p>",
            E(&id)
        );
    }
    body.push_str("<div class=\"grid\">");
    body.push_str(&settings(&policy));
    body.push_str(&timeline(&policy));
    body.push_str("</div>");
    body.push_str(&assignments(&ctx, &id, &policy, &groups).await);
    body.push_str("<h2 id=\"summaries-h\">Setting summaries</h2><div id=\"summaries\" data-live>");
    body.push_str(&match &summaries {
        Ok(s) => summary_table(s),
        Err(f) => view::failure(f),
    });
    body.push_str("</div><h2 id=\"statuses-h\">Device statuses</h2>");
    body.push_str(&status_filter(&id, &params));
    body.push_str("<div id=\"statuses\" data-live>");
    match &statuses {
        Ok(answer) => {
            body.push_str(&status_table(answer));
            let mut kept: Vec<(&str, String)> = Vec::new();
            for name in ["status", "user", "order"] {
                if let Some(v) = params.get(name).filter(|v| !v.is_empty()) {
                    kept.push((name, v.clone()));
                }
            }
            body.push_str(&view::pager(
                &format!("/console/policies/{id}"),
                &kept,
                next_skiptoken(answer).as_deref(),
                params.contains_key("page"),
            ));
        }
        Err(f) => body.push_str(&view::failure(f)),
    }
    body.push_str("</div>");
    view::page(&ctx, "/console/policies", &title, &body)
}

/// The device statuses' API path for the page's filter, order and page.
fn statuses_path(id: &str, params: &std::collections::HashMap<String, String>) -> String {
    let mut filters = Vec::new();
    if let Some(status) = params
        .get("status")
        .filter(|s| STATUSES.contains(&s.as_str()))
    {
        filters.push(format!("status eq '{status}'"));
    }
    if let Some(user) = params.get("user").filter(|u| !u.is_empty()) {
        filters.push(format!("startswith(userPrincipalName,'{}')", literal(user)));
    }
    let chosen = params
        .get("order")
        .filter(|o| !o.is_empty() && ORDERS.iter().any(|(v, _)| v == o));
    let order = match chosen {
        Some(order) => Some(order.as_str()),
        None if params.get("user").is_some_and(|u| !u.is_empty()) => Some("userPrincipalName"),
        None if filters.is_empty() => Some("deviceDisplayName"),
        None => None,
    };
    let mut api = vec![("$top", PAGE_ROWS.to_string())];
    if let Some(order) = order {
        api.push(("$orderby", order.to_string()));
    }
    if !filters.is_empty() {
        api.push(("$filter", filters.join(" and ")));
    }
    if let Some(page) = params.get("page") {
        api.push(("$skiptoken", page.clone()));
    }
    path_with(&format!("{}/deviceStatuses", base(id)), &api)
}

fn settings(policy: &Value) -> String {
    let mut out = String::from(
        "<section class=\"card\" aria-labelledby=\"settings-h\"><h2 id=\"settings-h\">Settings</h2><dl class=\"facts\">",
    );
    let mut any = false;
    if let Some(map) = policy.as_object() {
        for (name, value) in map {
            let configured = !matches!(value, Value::Null | Value::Bool(false))
                && value != &json!([])
                && !name.contains('@');
            if NOT_SETTINGS.contains(&name.as_str()) || !configured {
                continue;
            }
            any = true;
            let _ = write!(
                out,
                "<dt>{}</dt><dd>{}</dd>",
                E(name),
                E(&view::text(value))
            );
        }
    }
    if !any {
        out.push_str("<dt>None</dt><dd>No setting is configured.</dd>");
    }
    out.push_str("</dl></section>");
    out
}

/// The scheduled actions in the order they fire.
fn timeline(policy: &Value) -> String {
    let mut actions: Vec<&Value> = policy["scheduledActionsForRule"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .flat_map(|rule| {
            rule["scheduledActionConfigurations"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
        })
        .collect();
    actions.sort_by_key(|a| a["gracePeriodHours"].as_i64().unwrap_or(0));
    let mut out = String::from(
        "<section class=\"card\" aria-labelledby=\"actions-h\"><h2 id=\"actions-h\">Actions for noncompliance</h2><ol class=\"timeline\">",
    );
    for action in &actions {
        let hours = action["gracePeriodHours"].as_i64().unwrap_or(0);
        let at = if hours == 0 {
            "Immediately".to_string()
        } else if hours % 24 == 0 {
            format!("After {} day(s)", hours / 24)
        } else {
            format!("After {hours} hour(s)")
        };
        let _ = write!(
            out,
            "<li><strong>{}</strong>: {}</li>",
            E(&at),
            E(&view::text(&action["actionType"]))
        );
    }
    if actions.is_empty() {
        out.push_str("<li>No action.</li>");
    }
    out.push_str("</ol></section>");
    out
}

/// The display names of the groups the assignments name (ids where they cannot be read).
async fn group_names(ctx: &Ctx, policy: &Value) -> Vec<(String, String)> {
    let ids: Vec<String> = policy["assignments"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a["target"]["groupId"].as_str().map(str::to_string))
        .take(100)
        .collect();
    futures_util::future::join_all(ids.into_iter().map(|id| async move {
        let name = ctx
            .get(&format!(
                "/v1.0/groups/{}?$select=displayName",
                segment(&id)
            ))
            .await
            .ok()
            .and_then(|g| g["displayName"].as_str().map(str::to_string));
        (id.clone(), name.unwrap_or(id))
    }))
    .await
}

fn target_words(target: &Value, groups: &[(String, String)]) -> (String, &'static str) {
    let kind = target["@odata.type"].as_str().unwrap_or("");
    let group = || {
        let id = target["groupId"].as_str().unwrap_or("");
        groups
            .iter()
            .find(|(g, _)| g == id)
            .map_or(id.to_string(), |(_, name)| name.clone())
    };
    if kind.ends_with("allDevicesAssignmentTarget") {
        ("All devices".into(), "Included")
    } else if kind.ends_with("allLicensedUsersAssignmentTarget") {
        ("All users".into(), "Included")
    } else if kind.ends_with("exclusionGroupAssignmentTarget") {
        (group(), "Excluded")
    } else {
        (group(), "Included")
    }
}

async fn assignments(ctx: &Ctx, id: &str, policy: &Value, groups: &[(String, String)]) -> String {
    let rows: Vec<Vec<String>> = policy["assignments"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|a| {
            let target = &a["target"];
            let (name, mode) = target_words(target, groups);
            let filter = target["deviceAndAppManagementAssignmentFilterId"]
                .as_str()
                .filter(|f| !f.is_empty() && *f != "00000000-0000-0000-0000-000000000000")
                .map_or("—".to_string(), |f| {
                    format!(
                        "{} ({})",
                        f,
                        view::text(&target["deviceAndAppManagementAssignmentFilterType"])
                    )
                });
            vec![
                E(&name).to_string(),
                mode.to_string(),
                E(&filter).to_string(),
            ]
        })
        .collect();
    let mut out = String::from("<h2 id=\"assignments-h\">Assignments</h2>");
    out.push_str(&view::table(
        "Who the policy is assigned to",
        &["Target", "Mode", "Filter"],
        &rows,
    ));
    if ctx.may(&POLICY_WRITERS) {
        out.push_str(&assign_form(ctx, id).await);
    }
    out
}

async fn assign_form(ctx: &Ctx, id: &str) -> String {
    let groups = ctx
        .get("/v1.0/groups?$select=id,displayName&$top=200")
        .await
        .ok();
    let mut options = String::from(
        "<option value=\"allDevices\">All devices</option><option value=\"allUsers\">All users</option>",
    );
    // The first 200 groups the service lists, by name.
    let mut groups: Vec<&Value> = groups
        .as_ref()
        .map(view::values)
        .unwrap_or_default()
        .iter()
        .collect();
    groups.sort_by(|a, b| a["displayName"].as_str().cmp(&b["displayName"].as_str()));
    for g in groups {
        let _ = write!(
            options,
            "<option value=\"group:{}\">{}</option>",
            E(g["id"].as_str().unwrap_or("")),
            E(g["displayName"].as_str().unwrap_or(""))
        );
    }
    format!(
        "<form class=\"inline\" method=\"post\" action=\"/console/policies/{id}/assign\">{csrf}\
<label>Assign to<select name=\"target\">{options}</select></label>\
<label>Mode<select name=\"mode\"><option value=\"include\">Include</option><option value=\"exclude\">Exclude</option></select></label>\
<button type=\"submit\">Add assignment</button></form>",
        id = E(id),
        csrf = view::csrf_field(ctx),
    )
}

fn summary_table(answer: &Value) -> String {
    let rows: Vec<Vec<String>> = view::values(answer)
        .iter()
        .map(|s| {
            let n = |k: &str| s[k].as_u64().unwrap_or(0).to_string();
            vec![
                E(&view::text(&s["settingName"])).to_string(),
                n("compliantDeviceCount"),
                n("nonCompliantDeviceCount"),
                n("errorDeviceCount"),
                n("notApplicableDeviceCount"),
            ]
        })
        .collect();
    view::table(
        "Devices by state, per setting",
        &[
            "Setting",
            "Compliant",
            "Noncompliant",
            "Error",
            "Not applicable",
        ],
        &rows,
    )
}

fn status_filter(id: &str, params: &std::collections::HashMap<String, String>) -> String {
    let chosen = |name: &str| params.get(name).map_or("", String::as_str);
    let mut status = String::from("<option value=\"\">Any</option>");
    for s in STATUSES {
        let selected = if chosen("status") == s {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            status,
            "<option value=\"{s}\"{selected}>{}</option>",
            view::label(s)
        );
    }
    let mut order = String::new();
    for (value, words) in ORDERS {
        let selected = if chosen("order") == value {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            order,
            "<option value=\"{value}\"{selected}>{words}</option>"
        );
    }
    format!(
        "<form class=\"inline\" method=\"get\" action=\"/console/policies/{}\" role=\"search\" aria-label=\"Device statuses\">\
<label>Status<select name=\"status\">{status}</select></label>\
<label>User starts with<input name=\"user\" value=\"{}\" maxlength=\"256\"></label>\
<label>Sort by<select name=\"order\">{order}</select></label><button type=\"submit\">Show</button></form>",
        E(id),
        E(chosen("user")),
    )
}

fn status_table(answer: &Value) -> String {
    let rows: Vec<Vec<String>> = view::values(answer)
        .iter()
        .map(|s| {
            let device = s["id"].as_str().unwrap_or("");
            let name = s["deviceDisplayName"].as_str().unwrap_or(device);
            vec![
                view::link(&format!("/console/devices/{device}"), name),
                badge(s["status"].as_str().unwrap_or("")),
                E(&view::text(&s["userPrincipalName"])).to_string(),
                E(&when(&s["complianceGracePeriodExpirationDateTime"])).to_string(),
                E(&when(&s["lastReportedDateTime"])).to_string(),
            ]
        })
        .collect();
    view::table(
        "Device statuses",
        &["Device", "Status", "User", "Grace ends", "Last report"],
        &rows,
    )
}

/// `POST /console/policies/{id}/assign` (`target`, `mode`): the policy's assignments with one
/// more, sent to its `assign` action.
pub async fn assign(Path(id): Path<String>, Signed { ctx, form }: Signed) -> Response {
    let exclude = form.get("mode") == "exclude";
    let target = match form.get("target") {
        "allDevices" => json!({"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}),
        "allUsers" => json!({"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}),
        other => {
            let group = other.strip_prefix("group:").unwrap_or(other);
            let kind = if exclude {
                "#microsoft.graph.exclusionGroupAssignmentTarget"
            } else {
                "#microsoft.graph.groupAssignmentTarget"
            };
            json!({"@odata.type": kind, "groupId": group})
        }
    };
    let current = match ctx.get(&format!("{}/assignments", base(&id))).await {
        Ok(current) => current,
        Err(f) => return view::page(&ctx, "/console/policies", "Assign", &view::failure(&f)),
    };
    let mut all: Vec<Value> = view::values(&current)
        .iter()
        .map(|a| json!({"target": a["target"]}))
        .collect();
    all.push(json!({ "target": target }));
    let assign = format!("{}/assign", base(&id));
    match ctx
        .call(Method::POST, &assign, Some(&json!({ "assignments": all })))
        .await
    {
        Ok(_) => redirect(&path_with(
            &format!("/console/policies/{id}"),
            &[("done", "assigned".into())],
        )),
        Err(f) => view::page(&ctx, "/console/policies", "Assign", &view::failure(&f)),
    }
}
