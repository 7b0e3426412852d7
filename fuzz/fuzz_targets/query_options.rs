//! Arbitrary bytes into the `$filter`, `$orderby`, `$select` and `$expand` parsers, and whatever
//! parses into the binder: none of it may panic or recurse without bound. Input: a selector byte
//! (low bits: the option; 0x80: /beta; 0x40: the rest is a template for `odata_fuzz::expand`,
//! which makes chains of thousands of terms reachable), then the option's text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use odata::query::filter::{self, Expr};
use odata::query::{bind, QueryOptions};
use odata::edm::StructuredType;
use odata::{Model, Version};

const OPTIONS: [&str; 4] = ["$filter", "$orderby", "$select", "$expand"];
const REPEAT: u8 = 0x40;

fuzz_target!(|data: &[u8]| {
    let Some((selector, text)) = odata_fuzz::selected_text(data, REPEAT) else {
        return;
    };
    let text = text.as_str();
    let name = OPTIONS[usize::from(selector) % OPTIONS.len()];
    let version = if selector & 0x80 == 0 {
        Version::V1
    } else {
        Version::Beta
    };
    let Ok(model) = Model::intune() else { return };
    let Some(ty) = model.structured("microsoft.graph.deviceCompliancePolicy") else {
        return;
    };
    if let Ok(options) = QueryOptions::parse([(name, text)], false) {
        let _ = bind::bind(model, version, ty, &options);
        if let Some(filter) = &options.filter {
            reprints(filter);
        }
    }
    // The parser alone, past the option-length limit: its own limits hold for any length.
    if name == "$filter" {
        if let Ok(filter) = filter::parse(text) {
            reprints(&filter);
            bind_filter(model, version, ty, filter);
        }
    }
});

/// The printer's output parses again, to the same tree.
fn reprints(filter: &Expr) {
    let printed = filter.to_string();
    assert_eq!(
        filter::parse(&printed).as_ref(),
        Ok(filter),
        "reprint differs: {printed}"
    );
}

fn bind_filter(model: &Model, version: Version, ty: &StructuredType, filter: Expr) {
    let options = QueryOptions {
        filter: Some(filter),
        ..QueryOptions::default()
    };
    let _ = bind::bind(model, version, ty, &options);
}
