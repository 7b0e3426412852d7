//! One user: who they are, their managed devices with each verdict, and the groups they are in.

use super::PAGE_ROWS;
use crate::console::api::{path_with, segment};
use crate::console::request::Ctx;
use crate::console::view::{self, E};
use axum::extract::Path;
use axum::response::Response;

pub async fn show(ctx: Ctx, Path(id): Path<String>) -> Response {
    let base = format!("/v1.0/users/{}", segment(&id));
    let devices_path = path_with(
        &format!("{base}/managedDevices"),
        &[
            (
                "$select",
                "id,deviceName,operatingSystem,osVersion,complianceState,lastSyncDateTime".into(),
            ),
            ("$top", PAGE_ROWS.to_string()),
        ],
    );
    let groups_path = path_with(
        &format!("{base}/memberOf"),
        &[("$top", PAGE_ROWS.to_string())],
    );
    let (user, devices, groups) = tokio::join!(
        ctx.get(&base),
        ctx.get(&devices_path),
        ctx.get(&groups_path),
    );
    let user = match user {
        Ok(user) => user,
        Err(f) => return view::page(&ctx, "/console/users", "User", &view::failure(&f)),
    };
    let title = user["displayName"].as_str().unwrap_or(&id).to_string();
    let mut body = format!(
        "<dl class=\"facts\"><dt>Sign-in name</dt><dd>{}</dd><dt>Mail</dt><dd>{}</dd>\
<dt>Preferred language</dt><dd>{}</dd><dt>Account</dt><dd>{}</dd></dl>",
        E(&view::text(&user["userPrincipalName"])),
        E(&view::text(&user["mail"])),
        E(&view::text(&user["preferredLanguage"])),
        if user["accountEnabled"] == false {
            "Disabled"
        } else {
            "Enabled"
        },
    );
    body.push_str("<h2>Managed devices</h2><div id=\"user-devices\" data-live>");
    body.push_str(&match &devices {
        Ok(devices) => {
            let rows: Vec<Vec<String>> = view::values(devices)
                .iter()
                .map(|d| super::devices::row(d, false))
                .collect();
            view::table(
                "The user's managed devices",
                &super::devices::columns(false),
                &rows,
            )
        }
        Err(f) => view::failure(f),
    });
    body.push_str("</div><h2>Groups</h2>");
    body.push_str(&match &groups {
        Ok(groups) => {
            let rows: Vec<Vec<String>> = view::values(groups)
                .iter()
                .map(|g| {
                    vec![
                        E(&view::text(&g["displayName"])).to_string(),
                        E(&view::text(&g["id"])).to_string(),
                    ]
                })
                .collect();
            view::table(
                "Groups the user is a direct member of",
                &["Name", "Id"],
                &rows,
            )
        }
        Err(f) => view::failure(f),
    });
    view::page(&ctx, "/console/users", &title, &body)
}
