//! The directory's users, by name, a page at a time, each with a link to their page.

use super::by_name::ByName;
use crate::console::request::Ctx;
use crate::console::view::{self, E};
use axum::http::Uri;
use axum::response::Response;
use serde_json::Value;

const USERS: ByName = ByName {
    path: "/console/users",
    title: "Users",
    api: "/v1.0/users",
    select: "id,displayName,userPrincipalName,accountEnabled,preferredLanguage",
    label: "Name (or sign-in name, with @) starts with",
    filter: |name| match name.contains('@') {
        true => format!("startswith(userPrincipalName,'{name}')"),
        false => format!("startswith(displayName,'{name}')"),
    },
    columns: &["Name", "Sign-in name", "Account", "Language"],
    row,
};

fn row(u: &Value) -> Vec<String> {
    let id = u["id"].as_str().unwrap_or("");
    vec![
        view::link(
            &format!("/console/users/{id}"),
            u["displayName"].as_str().unwrap_or(id),
        ),
        E(&view::text(&u["userPrincipalName"])).to_string(),
        if u["accountEnabled"] == false {
            "Disabled"
        } else {
            "Enabled"
        }
        .to_string(),
        E(&view::text(&u["preferredLanguage"])).to_string(),
    ]
}

pub async fn list(ctx: Ctx, uri: Uri) -> Response {
    USERS.show(ctx, uri).await
}
