//! Arbitrary text into the resource-path parser and the query options of the URL, and, for a path
//! that parses, arbitrary JSON into the body validator for the type the path addresses, as a
//! create and as an update: none of it may panic or recurse without bound. Input: a selector byte
//! (0x01: /beta; 0x02: the rest is a template for `odata_fuzz::expand`, which makes long chains and
//! deep bodies reachable), the path with an optional `?query`, a newline, the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use odata::path::ResourcePath;
use odata::query::{bind, QueryOptions};
use odata::validate::{Mode, Validator};
use odata::{Model, Version};

const REPEAT: u8 = 0x02;

fuzz_target!(|data: &[u8]| {
    let Some((selector, text)) = odata_fuzz::selected_text(data, REPEAT) else {
        return;
    };
    let text = text.as_str();
    let Ok(model) = Model::intune() else { return };
    let version = if selector & 1 == 0 {
        Version::V1
    } else {
        Version::Beta
    };
    let (url, body) = text.split_once('\n').unwrap_or((text, ""));
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let Ok(parsed) = ResourcePath::parse(model, version, path) else {
        return;
    };
    let _ = (parsed.addressed(), parsed.context_path());
    let Some(target) = parsed.steps.last().map(|step| step.target) else {
        return;
    };
    // Query pairs as the handler reads them (less its percent-decoding).
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")));
    if let Ok(options) = QueryOptions::parse(pairs, version == Version::Beta) {
        let _ = bind::bind(model, version, target, &options);
    }
    let Ok(body) = serde_json::from_str::<serde_json::Value>(body) else {
        return;
    };
    let validator = Validator::new(model, version);
    let _ = validator.entity(target, &body, Mode::Create);
    let _ = validator.entity(target, &body, Mode::Update);
});
