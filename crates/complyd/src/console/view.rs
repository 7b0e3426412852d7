//! The console's HTML: the frame every page shares (skip link, navigation, the user and
//! sign-out, the live-update status), message pages, and the small pieces pages are built of
//! (tables, error boxes, pagers, dates). Every value from the API is escaped here or by the
//! caller through [`E`].

use super::api::Failure;
use super::request::Ctx;
pub use crate::common::html::Escaped as E;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

/// The pages of the navigation, in order: (path, label).
pub const NAV: [(&str, &str); 8] = [
    ("/console", "Overview"),
    ("/console/policies", "Policies"),
    ("/console/devices", "Devices"),
    ("/console/users", "Users"),
    ("/console/groups", "Groups"),
    ("/console/outbox", "Outbox"),
    ("/console/audit", "Audit log"),
    ("/console/simulation", "Simulation"),
];

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn html_response(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

fn head(out: &mut String, title: &str, assets: &super::assets::Assets) {
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} – complyd console</title><link rel=\"stylesheet\" href=\"{}\">\
<script src=\"{}\" defer></script></head>",
        E(title),
        assets.css_path(),
        assets.js_path(),
    );
}

/// A page of the signed-in console: `active` is the navigation entry it belongs to.
pub fn page(ctx: &Ctx, active: &str, title: &str, body: &str) -> Response {
    let mut out = String::with_capacity(body.len() + 4096);
    head(&mut out, title, &ctx.console.assets);
    let _ = write!(
        out,
        "<body data-csrf=\"{csrf}\"><a class=\"skip\" href=\"#main\">Skip to content</a>\
<header class=\"top\"><span class=\"brand\">complyd console</span><nav aria-label=\"Main\"><ul>",
        csrf = E(&ctx.session.csrf)
    );
    for (path, label) in NAV {
        let current = if path == active {
            " aria-current=\"page\""
        } else {
            ""
        };
        let _ = write!(out, "<li><a href=\"{path}\"{current}>{label}</a></li>");
    }
    let _ = write!(
        out,
        "</ul></nav><div class=\"who\"><span>{user}</span> <span class=\"muted\">tenant {tenant}</span>\
<form method=\"post\" action=\"/console/signout\">{csrf}<button type=\"submit\" class=\"link\">Sign out</button></form></div></header>\
<main id=\"main\"><h1>{title}</h1>{body}</main>\
<footer><p id=\"live-status\" role=\"status\" aria-live=\"polite\" class=\"muted\"></p></footer></body></html>",
        user = E(&ctx.user.name),
        tenant = E(&ctx.user.tenant),
        csrf = csrf_field(ctx),
        title = E(title),
    );
    html_response(StatusCode::OK, out)
}

/// A page outside the signed-in frame: a title, a sentence and perhaps a link.
pub fn message_page_with_link(
    status: StatusCode,
    title: &str,
    text: &str,
    link: (&str, &str),
) -> Response {
    message(status, title, text, Some(link))
}

pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    message(status, title, text, None)
}

fn message(status: StatusCode, title: &str, text: &str, link: Option<(&str, &str)>) -> Response {
    let assets = super::assets::Assets::shared();
    let mut out = String::with_capacity(1024);
    head(&mut out, title, assets);
    let _ = write!(
        out,
        "<body><main id=\"main\" class=\"narrow\"><h1>{}</h1><p>{}</p>",
        E(title),
        E(text)
    );
    if let Some((href, label)) = link {
        let _ = write!(out, "<p><a href=\"{}\">{}</a></p>", E(href), E(label));
    }
    out.push_str("</main></body></html>");
    html_response(status, out)
}

/// The hidden field that carries the session's CSRF token.
pub fn csrf_field(ctx: &Ctx) -> String {
    format!(
        "<input type=\"hidden\" name=\"_csrf\" value=\"{}\">",
        E(&ctx.session.csrf)
    )
}

/// What the API refused, as an alert.
pub fn failure(f: &Failure) -> String {
    format!(
        "<div class=\"error\" role=\"alert\"><strong>{} {}</strong>: {}</div>",
        f.status.as_u16(),
        E(&f.code),
        E(&f.message)
    )
}

