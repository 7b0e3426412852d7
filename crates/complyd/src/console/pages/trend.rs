//! The overview's trend: device verdicts over the tenant's clock (`GET /complyd/v1/verdicts`), as
//! step lines in an SVG, with the same points in a table for those who do not see the chart.

use super::when;
use crate::console::view::{self, label, E};
use serde_json::Value;
use std::fmt::Write;

/// The lines drawn: the verdict and its colour (the donut's).
const LINES: [(&str, &str); 3] = [
    ("compliant", "#059669"),
    ("inGracePeriod", "#d97706"),
    ("noncompliant", "#dc2626"),
];
const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 160.0;
/// Points drawn at most (the newest; the API keeps more).
const DRAWN: usize = 240;

struct Point {
    at: String,
    ms: i64,
    counts: [u64; 3],
}

fn ms_of(text: &str) -> i64 {
    odata::value::DateTimeOffset::parse(text)
        .map(|t| t.to_unix_seconds().saturating_mul(1000))
        .unwrap_or(0)
}

fn point(at: &Value, counts: &Value) -> Point {
    let text = at.as_str().unwrap_or("").to_string();
    Point {
        ms: ms_of(&text),
        at: text,
        counts: LINES.map(|(state, _)| counts[state].as_u64().unwrap_or(0)),
    }
}

/// The points to draw: the stored ones (the newest [`DRAWN`]) and now.
fn points(verdicts: &Value) -> Vec<Point> {
    let stored = verdicts["trend"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out: Vec<Point> = stored[stored.len().saturating_sub(DRAWN)..]
        .iter()
        .map(|p| point(&p["dateTime"], p))
        .collect();
    out.push(point(&verdicts["now"], &verdicts["current"]));
    out
}

/// The chart and its table; a sentence when there is no history yet.
pub fn chart(verdicts: &Value) -> String {
    let points = points(verdicts);
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return String::new();
    };
    if points.len() < 2 || last.ms <= first.ms {
        return "<p class=\"muted\">No history yet: the trend starts when verdicts change.</p>"
            .into();
    }
    let span = (last.ms - first.ms) as f64;
    let top = points
        .iter()
        .flat_map(|p| p.counts)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |ms: i64| (ms - first.ms) as f64 * WIDTH / span;
    let y = |n: u64| HEIGHT - n as f64 * HEIGHT / top;
    let (from, to) = (
        when(&Value::from(first.at.as_str())),
        when(&Value::from(last.at.as_str())),
    );
    // The axes' words: the highest count at the top, the first and last instants below.
    let mut svg = format!(
        "<svg class=\"trend\" viewBox=\"-2 -14 {w} {h}\" width=\"100%\" role=\"img\" aria-labelledby=\"trend-title\">\
<title id=\"trend-title\">Verdicts from {from} to {to} (tenant time); the table below has the figures.</title>\
<line x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\" stroke=\"#6b7280\" stroke-width=\"1\"></line>\
<line x1=\"0\" y1=\"0\" x2=\"{WIDTH}\" y2=\"0\" stroke=\"#e5e7eb\" stroke-width=\"1\"></line>\
<text x=\"0\" y=\"-4\" font-size=\"10\" fill=\"#374151\">{top} devices</text>\
<text x=\"0\" y=\"{below}\" font-size=\"10\" fill=\"#374151\">{from}</text>\
<text x=\"{WIDTH}\" y=\"{below}\" font-size=\"10\" fill=\"#374151\" text-anchor=\"end\">{to}</text>",
        from = E(&from),
        to = E(&to),
        w = WIDTH + 4.0,
        h = HEIGHT + 32.0,
        below = HEIGHT + 14.0,
    );
    for (line, (state, colour)) in LINES.iter().enumerate() {
        // A step: each count holds until the next point.
        let mut path = String::new();
        let mut previous: Option<f64> = None;
        for p in &points {
            let (px, py) = (x(p.ms), y(p.counts[line]));
            match previous {
                None => {
                    let _ = write!(path, "M{px:.1},{py:.1}");
                }
                Some(prev_y) => {
                    let _ = write!(path, " L{px:.1},{prev_y:.1} L{px:.1},{py:.1}");
                }
            }
            previous = Some(py);
        }
        let _ = write!(
            svg,
            "<path d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" data-state=\"{state}\"></path>"
        );
    }
    svg.push_str("</svg>");
    let mut legend = String::from("<ul class=\"legend inline-legend\">");
    let swatches = ["s-ok", "s-grace", "s-bad"];
    for ((state, _), swatch) in LINES.iter().zip(swatches) {
        let _ = write!(
            legend,
            "<li><span class=\"swatch {swatch}\" aria-hidden=\"true\"></span>{}</li>",
            label(state)
        );
    }
    legend.push_str("</ul>");
    let rows: Vec<Vec<String>> = points
        .iter()
        .rev()
        .map(|p| {
            let mut row = vec![E(&when(&Value::from(p.at.as_str()))).to_string()];
            row.extend(p.counts.iter().map(u64::to_string));
            row
        })
        .collect();
    let headings: Vec<String> = std::iter::once("Tenant time".to_string())
        .chain(LINES.iter().map(|(state, _)| label(state)))
        .collect();
    let headings: Vec<&str> = headings.iter().map(String::as_str).collect();
    format!(
        "{svg}{legend}<details><summary>The figures</summary>{}</details>",
        view::table("Verdicts over the tenant's clock", &headings, &rows)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_chart_steps_through_every_point_to_now() {
        let verdicts = json!({
            "now": "2031-01-03T00:00:00Z",
            "current": {"compliant": 1, "inGracePeriod": 0, "noncompliant": 2},
            "trend": [
                {"dateTime": "2031-01-01T00:00:00Z", "compliant": 3, "inGracePeriod": 0, "noncompliant": 0},
                {"dateTime": "2031-01-02T00:00:00Z", "compliant": 1, "inGracePeriod": 2, "noncompliant": 0},
            ]
        });
        let html = chart(&verdicts);
        assert_eq!(html.matches("<path ").count(), 3);
        // The header row, two points and now, newest first.
        assert_eq!(html.matches("<tr>").count(), 4);
        let table = &html[html.find("<table").unwrap_or(0)..];
        assert!(table.find("2031-01-03 00:00") < table.find("2031-01-01 00:00"));
        let empty = json!({"now": "2031-01-03T00:00:00Z", "current": {}, "trend": []});
        assert!(chart(&empty).contains("No history yet"));
    }
}
