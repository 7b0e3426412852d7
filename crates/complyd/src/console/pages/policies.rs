//! The policies: each with its platform, how many assignments it has and how many devices fail
//! it, a page at a time.

use super::{platform, PAGE_ROWS, POLICY_WRITERS};
use crate::console::api::{path_with, segment};
use crate::console::request::{query, Ctx};
use crate::console::view::{self, E};
use axum::http::Uri;
use axum::response::Response;
use serde_json::Value;

pub async fn list(ctx: Ctx, uri: Uri) -> Response {
    let params = query(&uri);
    let mut api = vec![
        ("$select", "id,displayName,lastModifiedDateTime".to_string()),
        ("$expand", "assignments".to_string()),
        ("$orderby", "displayName".to_string()),
        ("$top", PAGE_ROWS.to_string()),
    ];
    if let Some(page) = params.get("page") {
        api.push(("$skiptoken", page.clone()));
    }
    let path = path_with("/beta/deviceManagement/deviceCompliancePolicies", &api);
    let mut body = String::new();
    if ctx.may(&POLICY_WRITERS) {
        body.push_str(
            "<p><a class=\"button\" href=\"/console/policies/new\">Create a policy</a></p>",
        );
    }
    match ctx.get(&path).await {
        Ok(answer) => {
            let policies = answer["value"].as_array().cloned().unwrap_or_default();
            let overviews = futures_util::future::join_all(policies.iter().map(|p| {
                let id = p["id"].as_str().unwrap_or("").to_string();
                let ctx = &ctx;
                async move {
                    ctx.get(&format!(
                        "/v1.0/deviceManagement/deviceCompliancePolicies/{}/deviceStatusOverview",
                        segment(&id)
                    ))
                    .await
                    .ok()
                }
            }))
            .await;
            let rows: Vec<Vec<String>> = policies
                .iter()
                .zip(overviews)
                .map(|(p, overview)| row(p, overview.as_ref()))
                .collect();
            let listing = view::Listing {
                id: "policies",
                caption: "Compliance policies",
                headers: &[
                    "Name",
                    "Platform",
                    "Assignments",
                    "Failing devices",
                    "Modified",
                ],
                base: "/console/policies",
                kept: &[],
            };
            body.push_str(&listing.html(&params, &rows, &answer));
        }
        Err(f) => body.push_str(&view::failure(&f)),
    }
    view::page(&ctx, "/console/policies", "Policies", &body)
}

fn row(policy: &Value, overview: Option<&Value>) -> Vec<String> {
    let id = policy["id"].as_str().unwrap_or("");
    let name = policy["displayName"].as_str().unwrap_or(id);
    let failing = overview.map_or("—".to_string(), |o| {
        (o["failedCount"].as_u64().unwrap_or(0) + o["errorCount"].as_u64().unwrap_or(0)).to_string()
    });
    vec![
        view::link(&format!("/console/policies/{id}"), name),
        E(&platform(policy["@odata.type"].as_str().unwrap_or(""))).to_string(),
        policy["assignments"]
            .as_array()
            .map_or(0, Vec::len)
            .to_string(),
        failing,
        E(&super::when(&policy["lastModifiedDateTime"])).to_string(),
    ]
}