/// A note that the user's permissions do not allow something.
pub fn not_permitted(what: &str, permissions: &str) -> String {
    format!(
        "<p class=\"note\">You cannot {}: it needs {}.</p>",
        E(what),
        E(permissions)
    )
}

/// A table: a caption, the column headers, and rows of cells that are HTML already.
pub fn table(caption: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::with_capacity(256 + rows.len() * 200);
    let _ = write!(
        out,
        // Focusable, so that a table wider than the page can be scrolled from the keyboard.
        "<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"{0}\"><table><caption>{0}</caption><thead><tr>",
        E(caption)
    );
    for h in headers {
        let _ = write!(out, "<th scope=\"col\">{}</th>", E(h));
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\" class=\"muted\">Nothing to show.</td></tr>",
            headers.len().max(1)
        );
    }
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// `<a href>` with escaped target and text.
pub fn link(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", E(href), E(text))
}

/// A value of JSON as text: strings as they are, null as a dash, others as JSON.
pub fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "—".to_string(),
        serde_json::Value::String(s) if s.is_empty() => "—".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A verdict or state as a badge (text, not only colour).
pub fn badge(state: &str) -> String {
    let class = match state {
        "compliant" => "ok",
        "inGracePeriod" => "grace",
        "noncompliant" | "nonCompliant" => "bad",
        "error" | "conflict" => "err",
        _ => "muted",
    };
    format!("<span class=\"badge {class}\">{}</span>", E(&label(state)))
}

/// A state's words for a person.
pub fn label(state: &str) -> String {
    match state {
        "compliant" => "Compliant".into(),
        "inGracePeriod" => "In grace period".into(),
        "noncompliant" | "nonCompliant" => "Noncompliant".into(),
        "error" => "Error".into(),
        "unknown" => "Not evaluated".into(),
        "notApplicable" => "Not applicable".into(),
        "conflict" => "Conflict".into(),
        other => other.to_string(),
    }
}

/// One page of a list: its table (the live part `id`) and the pager, which keeps the page's
/// filters (the `kept` names of its query) and follows the answer's next link.
pub struct Listing<'a> {
    pub id: &'a str,
    pub caption: &'a str,
    pub headers: &'a [&'a str],
    /// The console page's path.
    pub base: &'a str,
    pub kept: &'a [&'a str],
}

impl Listing<'_> {
    /// `params`: the console page's query.
    pub fn html(
        &self,
        params: &std::collections::HashMap<String, String>,
        rows: &[Vec<String>],
        answer: &serde_json::Value,
    ) -> String {
        let kept: Vec<(&str, String)> = self
            .kept
            .iter()
            .filter_map(|k| {
                params
                    .get(*k)
                    .filter(|v| !v.is_empty())
                    .map(|v| (*k, v.clone()))
            })
            .collect();
        format!(
            "<div id=\"{}\" data-live>{}</div>{}",
            self.id,
            table(self.caption, self.headers, rows),
            pager(
                self.base,
                &kept,
                super::api::next_skiptoken(answer).as_deref(),
                params.contains_key("page")
            )
        )
    }
}

/// The members of a collection's answer (none when it has no `value`).
pub fn values(answer: &serde_json::Value) -> &[serde_json::Value] {
    answer["value"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// "Next page" and "First page" links for a list paged by `$skiptoken`.
pub fn pager(base: &str, params: &[(&str, String)], next: Option<&str>, paged: bool) -> String {
    let mut out = String::from("<nav class=\"pager\" aria-label=\"Pages\">");
    if paged {
        out.push_str(&link(&super::api::path_with(base, params), "First page"));
    }
    if let Some(token) = next {
        let mut with = params.to_vec();
        with.push(("page", token.to_string()));
        out.push(' ');
        out.push_str(&link(&super::api::path_with(base, &with), "Next page"));
    }
    out.push_str("</nav>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_escape_their_caption_and_headers_and_say_when_empty() {
        let t = table("<x>", &["a&b"], &[]);
        assert!(t.contains("<caption>&lt;x&gt;</caption>"));
        assert!(t.contains("<th scope=\"col\">a&amp;b</th>"));
        assert!(t.contains("Nothing to show."));
    }

    #[test]
    fn badges_say_the_state_in_words() {
        assert!(badge("inGracePeriod").contains(">In grace period<"));
        assert!(badge("<b>").contains("&lt;b&gt;"));
    }
}
