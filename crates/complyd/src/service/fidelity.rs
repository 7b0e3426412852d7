//! Behaviours of the live Intune service that differ from the documented API, switched on by
//! `--fidelity intune`. Where they apply is model data (`live-…` annotations, see the model's
//! FORMAT.md); here is the mechanism that reads them and the code of the named rules.
//!
//! Two quirks are the whole service's, not any entity's, so they stay settings of the service:
//! PATCH answers 204 (the live OData stack's default for every update) and timestamps are shown
//! in UTC (its serializer's, for every DateTimeOffset).

use super::Operation;
use crate::error::ApiError;
use odata::edm::{LiveRoute, Method, Model, Navigation, RouteOn, StringFunctions, Version};
use odata::path::Addressed;
use odata::query::bind::BoundQuery;
use odata::validate::Validated;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fidelity {
    /// The documented API, as the Graph reference pages and their examples show it.
    #[default]
    Documented,
    /// The live service's quirks (reference §2.4).
    Intune,
}

/// A rule of the live service, named in the model by `live-rule NAME`: it checks the members of
/// a collection as they are created with their container or replaced by an action.
struct Rule {
    name: &'static str,
    check: fn(&[Validated<'_>]) -> Result<(), ApiError>,
}

const RULES: &[Rule] = &[Rule {
    name: "one-block-action",
    check: one_block_action,
}];

/// The live service's wording of a refusal, named in the model by `live-message NAME` on a
/// reference; `{value}` is the refused value.
struct LiveMessage {
    name: &'static str,
    text: &'static str,
}

const MESSAGES: &[LiveMessage] = &[LiveMessage {
    // A scope tag the caller's role may not use, unknown ones included (IntuneManagement #401).
    name: "scope-tag-not-allowed",
    text: "Added a tag which is not allowed by the current role: {value}",
}];

/// The live wording `name` for `value`, if the service knows it.
pub fn live_message(name: &str, value: &str) -> Option<String> {
    MESSAGES
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.text.replace("{value}", value))
}

/// Every `live-rule` and `live-message` the model names has code here (checked at start).
pub fn check_rules(model: &Model) -> Result<(), String> {
    for root in model.roots() {
        known_rules(&root.navigation)?;
    }
    for ty in model.types() {
        for nav in &ty.own_navigations {
            known_rules(nav)?;
        }
        for p in &ty.own_properties {
            let named = p.reference.as_ref().and_then(|r| r.live_message.as_deref());
            if let Some(name) = named.filter(|n| live_message(n, "").is_none()) {
                return Err(format!(
                    "{}.{}: live-message {name} has no text in service/fidelity.rs",
                    ty.name, p.name
                ));
            }
        }
    }
    Ok(())
}

fn known_rules(nav: &Navigation) -> Result<(), String> {
    match nav
        .live
        .rules
        .iter()
        .find(|r| !RULES.iter().any(|k| k.name == r.as_str()))
    {
        Some(unknown) => Err(format!(
            "{}: live-rule {unknown} has no code in service/fidelity.rs",
            nav.name
        )),
        None => Ok(()),
    }
}

/// Whether the live service leaves this route unserved: a `live-unrouted` route of the
/// navigation the path ends in.
pub fn is_live_route_gap(
    navigation: Option<&Navigation>,
    addressed: Addressed,
    operation: Operation,
) -> bool {
    let on = match addressed {
        Addressed::Collection | Addressed::Single => RouteOn::Navigation,
        Addressed::Entity => RouteOn::Member,
        Addressed::Count => RouteOn::Count,
        _ => return false,
    };
    let method = match operation {
        Operation::Get => Method::Get,
        Operation::Post => Method::Post,
        Operation::Patch => Method::Patch,
        Operation::Delete => Method::Delete,
        Operation::Other => return false,
    };
    navigation.is_some_and(|n| n.live.unrouted.contains(&LiveRoute { method, on }))
}

/// The rules of `nav` over the members it is given.
pub fn apply_rules(
    fidelity: Fidelity,
    nav: &Navigation,
    members: &[Validated<'_>],
) -> Result<(), ApiError> {
    if fidelity != Fidelity::Intune {
        return Ok(());
    }
    for name in &nav.live.rules {
        if let Some(rule) = RULES.iter().find(|r| r.name == name.as_str()) {
            (rule.check)(members)?;
        }
    }
    Ok(())
}

/// The rules of every navigation of a created entity (and of its deep-inserted children) over
/// the members the body gives it, none when it gives none.
pub fn apply_create_rules(
    fidelity: Fidelity,
    model: &Model,
    version: Version,
    created: &Validated<'_>,
) -> Result<(), ApiError> {
    if fidelity != Fidelity::Intune {
        return Ok(());
    }
    for nav in model.navigations(created.ty, version) {
        if nav.live.rules.is_empty() {
            continue;
        }
        let given = created
            .children
            .iter()
            .find(|(n, _)| n.name == nav.name)
            .map_or(&[][..], |(_, members)| members.as_slice());
        apply_rules(fidelity, nav, given)?;
    }
    for (_, members) in &created.children {
        for member in members {
            apply_create_rules(fidelity, model, version, member)?;
        }
    }
    Ok(())
}

/// `one-block-action`: a policy carries exactly one `block` action across its scheduled actions
/// for rules.
fn one_block_action(rules: &[Validated<'_>]) -> Result<(), ApiError> {
    let blocks = rules
        .iter()
        .flat_map(|rule| rule.children.iter().flat_map(|(_, items)| items.iter()))
        .filter(|item| item.properties.get("actionType") == Some(&Value::String("block".into())))
        .count();
    if blocks == 1 {
        Ok(())
    } else {
        Err(ApiError::Business(
            "Compliance policy must have one and only one block scheduled action".into(),
        ))
    }
}

/// Applies the live `$filter` restrictions of the collection's navigation in `intune`
/// fidelity; the documented mode follows OData.
pub fn apply_filter_rules(
    fidelity: Fidelity,
    navigation: Option<&Navigation>,
    collection: &str,
    bound: &mut BoundQuery<'_>,
) -> Result<(), ApiError> {
    if fidelity != Fidelity::Intune
        || !bound
            .filter
            .as_ref()
            .is_some_and(|f| f.uses_string_functions())
    {
        return Ok(());
    }
    match navigation.and_then(|n| n.live.string_functions) {
        Some(StringFunctions::Refused) => Err(ApiError::bad_request(format!(
            "Invalid filter clause: string functions (contains, startswith, endswith, tolower, toupper, length) are not supported on {collection}."
        ))),
        Some(StringFunctions::Ignored) => {
            bound.filter = None;
            Ok(())
        }
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_without_code_is_refused_at_start() {
        assert_eq!(check_rules(Model::intune().unwrap()), Ok(()));
        let text = "namespace microsoft.graph\nentity crate\n  items -> Collection(deviceCompliancePolicy) live-rule two-block-actions";
        let model = Model::load_with(&[("extra.edm", text)]).unwrap();
        let err = check_rules(&model).err().unwrap_or_default();
        assert!(err.contains("live-rule two-block-actions"), "{err}");
    }

    #[test]
    fn routes_match_what_the_path_addresses_and_the_method() {
        let model = Model::intune().unwrap();
        let policy = model
            .structured("microsoft.graph.deviceCompliancePolicy")
            .unwrap();
        let assignments = model.navigation(policy, "assignments", Version::V1);
        let gap = |a, o| is_live_route_gap(assignments, a, o);
        assert!(gap(Addressed::Collection, Operation::Post));
        assert!(gap(Addressed::Entity, Operation::Delete));
        assert!(!gap(Addressed::Collection, Operation::Get));
        assert!(!gap(Addressed::Entity, Operation::Patch));
        assert!(!gap(Addressed::Count, Operation::Get));
        assert!(!is_live_route_gap(
            None,
            Addressed::Collection,
            Operation::Post
        ));
    }
}
