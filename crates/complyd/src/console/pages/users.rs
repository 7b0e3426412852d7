//! The directory's users, by name, a page at a time, each with a link to their devices.

use super::{literal, PAGE_ROWS};
use crate::console::api::path_with;
use crate::console::request::{query, Ctx};
use crate::console::view::{self, E};
use crate::console::Console;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use std::sync::Arc;

pub async fn list(State(console): State<Arc<Console>>, headers: HeaderMap, uri: Uri) -> Response {
    let ctx = match Ctx::of(&console, &headers, &uri, &Method::GET).await {
        Ok(ctx) => ctx,
        Err(res) => return res,
    };
    let params = query(&uri);
    let name = params.get("name").map_or("", String::as_str);
    let mut body = format!(
        "<form class=\"inline\" method=\"get\" action=\"/console/users\" role=\"search\" aria-label=\"Users\">\
<label>Name or sign-in starts with<input name=\"name\" value=\"{}\" maxlength=\"256\"></label><button type=\"submit\">Show</button></form>",
        E(name)
    );
    let mut api = vec![
        (
            "$select",
            "id,displayName,userPrincipalName,accountEnabled,preferredLanguage".to_string(),
        ),
        ("$orderby", "displayName".to_string()),
        ("$top", PAGE_ROWS.to_string()),
    ];
    if !name.is_empty() {
        let name = literal(name);
        api.push((
            "$filter",
            format!("startswith(displayName,'{name}') or startswith(userPrincipalName,'{name}')"),
        ));
    }
    if let Some(page) = params.get("page") {
        api.push(("$skiptoken", page.clone()));
    }
    match ctx.get(&path_with("/v1.0/users", &api)).await {
        Ok(answer) => {
            let rows: Vec<Vec<String>> = answer["value"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|u| {
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
                })
                .collect();
            let kept: Vec<(&str, String)> = if name.is_empty() {
                vec![]
            } else {
                vec![("name", name.to_string())]
            };
            let listing = view::Listing {
                id: "users",
                caption: "Users",
                headers: &["Name", "Sign-in name", "Account", "Language"],
                base: "/console/users",
                kept: &kept,
                paged: params.contains_key("page"),
            };
            body.push_str(&listing.html(&rows, &answer));
        }
        Err(f) => body.push_str(&view::failure(&f)),
    }
    view::page(&ctx, "/console/users", "Users", &body)
}
