//! The Intune audit log, newest first, filtered by category, a page at a time.

use super::{when, PAGE_ROWS};
use crate::console::api::path_with;
use crate::console::request::{query, Ctx};
use crate::console::view::{self, E};
use axum::http::Uri;
use axum::response::Response;
use std::fmt::Write;

const CATEGORIES: [&str; 3] = ["Compliance", "Role", "Other"];

pub async fn list(ctx: Ctx, uri: Uri) -> Response {
    let params = query(&uri);
    let category = params
        .get("category")
        .filter(|c| CATEGORIES.contains(&c.as_str()))
        .cloned();
    let mut options = String::from("<option value=\"\">Any</option>");
    for c in CATEGORIES {
        let selected = if category.as_deref() == Some(c) {
            " selected"
        } else {
            ""
        };
        let _ = write!(options, "<option value=\"{c}\"{selected}>{c}</option>");
    }
    let mut body = format!(
        "<form class=\"inline\" method=\"get\" action=\"/console/audit\" role=\"search\" aria-label=\"Audit log\">\
<label>Category<select name=\"category\">{options}</select></label><button type=\"submit\">Show</button></form>"
    );
    let mut api = vec![
        ("$orderby", "activityDateTime desc".to_string()),
        ("$top", PAGE_ROWS.to_string()),
    ];
    if let Some(c) = &category {
        api.push(("$filter", format!("category eq '{c}'")));
    }
    if let Some(page) = params.get("page") {
        api.push(("$skiptoken", page.clone()));
    }
    match ctx
        .get(&path_with("/v1.0/deviceManagement/auditEvents", &api))
        .await
    {
        Ok(answer) => {
            let rows: Vec<Vec<String>> = view::values(&answer)
                .iter()
                .map(|e| {
                    let actor = e["actor"]["userPrincipalName"]
                        .as_str()
                        .or(e["actor"]["applicationDisplayName"].as_str())
                        .unwrap_or("—");
                    let resource = e["resources"][0]["displayName"].as_str().unwrap_or("—");
                    vec![
                        E(&when(&e["activityDateTime"])).to_string(),
                        E(&view::text(&e["activityType"])).to_string(),
                        E(actor).to_string(),
                        E(resource).to_string(),
                        E(&view::text(&e["activityResult"])).to_string(),
                    ]
                })
                .collect();
            let listing = view::Listing {
                id: "audit",
                caption: "Audit events, newest first",
                headers: &["When", "Activity", "Actor", "Resource", "Result"],
                base: "/console/audit",
                kept: &["category"],
            };
            body.push_str(&listing.html(&params, &rows, &answer));
        }
        Err(f) => body.push_str(&view::failure(&f)),
    }
    view::page(&ctx, "/console/audit", "Audit log", &body)
}
