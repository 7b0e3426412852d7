//! A directory list found by name (users, groups): a name filter, one page of the API's answer
//! (by `displayName` unfiltered), and a pager. What differs between the lists is data ([`ByName`]).

use super::{literal, PAGE_ROWS};
use crate::console::api::path_with;
use crate::console::request::{query, Ctx};
use crate::console::view::{self, E};
use axum::http::Uri;
use axum::response::Response;
use serde_json::Value;

pub struct ByName {
    /// The console page's path, and its title.
    pub path: &'static str,
    pub title: &'static str,
    /// The API collection, and the properties a row needs.
    pub api: &'static str,
    pub select: &'static str,
    /// The name filter's label, and its `$filter` for a name (quoted for a literal already).
    pub label: &'static str,
    pub filter: fn(&str) -> String,
    pub columns: &'static [&'static str],
    pub row: fn(&Value) -> Vec<String>,
}

impl ByName {
    pub async fn show(&self, ctx: Ctx, uri: Uri) -> Response {
        let params = query(&uri);
        let name = params.get("name").map_or("", String::as_str);
        let mut body = format!(
            "<form class=\"inline\" method=\"get\" action=\"{path}\" role=\"search\" aria-label=\"{title}\">\
<label>{label}<input name=\"name\" value=\"{}\" maxlength=\"256\"></label><button type=\"submit\">Show</button></form>",
            E(name),
            path = self.path,
            title = self.title,
            label = self.label,
        );
        let mut api = vec![
            ("$select", self.select.to_string()),
            ("$top", PAGE_ROWS.to_string()),
        ];
        // By name unfiltered; filtered, in the service's order, which the type's index gives
        // at once (by name, the index walks every device of the directory before its users).
        match name {
            "" => api.push(("$orderby", "displayName".to_string())),
            name => api.push(("$filter", (self.filter)(&literal(name)))),
        }
        if let Some(page) = params.get("page") {
            api.push(("$skiptoken", page.clone()));
        }
        match ctx.get(&path_with(self.api, &api)).await {
            Ok(answer) => {
                let rows: Vec<Vec<String>> = view::values(&answer).iter().map(self.row).collect();
                let listing = view::Listing {
                    id: &self.title.to_ascii_lowercase(),
                    caption: self.title,
                    headers: self.columns,
                    base: self.path,
                    kept: &["name"],
                };
                body.push_str(&listing.html(&params, &rows, &answer));
            }
            Err(f) => body.push_str(&view::failure(&f)),
        }
        view::page(&ctx, self.path, self.title, &body)
    }
}
