//! Arbitrary text into the resource-path parser and, for a path that parses, arbitrary JSON into
//! the body validator for the type the path addresses, as a create and as an update: neither may
//! panic or recurse without bound. Input: a selector byte (its low bit picks /beta), the path,
//! a newline, the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use odata::path::ResourcePath;
use odata::validate::{Mode, Validator};
use odata::{Model, Version};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(model) = Model::intune() else { return };
    let version = if selector & 1 == 0 {
        Version::V1
    } else {
        Version::Beta
    };
    let (path, body) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(parsed) = ResourcePath::parse(model, version, path) else {
        return;
    };
    let _ = (parsed.addressed(), parsed.context_path());
    let Some(target) = parsed.steps.last().map(|step| step.target) else {
        return;
    };
    let Ok(body) = serde_json::from_str::<serde_json::Value>(body) else {
        return;
    };
    let validator = Validator::new(model, version);
    let _ = validator.entity(target, &body, Mode::Create);
    let _ = validator.entity(target, &body, Mode::Update);
});
