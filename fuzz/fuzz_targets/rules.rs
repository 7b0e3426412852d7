//! Arbitrary bytes into the rule parser (dynamic membership rules, assignment filters), whatever
//! parses into the binder against the model's vocabulary or Intune's, and whatever binds into
//! evaluation against a stored body: none of it may panic or recurse without bound. Input: a
//! selector byte (bit 0: the assignment-filter grammar; 0x40: the rest is a template for
//! `odata_fuzz::expand`), then the rule's text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use odata::rule::{self, Candidate, Vocabulary};
use odata::Model;
use serde_json::{json, Map, Value};

const REPEAT: u8 = 0x40;

fuzz_target!(|data: &[u8]| {
    let Some((selector, text)) = odata_fuzz::selected_text(data, REPEAT) else {
        return;
    };
    let Ok(model) = Model::intune() else { return };
    let vocabulary = if selector & 1 == 0 {
        let Some(group) = model.structured("microsoft.graph.group") else {
            return;
        };
        let Some(property) = model
            .all_properties(group)
            .into_iter()
            .find(|p| p.name == "membershipRule")
        else {
            return;
        };
        let Some(vocabulary) = model.rule_vocabulary(group, property) else {
            return;
        };
        vocabulary
    } else {
        Vocabulary::assignment_filters()
    };
    let Ok(parsed) = rule::parse(&text) else { return };
    let Ok(bound) = rule::bind(&parsed, &vocabulary) else {
        return;
    };
    let body: Map<String, Value> = match json!({
        "displayName": "Ada", "department": "Sales", "accountEnabled": true,
        "otherMails": ["a@x.test"], "operatingSystem": "Windows", "osVersion": "10.0.1",
        "assignedPlans": [{"servicePlanId": "x", "capabilityStatus": "Enabled"}],
        "onPremisesExtensionAttributes": {"extensionAttribute1": "blue"}
    }) {
        Value::Object(map) => map,
        _ => return,
    };
    let groups = vec!["g1".to_string()];
    let _ = bound.matches(&Candidate {
        id: "o1",
        body: &body,
        groups: &groups,
    });
});
