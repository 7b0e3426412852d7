//! Simulation: the tenant's clock (advance it, with a preview of what would fire; freeze it;
//! simulated check-ins) and a generated fleet.

use super::{when, CLOCK_WRITERS};
use crate::console::api::{path_with, Failure};
use crate::console::request::{query, Ctx, Signed};
use crate::console::view::{self, E};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use std::fmt::Write;

/// Who may generate a fleet: it writes the directory and managed devices.
const FLEET_WRITERS: [&str; 2] = [
    "Directory.ReadWrite.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
];

/// An ISO 8601 duration as the API takes it (checked there too): `P`, digits and unit letters.
fn plain_duration(text: &str) -> bool {
    text.len() <= 32
        && text.starts_with('P')
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"PTWDHMS.".contains(&b))
}

fn items(answer: &Value, key: &str, caption: &str) -> String {
    let rows: Vec<Vec<String>> = answer[key]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|item| {
            let device = item["managedDeviceId"].as_str().unwrap_or("");
            vec![
                E(&when(&item["dueDateTime"])).to_string(),
                E(item["actionType"]
                    .as_str()
                    .unwrap_or(item["kind"].as_str().unwrap_or("")))
                .to_string(),
                if device.is_empty() {
                    "—".into()
                } else {
                    view::link(&format!("/console/devices/{device}"), device)
                },
                E(&view::text(&item["outcome"])).to_string(),
            ]
        })
        .collect();
    view::table(caption, &["Due", "What", "Device", "Outcome"], &rows)
}

async fn render(ctx: &Ctx, preview: Option<&str>, notice: &str) -> Response {
    let clock = ctx.get("/complyd/v1/clock").await;
    let mut body = notice.to_string();
    body.push_str("<section class=\"card\" aria-labelledby=\"clock-h\"><h2 id=\"clock-h\">The tenant's clock</h2><div id=\"clock\" data-live>");
    match &clock {
        Ok(c) => {
            let _ = write!(
                body,
                "<dl class=\"facts\"><dt>Now</dt><dd id=\"clock-now\">{}</dd><dt>Frozen</dt><dd>{}</dd><dt>Simulated check-ins</dt><dd>{}</dd><dt>Scheduled items</dt><dd>{}</dd><dt>Next due</dt><dd>{}</dd></dl>",
                E(&when(&c["now"])),
                if c["frozen"] == true { "yes" } else { "no" },
                if c["simulateCheckIns"] == true { "on" } else { "off" },
                E(&view::text(&c["pendingCount"])),
                E(&when(&c["nextDueDateTime"])),
            );
        }
        Err(f) => body.push_str(&view::failure(f)),
    }
    body.push_str("</div>");
    let by = preview.unwrap_or("P1D");
    let _ = write!(
        body,
        "<form class=\"inline\" method=\"get\" action=\"/console/simulation\"><label>Advance by (ISO 8601 duration)<input name=\"preview\" value=\"{}\" maxlength=\"32\"></label><button type=\"submit\" class=\"secondary\">Preview</button></form>",
        E(by)
    );
    if let Some(by) = preview {
        let path = path_with(
            "/complyd/v1/clock/schedule",
            &[("advanceBy", by.to_string())],
        );
        match ctx.get(&path).await {
            Ok(answer) => {
                let _ = write!(
                    body,
                    "<h3>Would fire by {}</h3>",
                    E(&when(&answer["until"]))
                );
                body.push_str(&items(&answer, "value", "What the move would fire"));
            }
            Err(f) => body.push_str(&view::failure(&f)),
        }
    }
    if ctx.may(&CLOCK_WRITERS) {
        let frozen = clock.as_ref().is_ok_and(|c| c["frozen"] == true);
        let simulating = clock.as_ref().is_ok_and(|c| c["simulateCheckIns"] == true);
        let _ = write!(
            body,
            "<form class=\"inline\" method=\"post\" action=\"/console/simulation/clock\">{csrf}<input type=\"hidden\" name=\"advanceBy\" value=\"{by}\"><button type=\"submit\">Advance by {by}</button></form>\
<form class=\"inline\" method=\"post\" action=\"/console/simulation/clock\">{csrf}<input type=\"hidden\" name=\"freeze\" value=\"{freeze}\"><button type=\"submit\" class=\"secondary\">{freeze_words}</button></form>\
<form class=\"inline\" method=\"post\" action=\"/console/simulation/clock\">{csrf}<input type=\"hidden\" name=\"simulateCheckIns\" value=\"{simulate}\"><button type=\"submit\" class=\"secondary\">{simulate_words}</button></form>",
            csrf = view::csrf_field(ctx),
            by = E(by),
            freeze = !frozen,
            freeze_words = if frozen { "Let the clock run" } else { "Freeze the clock" },
            simulate = !simulating,
            simulate_words = if simulating { "Stop simulated check-ins" } else { "Simulate check-ins" },
        );
    } else {
        body.push_str(&view::not_permitted("move the clock", "DeviceManagementConfiguration.ReadWrite.All or DeviceManagementManagedDevices.ReadWrite.All"));
    }
    body.push_str("</section><section class=\"card\" aria-labelledby=\"fleet-h\"><h2 id=\"fleet-h\">Generate a fleet</h2>");
    if FLEET_WRITERS.iter().all(|p| ctx.may(&[p])) {
        let _ = write!(
            body,
            "<form class=\"inline\" method=\"post\" action=\"/console/simulation/fleet\">{}\
<label>Users<input name=\"users\" inputmode=\"numeric\" value=\"50\"></label>\
<label>Devices<input name=\"devices\" inputmode=\"numeric\" value=\"100\"></label>\
<label>Seed<input name=\"seed\" inputmode=\"numeric\" value=\"1\"></label><button type=\"submit\">Generate</button></form>",
            view::csrf_field(ctx)
        );
    } else {
        body.push_str(&view::not_permitted(
            "generate a fleet",
            "Directory.ReadWrite.All and DeviceManagementManagedDevices.ReadWrite.All",
        ));
    }
    body.push_str("</section>");
    view::page(ctx, "/console/simulation", "Simulation", &body)
}

