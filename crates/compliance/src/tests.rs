//! Every shipped rule, driven from the rules themselves: for each policy type, a policy that
//! configures every setting, a device of its platform that meets them all, and that device failing
//! each setting in turn.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::rules::{Condition, Kind, PolicyRules, Rule};
use serde_json::{json, Map, Value};

fn ruleset() -> Ruleset {
    let model = odata::Model::intune().expect("the model loads");
    Ruleset::intune(model).expect("the shipped rules hold against the model")
}

/// Versions below 10.0 for the platforms that need them (Windows 8.1), 10.0.x elsewhere.
fn version_prefix(set: &Ruleset, platform: &str) -> &'static str {
    let below_ten = set.platforms.iter().any(|p| {
        p.name == platform
            && p.conditions
                .iter()
                .any(|c| matches!(c, Condition::VersionBelow(_, v) if v == "10.0"))
    });
    if below_ten {
        "6.3"
    } else {
        "10.0"
    }
}

/// The setting's configured value, and a fact that meets it and one that fails it.
fn sample(rule: &Rule, prefix: &str) -> (Value, Value, Value) {
    let v = |n: &str| json!(format!("{prefix}.{n}"));
    match &rule.kind {
        Kind::Requires(None) => (json!(true), json!(true), json!(false)),
        Kind::Requires(Some(want)) => (json!(true), json!(want), json!("disabled")),
        Kind::Forbids(None) => (json!(true), json!(false), json!(true)),
        Kind::Forbids(Some(bad)) => (json!(true), json!("False"), json!(bad)),
        Kind::AtLeast => (json!(6), json!(8), json!(4)),
        Kind::AtMost => (json!(10), json!(5), json!(20)),
        Kind::VersionAtLeast => (v("100"), v("19045"), v("50")),
        Kind::VersionAtMost => (v("30000"), v("19045"), v("40000")),
        Kind::LevelAtLeast(order) => (
            json!(order[1]),
            json!(order[order.len() - 1]),
            json!(order[0]),
        ),
        Kind::LevelAtMost(order) => {
            let n = order.len();
            (json!(order[n - 2]), json!(order[0]), json!(order[n - 1]))
        }
        Kind::NoneInstalled => (
            json!([{"name": "Bad", "appId": "bad.app"}]),
            json!([{"appId": "good.app"}]),
            json!([{"appId": "bad.app", "name": "Bad"}]),
        ),
        Kind::VersionInRanges => (
            json!([{"description": "r", "lowestVersion": format!("{prefix}.1000"), "highestVersion": format!("{prefix}.25000")}]),
            v("19045"),
            v("40000"),
        ),
    }
}

/// Writes `value` at a dotted path.
fn put(facts: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut current = facts;
    for part in parts {
        current = current
            .entry(part)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("an object on the way");
    }
    current.insert(last.to_string(), value);
}

/// A device of the policy's first platform that meets every rule, and the policy body.
fn compliant_pair(set: &Ruleset, policy: &PolicyRules) -> (Map<String, Value>, Map<String, Value>) {
    let platform = &policy.platforms[0];
    let prefix = version_prefix(set, platform);
    let mut facts = Map::new();
    let definition = set
        .platforms
        .iter()
        .find(|p| &p.name == platform)
        .expect("declared");
    for condition in &definition.conditions {
        match condition {
            Condition::Is(fact, values) => put(&mut facts, fact, json!(values[0])),
            Condition::VersionAtLeast(fact, v) | Condition::VersionBelow(fact, v) => {
                put(&mut facts, fact, json!(format!("{prefix}.1")));
                let _ = v;
            }
            Condition::IsNot(..) => {}
        }
    }
    let mut body = Map::new();
    for rule in &policy.rules {
        let (setting, meets, _) = sample(rule, prefix);
        body.insert(rule.setting.clone(), setting);
        put(&mut facts, &rule.fact, meets);
    }
    (facts, body)
}

#[test]
fn every_policy_type_applies_to_its_platform_and_passes_a_device_that_meets_it() {
    let set = ruleset();
    assert!(
        set.policies.len() >= 10,
        "{} policy types",
        set.policies.len()
    );
    for policy in &set.policies {
        let (facts, body) = compliant_pair(&set, policy);
        let platform = platform_of(&set, &facts);
        assert_eq!(
            platform,
            Some(policy.platforms[0].as_str()),
            "{}",
            policy.policy_type
        );
        let result = evaluate(policy, &body, platform, &facts);
        assert_eq!(
            result.state,
            PolicyState::Compliant,
            "{}: {result:?}",
            policy.policy_type
        );
        assert_eq!(
            result.settings.len(),
            policy.rules.len(),
            "{}",
            policy.policy_type
        );
    }
}

