//! The directory's groups, by name, a page at a time.

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
        "<form class=\"inline\" method=\"get\" action=\"/console/groups\" role=\"search\" aria-label=\"Groups\">\
<label>Name starts with<input name=\"name\" value=\"{}\" maxlength=\"256\"></label><button type=\"submit\">Show</button></form>",
        E(name)
    );
    let mut api = vec![
        (
            "$select",
            "id,displayName,groupTypes,membershipRule,securityEnabled".to_string(),
        ),
        ("$orderby", "displayName".to_string()),
        ("$top", PAGE_ROWS.to_string()),
    ];
    if !name.is_empty() {
        api.push((
            "$filter",
            format!("startswith(displayName,'{}')", literal(name)),
        ));
    }
    if let Some(page) = params.get("page") {
        api.push(("$skiptoken", page.clone()));
    }
    match ctx.get(&path_with("/v1.0/groups", &api)).await {
        Ok(answer) => {
            let rows: Vec<Vec<String>> = answer["value"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|g| {
                    let dynamic = g["groupTypes"]
                        .as_array()
                        .is_some_and(|t| t.iter().any(|x| x == "DynamicMembership"));
                    vec![
                        E(&view::text(&g["displayName"])).to_string(),
                        if dynamic { "Dynamic" } else { "Assigned" }.to_string(),
                        E(&view::text(&g["membershipRule"])).to_string(),
                        E(&view::text(&g["id"])).to_string(),
                    ]
                })
                .collect();
            let kept: Vec<(&str, String)> = if name.is_empty() {
                vec![]
            } else {
                vec![("name", name.to_string())]
            };
            let listing = view::Listing {
                id: "groups",
                caption: "Groups",
                headers: &["Name", "Membership", "Rule", "Id"],
                base: "/console/groups",
                kept: &kept,
                paged: params.contains_key("page"),
            };
            body.push_str(&listing.html(&rows, &answer));
        }
        Err(f) => body.push_str(&view::failure(&f)),
    }
    view::page(&ctx, "/console/groups", "Groups", &body)
}
