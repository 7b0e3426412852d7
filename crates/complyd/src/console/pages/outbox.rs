//! The tenant's outbox: the emails the actions and test messages sent, filtered by kind or
//! device, a page at a time (oldest first, as the API lists them).

use super::{when, PAGE_ROWS};
use crate::console::api::path_with;
use crate::console::request::{query, Ctx};
use crate::console::view::{self, E};
use axum::http::Uri;
use axum::response::Response;
use std::fmt::Write;

const KINDS: [&str; 2] = ["noncomplianceNotification", "testMessage"];

pub async fn list(ctx: Ctx, uri: Uri) -> Response {
    let params = query(&uri);
    let kind = params
        .get("kind")
        .filter(|k| KINDS.contains(&k.as_str()))
        .cloned();
    let device = params
        .get("device")
        .filter(|d| !d.is_empty() && d.len() <= 64)
        .cloned();
    let skip: usize = params
        .get("skip")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
        .min(1_000_000);
    let mut kinds = String::from("<option value=\"\">Any</option>");
    for k in KINDS {
        let selected = if kind.as_deref() == Some(k) {
            " selected"
        } else {
            ""
        };
        let _ = write!(kinds, "<option value=\"{k}\"{selected}>{k}</option>");
    }
    let mut body = format!(
        "<form class=\"inline\" method=\"get\" action=\"/console/outbox\" role=\"search\" aria-label=\"Outbox\">\
<label>Kind<select name=\"kind\">{kinds}</select></label>\
<label>Device id<input name=\"device\" value=\"{}\" maxlength=\"64\"></label><button type=\"submit\">Show</button></form>",
        E(device.as_deref().unwrap_or(""))
    );
    let mut kept: Vec<(&str, String)> = Vec::new();
    if let Some(k) = &kind {
        kept.push(("kind", k.clone()));
    }
    if let Some(d) = &device {
        kept.push(("managedDeviceId", d.clone()));
    }
    let mut api = kept.clone();
    api.push(("$top", PAGE_ROWS.to_string()));
    api.push(("$skip", skip.to_string()));
    match ctx.get(&path_with("/complyd/v1/outbox", &api)).await {
        Ok(answer) => {
            let messages = answer["value"].as_array().cloned().unwrap_or_default();
            let rows: Vec<Vec<String>> = messages
                .iter()
                .map(|m| {
                    let recipients = m["recipients"]
                        .as_array()
                        .map(|r| r.iter().map(view::text).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default();
                    vec![
                        E(&when(&m["sentDateTime"])).to_string(),
                        E(&view::text(&m["kind"])).to_string(),
                        E(&recipients).to_string(),
                        E(&view::text(&m["subject"])).to_string(),
                        E(&view::text(&m["managedDeviceId"])).to_string(),
                    ]
                })
                .collect();
            body.push_str("<div id=\"outbox\" data-live>");
            body.push_str(&view::table(
                "Messages, oldest first",
                &["Sent", "Kind", "To", "Subject", "Device"],
                &rows,
            ));
            body.push_str("</div><nav class=\"pager\" aria-label=\"Pages\">");
            let mut page_link = |label: &str, at: usize| {
                let mut with: Vec<(&str, String)> = kept
                    .iter()
                    .map(|(k, v)| {
                        (
                            if *k == "managedDeviceId" {
                                "device"
                            } else {
                                *k
                            },
                            v.clone(),
                        )
                    })
                    .collect();
                with.push(("skip", at.to_string()));
                body.push_str(&view::link(&path_with("/console/outbox", &with), label));
                body.push(' ');
            };
            if skip > 0 {
                page_link("Previous page", skip.saturating_sub(PAGE_ROWS));
            }
            if messages.len() == PAGE_ROWS {
                page_link("Next page", skip + PAGE_ROWS);
            }
            body.push_str("</nav>");
        }
        Err(f) => body.push_str(&view::failure(&f)),
    }
    view::page(&ctx, "/console/outbox", "Outbox", &body)
}
