//! Arbitrary bytes into the `$filter`, `$orderby`, `$select` and `$expand` parsers, and whatever
//! parses into the binder: none of it may panic or recurse without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use odata::query::{bind, QueryOptions};
use odata::{Model, Version};

const OPTIONS: [&str; 4] = ["$filter", "$orderby", "$select", "$expand"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let name = OPTIONS[usize::from(selector) % OPTIONS.len()];
    let version = if selector & 0x80 == 0 {
        Version::V1
    } else {
        Version::Beta
    };
    if let (Ok(options), Ok(model)) = (QueryOptions::parse([(name, text)], false), Model::intune())
    {
        if let Some(ty) = model.structured("microsoft.graph.deviceCompliancePolicy") {
            let _ = bind::bind(model, version, ty, &options);
        }
        // The printer's output must parse again.
        if let Some(filter) = &options.filter {
            let printed = filter.to_string();
            assert!(
                odata::query::filter::parse(&printed).is_ok(),
                "reprint failed: {printed}"
            );
        }
    }
});
