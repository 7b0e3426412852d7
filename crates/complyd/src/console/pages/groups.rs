//! The directory's groups, by name, a page at a time.

use super::by_name::ByName;
use crate::console::request::Ctx;
use crate::console::view::{self, E};
use axum::http::Uri;
use axum::response::Response;
use serde_json::Value;

const GROUPS: ByName = ByName {
    path: "/console/groups",
    title: "Groups",
    api: "/v1.0/groups",
    select: "id,displayName,groupTypes,membershipRule,securityEnabled",
    label: "Name starts with",
    filter: |name| format!("startswith(displayName,'{name}')"),
    columns: &["Name", "Membership", "Rule", "Id"],
    row,
};

fn row(g: &Value) -> Vec<String> {
    let dynamic = g["groupTypes"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x == "DynamicMembership"));
    vec![
        E(&view::text(&g["displayName"])).to_string(),
        if dynamic { "Dynamic" } else { "Assigned" }.to_string(),
        E(&view::text(&g["membershipRule"])).to_string(),
        E(&view::text(&g["id"])).to_string(),
    ]
}

pub async fn list(ctx: Ctx, uri: Uri) -> Response {
    GROUPS.show(ctx, uri).await
}
