use super::*;
use crate::edm::{Model, Version};
use crate::query::QueryOptions;

fn bind_filter(set_type: &str, version: Version, filter: &str) -> Result<Condition, ODataError> {
    let model = Model::intune().map_err(ODataError::bad_request)?;
    let ty = model.structured(set_type).ok_or_else(|| bad("no type"))?;
    let q = QueryOptions::parse([("$filter", filter)], false)?;
    bind(model, version, ty, &q).map(|b| b.filter.unwrap_or(Condition::Literal(true)))
}

const STATUS: &str = "microsoft.graph.deviceComplianceDeviceStatus";
const POLICY: &str = "microsoft.graph.deviceCompliancePolicy";

#[test]
fn enum_literals_are_checked_against_members() {
    assert!(bind_filter(STATUS, Version::V1, "status eq 'nonCompliant'").is_ok());
    let err = bind_filter(STATUS, Version::V1, "status eq 'bogus'")
        .err()
        .map(|e| e.message);
    assert!(err.is_some_and(|m| m.contains("'bogus' is not a member")));
}

#[test]
fn types_and_properties_are_checked() {
    assert!(
        bind_filter(STATUS, Version::V1, "platform eq 8").is_err(),
        "platform is beta-only"
    );
    assert!(bind_filter(STATUS, Version::Beta, "platform eq 8").is_ok());
    assert!(bind_filter(STATUS, Version::V1, "userName eq 5").is_err());
    assert!(bind_filter(
        STATUS,
        Version::V1,
        "lastReportedDateTime gt 2020-01-01T00:00:00Z"
    )
    .is_ok());
    assert!(bind_filter(STATUS, Version::V1, "nosuch eq 1")
        .err()
        .is_some_and(|e| e.message.contains("'nosuch'")));
    assert!(bind_filter(STATUS, Version::V1, "frobnicate(userName)").is_err());
}

#[test]
fn string_functions_take_strings_only() {
    for filter in [
        "startswith(userName, 'a')",
        "contains(tolower(userName), 'a')",
        "endswith(userName, null)",
    ] {
        assert!(bind_filter(STATUS, Version::V1, filter).is_ok(), "{filter}");
    }
    for filter in [
        "startswith(userName, 5)",
        "contains(userName, true)",
        "endswith(userName, 2020-01-01T00:00:00Z)",
        "startswith(5, 'a')",
        "startswith(lastReportedDateTime, '2020')",
    ] {
        let err = bind_filter(STATUS, Version::V1, filter).err();
        assert!(
            err.is_some_and(|e| e.message.contains("needs string arguments")),
            "{filter}"
        );
    }
}

#[test]
fn one_argument_functions_check_a_literal_argument_too() {
    for (filter, want) in [
        ("tolower(5) eq 'a'", "String"),
        ("length(true) eq 1", "String"),
        ("year('2020') eq 2020", "DateTimeOffset"),
    ] {
        let err = bind_filter(STATUS, Version::V1, filter).err();
        assert!(
            err.is_some_and(|e| e.message.contains(&format!("an argument of type {want}"))),
            "{filter}"
        );
    }
    assert!(bind_filter(STATUS, Version::V1, "year(2020-01-01T00:00:00Z) eq 2020").is_ok());
}

#[test]
fn casts_lambdas_and_isof_bind() {
    let c = bind_filter(
        POLICY,
        Version::V1,
        "microsoft.graph.windows10CompliancePolicy/bitLockerEnabled eq true",
    );
    assert!(
        matches!(
            c,
            Ok(Condition::Compare {
                left: Operand::Property {
                    only_types: Some(_),
                    ..
                },
                ..
            })
        ),
        "{c:?}"
    );
    assert!(bind_filter(POLICY, Version::Beta, "roleScopeTagIds/any(t: t eq '0')").is_ok());
    assert!(bind_filter(
        POLICY,
        Version::V1,
        "isof('microsoft.graph.iosCompliancePolicy')"
    )
    .is_ok());
    assert!(
        bind_filter(POLICY, Version::V1, "roleScopeTagIds/any(t: t eq '0')").is_err(),
        "beta-only"
    );
}

#[test]
fn and_or_chains_bind_as_flat_lists() {
    let chain = vec!["status eq 'compliant'"; 200].join(" or ");
    let c = bind_filter(STATUS, Version::V1, &chain);
    assert!(
        matches!(&c, Ok(Condition::Or(terms)) if terms.len() == 200),
        "{c:?}"
    );
    let c = bind_filter(
        STATUS,
        Version::V1,
        "userName eq 'a' and (userName eq 'b' or userName eq 'c') and not (userName eq 'd')",
    );
    let shape = |terms: &[Condition]| {
        terms.len() == 3
            && matches!(&terms[1], Condition::Or(inner) if inner.len() == 2)
            && matches!(&terms[2], Condition::Not(_))
    };
    assert!(
        matches!(&c, Ok(Condition::And(terms)) if shape(terms)),
        "{c:?}"
    );
    let c = bind_filter(
        STATUS,
        Version::V1,
        "userName eq 'a' or contains(userName, 'b')",
    );
    assert!(c.is_ok_and(|c| c.uses_string_functions()));
}

#[test]
fn the_deepest_filter_the_parser_allows_binds() {
    // Nesting at the depth limit, through `not`, `tolower` and lambdas, binds without trouble.
    let depth = crate::query::MAX_FILTER_DEPTH;
    let nots = |n: usize| format!("{}(tolower(userName) eq 'a')", "not ".repeat(n));
    let c = bind_filter(STATUS, Version::V1, &nots(depth - 3));
    assert!(c.is_ok(), "{c:?}");
    assert!(bind_filter(STATUS, Version::V1, &nots(depth - 2)).is_err());
    let lambdas = format!(
        "{}x eq 'a'{}",
        "roleScopeTagIds/any(x: ".repeat(2),
        ")".repeat(2)
    );
    assert!(bind_filter(POLICY, Version::Beta, &lambdas).is_ok());
}

#[test]
fn expanded_navigations_are_counted_over_every_level() -> Result<(), ODataError> {
    let model = Model::intune().map_err(ODataError::bad_request)?;
    let ty = model.structured(POLICY).ok_or_else(|| bad("no type"))?;
    let limit = crate::query::MAX_EXPANDED_NAVIGATIONS;
    // Each item expands the rule and, below it, `inner` configuration lists.
    let expand = |items: usize, inner: usize| {
        // Items with options: plain repeats of a name are expanded once.
        let nested = vec!["scheduledActionConfigurations($top=1)"; inner].join(",");
        vec![format!("scheduledActionsForRule($expand={nested})"); items].join(",")
    };
    let within = QueryOptions::parse([("$expand", expand(limit / 2, 1).as_str())], false)?;
    assert!(bind(model, Version::V1, ty, &within).is_ok());
    let past = QueryOptions::parse([("$expand", expand(limit / 3 + 1, 2).as_str())], false)?;
    let err = bind(model, Version::V1, ty, &past).err().map(|e| e.message);
    assert!(
        err.as_ref().is_some_and(|m| m.contains(&format!(
            "more than {limit} navigations are expanded in all (the limit)"
        ))),
        "{err:?}"
    );
    // Plain repeats and `*` beside names expand each navigation once.
    let plain = QueryOptions::parse([("$expand", "*,assignments,assignments,*")], false)?;
    let bound = bind(model, Version::V1, ty, &plain)?;
    assert_eq!(bound.expand.len(), model.navigations(ty, Version::V1).len());
    Ok(())
}