#[test]
fn a_device_failing_any_one_setting_is_noncompliant_on_that_setting() {
    let set = ruleset();
    let mut checked = 0;
    for policy in &set.policies {
        let prefix = version_prefix(&set, &policy.platforms[0]);
        let (facts, body) = compliant_pair(&set, policy);
        for rule in &policy.rules {
            let (_, _, fails) = sample(rule, prefix);
            let mut failing = facts.clone();
            put(&mut failing, &rule.fact, fails.clone());
            let platform = platform_of(&set, &failing);
            let result = evaluate(policy, &body, platform, &failing);
            let why = format!("{}.{} with {fails}", policy.policy_type, rule.setting);
            assert_eq!(result.state, PolicyState::NonCompliant, "{why}: {result:?}");
            let setting = result.settings.iter().find(|s| s.setting == rule.setting);
            assert_eq!(
                setting.map(|s| s.state),
                Some(SettingState::NonCompliant),
                "{why}"
            );
            // Only settings that read the same fact fail with it.
            for other in result
                .settings
                .iter()
                .filter(|s| s.state != SettingState::Compliant)
            {
                let fact = &policy
                    .rules
                    .iter()
                    .find(|r| r.setting == other.setting)
                    .map(|r| &r.fact);
                assert_eq!(
                    *fact,
                    Some(&rule.fact),
                    "{why}: {} failed too",
                    other.setting
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 150, "{checked} settings checked");
}

#[test]
fn unconfigured_settings_check_nothing_and_missing_facts_are_errors() {
    let set = ruleset();
    let policy = set
        .policy("microsoft.graph.windows10CompliancePolicy")
        .expect("declared");
    let facts =
        json!({"operatingSystem": "Windows", "osVersion": "10.0.19045", "isEncrypted": false});
    let facts = facts.as_object().expect("an object").clone();
    let platform = platform_of(&set, &facts);
    // Everything at its "not configured" value: nothing is checked.
    let unset = json!({"passwordRequired": false, "passwordMinimumLength": null, "passwordRequiredType": "deviceDefault",
                       "deviceThreatProtectionRequiredSecurityLevel": "unavailable", "osMinimumVersion": null,
                       "validOperatingSystemBuildRanges": []});
    let result = evaluate(policy, unset.as_object().expect("object"), platform, &facts);
    assert_eq!(result.state, PolicyState::Compliant);
    assert!(result.settings.is_empty(), "{result:?}");
    // A fact absent is an error; null (cannot report) is not applicable.
    let body = json!({"passwordRequired": true, "storageRequireEncryption": true, "bitLockerEnabled": true});
    let mut facts = facts;
    facts.insert("deviceHealthAttestationState".into(), Value::Null);
    let result = evaluate(policy, body.as_object().expect("object"), platform, &facts);
    let state = |name: &str| {
        result
            .settings
            .iter()
            .find(|s| s.setting == name)
            .map(|s| s.state)
    };
    assert_eq!(state("passwordRequired"), Some(SettingState::Error));
    assert_eq!(
        state("storageRequireEncryption"),
        Some(SettingState::NonCompliant)
    );
    assert_eq!(state("bitLockerEnabled"), Some(SettingState::NotApplicable));
    assert_eq!(
        result.state,
        PolicyState::Error,
        "the most severe setting wins"
    );
}

#[test]
fn a_policy_of_another_platform_is_not_applicable() {
    let set = ruleset();
    let ios = set.policy("iosCompliancePolicy").expect("declared");
    let facts = json!({"operatingSystem": "Windows", "osVersion": "10.0.22631"});
    let facts = facts.as_object().expect("object").clone();
    let body = json!({"passcodeRequired": true});
    let result = evaluate(
        ios,
        body.as_object().expect("object"),
        platform_of(&set, &facts),
        &facts,
    );
    assert_eq!(result.state, PolicyState::NotApplicable);
}

#[test]
fn platforms_follow_the_management_mode() {
    let set = ruleset();
    let cases = [
        (
            json!({"operatingSystem": "Android", "managementAgent": "intuneAosp"}),
            "androidAosp",
        ),
        (
            json!({"operatingSystem": "Android", "deviceEnrollmentType": "androidEnterpriseFullyManaged"}),
            "androidDeviceOwner",
        ),
        (
            json!({"operatingSystem": "Android", "deviceType": "androidForWork"}),
            "androidWorkProfile",
        ),
        (
            json!({"operatingSystem": "Android"}),
            "androidDeviceAdministrator",
        ),
        (
            json!({"operatingSystem": "iPadOS", "osVersion": "17.1"}),
            "iOS",
        ),
        (
            json!({"operatingSystem": "windows", "osVersion": "10.0.22631.2715"}),
            "windows10",
        ),
        (
            json!({"operatingSystem": "Windows", "osVersion": "6.3.9600"}),
            "windows81",
        ),
    ];
    for (facts, want) in cases {
        let facts = facts.as_object().expect("object").clone();
        assert_eq!(platform_of(&set, &facts), Some(want), "{facts:?}");
    }
    let linux = json!({"operatingSystem": "Linux"});
    assert_eq!(platform_of(&set, linux.as_object().expect("object")), None);
}

#[test]
fn grace_and_verdicts() {
    use PolicyState::*;
    let hour = 3600;
    assert_eq!(
        with_grace(NonCompliant, Some(0), 72, 10 * hour),
        (InGracePeriod, Some(72 * hour))
    );
    assert_eq!(
        with_grace(NonCompliant, Some(0), 72, 72 * hour),
        (NonCompliant, None)
    );
    assert_eq!(
        with_grace(NonCompliant, Some(0), 0, 0),
        (NonCompliant, None)
    );
    assert_eq!(with_grace(Compliant, Some(0), 72, 0), (Compliant, None));
    assert_eq!(
        verdict([Compliant, InGracePeriod, NotApplicable], false),
        InGracePeriod
    );
    assert_eq!(verdict([Compliant, NonCompliant], false), NonCompliant);
    assert_eq!(verdict([NotApplicable], false), Compliant);
    assert_eq!(verdict([], true), NonCompliant);
    assert_eq!(verdict([Error, NonCompliant], false), Error);
}

#[test]
fn every_fact_a_rule_reads_is_a_device_property_or_declared() {
    let model = odata::Model::intune().expect("the model loads");
    let shipped = ruleset();
    // The shipped rules hold; a rule reading an undeclared fact, or a declared fact that shadows
    // a managedDevice property, stops the load.
    let mut unknown = shipped.clone();
    unknown.policies[0].rules[0].fact = "passcodeMood".into();
    let err = rules::check(&unknown, model).expect_err("an unknown fact is refused");
    assert!(
        err.contains("fact passcodeMood: neither a managedDevice property"),
        "{err}"
    );
    let mut shadow = shipped.clone();
    shadow.facts.push(rules::Fact {
        name: "osVersion".into(),
        ty: rules::FactType::String,
    });
    let err = rules::check(&shadow, model).expect_err("a shadowing fact is refused");
    assert!(
        err.contains("fact osVersion: managedDevice has this property"),
        "{err}"
    );
    assert!(shipped.fact("passwordLength").is_some());
    assert!(shipped.fact("osVersion").is_none());
}

#[test]
fn reported_facts_overlay_the_device_properties() {
    let properties = json!({"osVersion": "10.0.1", "isEncrypted": false,
        "deviceHealthAttestationState": {"secureBoot": "enabled"}});
    let reported = json!({"isEncrypted": true, "passcodeMinimumLength": 6});
    let (properties, reported) = (
        properties.as_object().unwrap(),
        reported.as_object().unwrap(),
    );
    let facts = Facts::new(properties, Some(reported));
    assert_eq!(
        facts.get("isEncrypted"),
        Some(&json!(true)),
        "a reported fact wins"
    );
    assert_eq!(
        facts.get("osVersion"),
        Some(&json!("10.0.1")),
        "a property shows through"
    );
    assert_eq!(facts.get("passcodeMinimumLength"), Some(&json!(6)));
    assert_eq!(facts.get("jailBroken"), None);
    assert_eq!(
        lookup(facts, "deviceHealthAttestationState.secureBoot"),
        Some(&json!("enabled"))
    );
    assert_eq!(
        Facts::from(properties).get("isEncrypted"),
        Some(&json!(false))
    );
}
