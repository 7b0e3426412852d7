//! The managed devices, filtered by verdict, platform, user and last check-in, a page at a
//! time (the API filters and pages; the fleet is never read whole).

use super::{literal, when, PAGE_ROWS};
use crate::console::api::path_with;
use crate::console::request::{query, Ctx};
use crate::console::view::{self, badge, E};
use axum::http::Uri;
use axum::response::Response;
use std::collections::HashMap;
use std::fmt::Write;

const VERDICTS: [&str; 5] = [
    "compliant",
    "inGracePeriod",
    "noncompliant",
    "error",
    "unknown",
];
const PLATFORMS: [&str; 4] = ["Windows", "iOS", "Android", "macOS"];

/// The API's `$filter` for the page's filters (each value checked or quoted).
fn filter(params: &HashMap<String, String>) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(v) = params
        .get("verdict")
        .filter(|v| VERDICTS.contains(&v.as_str()))
    {
        parts.push(format!("complianceState eq '{v}'"));
    }
    if let Some(p) = params
        .get("platform")
        .filter(|p| PLATFORMS.contains(&p.as_str()))
    {
        parts.push(format!("operatingSystem eq '{p}'"));
    }
    if let Some(u) = params.get("user").filter(|u| !u.is_empty()) {
        parts.push(format!("startswith(userPrincipalName,'{}')", literal(u)));
    }
    let day = params.get("before").filter(|d| {
        d.len() == 10
            && d.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
    });
    if let Some(day) = day {
        parts.push(format!("lastSyncDateTime lt {day}T00:00:00Z"));
    }
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// The list's order: by name unfiltered, by user for a user filter, by check-in for a check-in
/// filter; other filters keep the service's order, which their index gives at any size (sorting
/// 50,000 noncompliant devices by name would not).
fn order(params: &HashMap<String, String>, filtered: bool) -> Option<&'static str> {
    let set = |name: &str| params.get(name).is_some_and(|v| !v.is_empty());
    if !filtered {
        Some("deviceName")
    } else if set("user") {
        Some("userPrincipalName")
    } else if set("before") {
        Some("lastSyncDateTime desc")
    } else {
        None
    }
}

fn options(values: &[&str], chosen: &str, words: impl Fn(&str) -> String) -> String {
    let mut out = String::from("<option value=\"\">Any</option>");
    for v in values {
        let selected = if *v == chosen { " selected" } else { "" };
        let _ = write!(
            out,
            "<option value=\"{v}\"{selected}>{}</option>",
            E(&words(v))
        );
    }
    out
}

/// The columns of a device row (`with_user`: its user's too).
pub fn columns(with_user: bool) -> Vec<&'static str> {
    let mut out = vec!["Device", "Verdict", "OS", "User", "Last check-in"];
    if !with_user {
        out.remove(3);
    }
    out
}

/// A device as a row of a list: a link to its page, its verdict, OS, user, last check-in.
pub fn row(d: &serde_json::Value, with_user: bool) -> Vec<String> {
    let id = d["id"].as_str().unwrap_or("");
    let mut out = vec![
        view::link(
            &format!("/console/devices/{id}"),
            d["deviceName"].as_str().unwrap_or(id),
        ),
        badge(d["complianceState"].as_str().unwrap_or("")),
        E(&format!(
            "{} {}",
            view::text(&d["operatingSystem"]),
            view::text(&d["osVersion"])
        ))
        .to_string(),
    ];
    if with_user {
        out.push(E(&view::text(&d["userPrincipalName"])).to_string());
    }
    out.push(E(&when(&d["lastSyncDateTime"])).to_string());
    out
}

pub async fn list(ctx: Ctx, uri: Uri) -> Response {
    let params = query(&uri);
    let chosen = |name: &str| params.get(name).map_or("", String::as_str);
    let mut body = format!(
        "<form class=\"inline\" method=\"get\" action=\"/console/devices\" role=\"search\" aria-label=\"Devices\">\
<label>Verdict<select name=\"verdict\">{}</select></label>\
<label>Platform<select name=\"platform\">{}</select></label>\
<label>User starts with<input name=\"user\" value=\"{}\" maxlength=\"256\"></label>\
<label>Last check-in before<input type=\"date\" name=\"before\" value=\"{}\"></label>\
<button type=\"submit\">Show</button></form>",
        options(&VERDICTS, chosen("verdict"), view::label),
        options(&PLATFORMS, chosen("platform"), str::to_string),
        E(chosen("user")),
        E(chosen("before")),
    );
    let mut api = vec![
        ("$select", "id,deviceName,operatingSystem,osVersion,userPrincipalName,complianceState,lastSyncDateTime".to_string()),
        ("$top", PAGE_ROWS.to_string()),
    ];
    let filtered = filter(&params);
    if let Some(order) = order(&params, filtered.is_some()) {
        api.push(("$orderby", order.to_string()));
    }
    if let Some(f) = filtered {
        api.push(("$filter", f));
    }
    if let Some(page) = params.get("page") {
        api.push(("$skiptoken", page.clone()));
    }
    match ctx
        .get(&path_with("/v1.0/deviceManagement/managedDevices", &api))
        .await
    {
        Ok(answer) => {
            let rows: Vec<Vec<String>> =
                view::values(&answer).iter().map(|d| row(d, true)).collect();
            let listing = view::Listing {
                id: "devices",
                caption: "Managed devices",
                headers: &columns(true),
                base: "/console/devices",
                kept: &["verdict", "platform", "user", "before"],
            };
            body.push_str(&listing.html(&params, &rows, &answer));
        }
        Err(f) => body.push_str(&view::failure(&f)),
    }
    view::page(&ctx, "/console/devices", "Devices", &body)
}

#[cfg(test)]
mod tests {
    use super::filter;

    #[test]
    fn filters_take_only_known_values_and_quote_the_rest() {
        let params = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            filter(&params(&[("verdict", "noncompliant"), ("user", "o'b"), ("before", "2031-03-01")])).as_deref(),
            Some("complianceState eq 'noncompliant' and startswith(userPrincipalName,'o''b') and lastSyncDateTime lt 2031-03-01T00:00:00Z")
        );
        assert_eq!(
            filter(&params(&[
                ("verdict", "x' or 1 eq 1"),
                ("before", "2031-3-1")
            ])),
            None
        );
    }
}
