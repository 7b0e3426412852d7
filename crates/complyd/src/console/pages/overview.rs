//! The overview: device verdicts as a donut with its numbers in words, their trend over the
//! tenant's clock, the devices no policy covers, the settings that fail most, and what the
//! tenant's clock fires next.

use super::when;
use crate::console::api::path_with;
use crate::console::request::Ctx;
use crate::console::view::label;
use crate::console::view::{self, E};
use axum::response::Response;
use serde_json::Value;
use std::fmt::Write;

/// The verdicts shown, with the summary's counter, the swatch class and the colour.
const VERDICTS: [(&str, &str, &str, &str); 5] = [
    ("compliant", "compliantDeviceCount", "s-ok", "#059669"),
    ("inGracePeriod", "inGracePeriodCount", "s-grace", "#d97706"),
    (
        "noncompliant",
        "nonCompliantDeviceCount",
        "s-bad",
        "#dc2626",
    ),
    ("unknown", "unknownDeviceCount", "s-none", "#9ca3af"),
    ("error", "errorDeviceCount", "s-err", "#7c3aed"),
];

pub async fn show(ctx: Ctx) -> Response {
    let settings_path = path_with(
        "/v1.0/deviceManagement/deviceCompliancePolicySettingStateSummaries",
        &[
            ("$orderby", "nonCompliantDeviceCount desc".into()),
            ("$top", "5".into()),
        ],
    );
    let (summary, settings, due, verdicts) = tokio::join!(
        ctx.get("/v1.0/deviceManagement/deviceCompliancePolicyDeviceStateSummary"),
        ctx.get(&settings_path),
        ctx.get("/complyd/v1/clock/schedule?$top=5"),
        ctx.get("/complyd/v1/verdicts"),
    );
    let mut body = String::from("<div class=\"grid\">");
    let _ = write!(
        body,
        "<section class=\"card\" aria-labelledby=\"verdicts-h\"><h2 id=\"verdicts-h\">Device verdicts</h2><div id=\"verdicts\" data-live>{}</div></section>",
        match &summary {
            Ok(summary) => donut(summary),
            Err(f) => view::failure(f),
        }
    );
    let _ = write!(
        body,
        "<section class=\"card\" aria-labelledby=\"trend-h\"><h2 id=\"trend-h\">Trend</h2><div id=\"trend\" data-live>{}</div></section>",
        match &verdicts {
            Ok(verdicts) => format!("{}{}", uncovered(verdicts), super::trend::chart(verdicts)),
            Err(f) => view::failure(f),
        }
    );
    let _ = write!(
        body,
        "<section class=\"card\" aria-labelledby=\"settings-h\"><h2 id=\"settings-h\">Settings that fail most</h2><div id=\"failing-settings\" data-live>{}</div></section>",
        match &settings {
            Ok(settings) => failing_settings(settings),
            Err(f) => view::failure(f),
        }
    );
    let _ = write!(
        body,
        "<section class=\"card\" aria-labelledby=\"due-h\"><h2 id=\"due-h\">Due next</h2><div id=\"due-next\" data-live>{}</div></section>",
        match &due {
            Ok(due) => due_next(due),
            Err(f) => view::failure(f),
        }
    );
    body.push_str("</div>");
    view::page(&ctx, "/console", "Overview", &body)
}

/// The donut (an SVG with a title) and the same counts as a list.
fn donut(summary: &Value) -> String {
    let counts: Vec<u64> = VERDICTS
        .iter()
        .map(|(_, counter, _, _)| summary[*counter].as_u64().unwrap_or(0))
        .collect();
    let total: u64 = counts.iter().sum();
    let described = VERDICTS
        .iter()
        .zip(&counts)
        .map(|((state, ..), n)| format!("{} {n}", label(state)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut svg = format!(
        "<svg width=\"160\" height=\"160\" viewBox=\"0 0 42 42\" role=\"img\" aria-labelledby=\"donut-title\">\
<title id=\"donut-title\">{total} devices: {}</title>\
<circle cx=\"21\" cy=\"21\" r=\"15.915\" fill=\"none\" stroke=\"#e5e7eb\" stroke-width=\"6\"></circle>",
        E(&described)
    );
    let mut offset = 25.0;
    for ((_, _, _, colour), n) in VERDICTS.iter().zip(&counts) {
        if *n == 0 || total == 0 {
            continue;
        }
        let share = *n as f64 * 100.0 / total as f64;
        let _ = write!(
            svg,
            "<circle cx=\"21\" cy=\"21\" r=\"15.915\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"6\" \
stroke-dasharray=\"{share:.3} {:.3}\" stroke-dashoffset=\"{offset:.3}\"></circle>",
            100.0 - share
        );
        offset -= share;
    }
    let _ = write!(
        svg,
        "<text x=\"21\" y=\"23\" text-anchor=\"middle\" font-size=\"7\" fill=\"#111827\">{total}</text></svg>"
    );
    let mut legend = String::from("<ul class=\"legend\">");
    for ((state, _, swatch, _), n) in VERDICTS.iter().zip(&counts) {
        let _ = write!(
            legend,
            "<li><span class=\"swatch {swatch}\" aria-hidden=\"true\"></span>{}: <strong data-verdict=\"{state}\">{n}</strong></li>",
            label(state)
        );
    }
    let _ = write!(
        legend,
        "</ul><p class=\"muted\">{total} managed devices in all.</p>"
    );
    format!("<div class=\"donut\">{svg}{legend}</div>")
}

/// How many devices no policy covers (their verdict is the tenant's default).
fn uncovered(verdicts: &Value) -> String {
    let n = verdicts["devicesWithoutPolicy"].as_u64().unwrap_or(0);
    format!(
        "<p>Devices with no policy: <strong data-count=\"devicesWithoutPolicy\">{n}</strong> \
<span class=\"muted\">(no assigned policy applies to them: they are compliant, or noncompliant \
when the tenant is secure by default)</span></p>"
    )
}

fn failing_settings(settings: &Value) -> String {
    let rows: Vec<Vec<String>> = view::values(settings)
        .iter()
        .filter(|s| s["nonCompliantDeviceCount"].as_u64().unwrap_or(0) > 0)
        .map(|s| {
            vec![
                E(&view::text(&s["settingName"])).to_string(),
                E(&view::text(&s["platformType"])).to_string(),
                E(&view::text(&s["nonCompliantDeviceCount"])).to_string(),
            ]
        })
        .collect();
    view::table(
        "Settings by noncompliant devices",
        &["Setting", "Platform", "Noncompliant devices"],
        &rows,
    )
}

fn due_next(due: &Value) -> String {
    let mut out = format!(
        "<p>The tenant's clock: <strong>{}</strong>. <a href=\"/console/simulation\">Simulation</a></p>",
        E(&when(&due["now"]))
    );
    let rows: Vec<Vec<String>> = view::values(due)
        .iter()
        .map(|item| {
            let what = item["actionType"]
                .as_str()
                .unwrap_or(item["kind"].as_str().unwrap_or(""));
            let device = item["managedDeviceId"].as_str().unwrap_or("");
            vec![
                E(&when(&item["dueDateTime"])).to_string(),
                E(what).to_string(),
                if device.is_empty() {
                    "—".into()
                } else {
                    view::link(&format!("/console/devices/{device}"), device)
                },
            ]
        })
        .collect();
    out.push_str(&view::table("Scheduled", &["Due", "What", "Device"], &rows));
    out
}
