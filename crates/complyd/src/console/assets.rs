//! The console's style sheet and script, built into the binary and served under names that
//! carry a hash of their content (`console.1a2b3c4d5e6f7a8b.css`), so a browser may keep them
//! for good; an `ETag` answers a revalidation with 304.

use crate::common::fnv1a;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, OnceLock};

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// One asset: its served name, type and text.
struct Asset {
    name: String,
    etag: String,
    content_type: &'static str,
    text: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, text: &'static str) -> Self {
        let hash = format!("{:016x}", fnv1a(text.as_bytes()));
        Self {
            name: format!("{stem}.{hash}.{extension}"),
            etag: format!("\"{hash}\""),
            content_type,
            text,
        }
    }
}

pub struct Assets {
    css: Asset,
    js: Asset,
}

impl Assets {
    pub fn new() -> Self {
        Self {
            css: Asset::new("console", "css", "text/css; charset=utf-8", CSS),
            js: Asset::new("console", "js", "text/javascript; charset=utf-8", JS),
        }
    }

    /// The assets for pages rendered without a console at hand (message pages).
    pub fn shared() -> &'static Self {
        static SHARED: OnceLock<Assets> = OnceLock::new();
        SHARED.get_or_init(Self::new)
    }

    pub fn css_path(&self) -> String {
        format!("/console/assets/{}", self.css.name)
    }

    pub fn js_path(&self) -> String {
        format!("/console/assets/{}", self.js.name)
    }

    fn named(&self, name: &str) -> Option<&Asset> {
        [&self.css, &self.js].into_iter().find(|a| a.name == name)
    }
}

/// `GET /console/assets/{name}`: an asset by its hashed name (no session needed).
pub async fn serve(
    State(console): State<Arc<super::Console>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = console.assets.named(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = HeaderValue::from_str(&asset.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == asset.etag.as_bytes())
    {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
            (
                header::HeaderName::from_static("x-content-type-options"),
                HeaderValue::from_static("nosniff"),
            ),
        ],
        asset.text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::Assets;

    #[test]
    fn assets_are_named_by_their_content_and_small() {
        let assets = Assets::new();
        assert!(assets.css_path().starts_with("/console/assets/console."));
        assert!(assets.css_path().ends_with(".css"));
        assert!(assets.named(assets.js.name.as_str()).is_some());
        assert!(assets.named("console.css").is_none());
        // The budget is 500 KiB compressed; uncompressed they stay far below it.
        assert!(super::CSS.len() + super::JS.len() < 100 * 1024);
    }
}