pub async fn show(ctx: Ctx, uri: Uri) -> Response {
    let params = query(&uri);
    let preview = params.get("preview").filter(|p| plain_duration(p)).cloned();
    render(&ctx, preview.as_deref(), "").await
}

/// `POST /console/simulation/clock` (`advanceBy`, `freeze` or `simulateCheckIns`).
pub async fn clock(Signed { ctx, form }: Signed) -> Response {
    let mut request = serde_json::Map::new();
    if !form.get("advanceBy").is_empty() {
        request.insert("advanceBy".into(), json!(form.get("advanceBy")));
    }
    for switch in ["freeze", "simulateCheckIns"] {
        match form.get(switch) {
            "true" => {
                request.insert(switch.into(), json!(true));
            }
            "false" => {
                request.insert(switch.into(), json!(false));
            }
            _ => {}
        }
    }
    let notice = match ctx.call(Method::POST, "/complyd/v1/clock", Some(&Value::Object(request))).await {
        Ok(answer) => format!(
            "<div class=\"done\" role=\"status\" id=\"moved\"><p>The clock stands at {}; {} item(s) fired.</p>{}</div>",
            E(&when(&answer["now"])),
            E(&view::text(&answer["firedCount"])),
            items(&answer, "fired", "What fired"),
        ),
        Err(f) => view::failure(&f),
    };
    let by = form.get("advanceBy");
    render(&ctx, plain_duration(by).then_some(by), &notice).await
}

/// `POST /console/simulation/fleet` (`users`, `devices`, `seed`).
pub async fn fleet(Signed { ctx, form }: Signed) -> Response {
    let mut request = serde_json::Map::new();
    let mut notice = String::new();
    for name in ["users", "devices", "seed"] {
        match form.get(name).trim().parse::<u64>() {
            Ok(n) => {
                request.insert(name.into(), json!(n));
            }
            Err(_) => {
                notice = view::failure(&Failure {
                    status: StatusCode::BAD_REQUEST,
                    code: "BadRequest".into(),
                    message: format!("{name} takes a whole number."),
                });
            }
        }
    }
    if notice.is_empty() {
        notice = match ctx
            .call(
                Method::POST,
                "/complyd/v1/fleet",
                Some(&Value::Object(request)),
            )
            .await
        {
            Ok(answer) => format!(
                "<p class=\"done\" role=\"status\">The fleet was made: {}</p>",
                E(&answer.to_string())
            ),
            Err(f) => view::failure(&f),
        };
    }
    render(&ctx, None, &notice).await
}
