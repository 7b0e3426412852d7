use super::*;
use serde_json::{json, Map, Value};

fn users_and_devices() -> Vocabulary {
    let plan_fields = vec![
        RuleProperty::new("servicePlanId", &["servicePlanId"], Kind::Text),
        RuleProperty::new("capabilityStatus", &["capabilityStatus"], Kind::Text),
    ];
    Vocabulary {
        subjects: vec![
            Subject {
                name: "user".into(),
                properties: vec![
                    RuleProperty::new("objectId", &[], Kind::Text),
                    RuleProperty::new("department", &["department"], Kind::Text),
                    RuleProperty::new("jobTitle", &["jobTitle"], Kind::Text),
                    RuleProperty::new("accountEnabled", &["accountEnabled"], Kind::Bool),
                    RuleProperty::new("otherMails", &["otherMails"], Kind::TextList),
                    RuleProperty::new(
                        "assignedPlans",
                        &["assignedPlans"],
                        Kind::Records(plan_fields),
                    ),
                    RuleProperty::new("employeeHireDate", &["employeeHireDate"], Kind::DateTime),
                    RuleProperty::new(
                        "extensionAttribute1",
                        &["onPremisesExtensionAttributes", "extensionAttribute1"],
                        Kind::Text,
                    ),
                    RuleProperty::new("memberOf", &[], Kind::MemberOf),
                ],
            },
            Subject {
                name: "device".into(),
                properties: vec![
                    RuleProperty::new("deviceOSType", &["operatingSystem"], Kind::Text),
                    RuleProperty::new("deviceOSVersion", &["operatingSystemVersion"], Kind::Text),
                ],
            },
        ],
        errors_begin: "Dynamic membership rule validation error".into(),
    }
}

fn body(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn sales() -> Map<String, Value> {
    body(json!({
        "department": "Sales",
        "jobTitle": "SDE II",
        "accountEnabled": true,
        "otherMails": ["ada@contoso.test", "a.l@example.test"],
        "assignedPlans": [
            {"servicePlanId": "efb87545", "capabilityStatus": "Enabled"},
            {"servicePlanId": "0feaeb32", "capabilityStatus": "Deleted"}
        ],
        "employeeHireDate": "2020-06-10T18:13:20Z",
        "onPremisesExtensionAttributes": {"extensionAttribute1": "Blue"},
        "mail": null
    }))
}

fn matches(rule: &str, object: &Map<String, Value>) -> Result<bool, RuleError> {
    let bound = check(rule, &users_and_devices())?;
    let groups = vec!["g1".to_string()];
    Ok(bound.matches(&Candidate {
        id: "u1",
        body: object,
        groups: &groups,
    }))
}

#[test]
fn rules_select_what_entra_documents() {
    let user = sales();
    let cases = [
        (r#"user.department -eq "Sales""#, true),
        (r#"user.department -eq "sales""#, true),
        (r#"user.department eq "Sales""#, true),
        (r#"user.department –eq "Sales""#, true),
        (r#"user.department -ne "Sales""#, false),
        (
            r#"(user.department -eq "Sales") -and -not (user.jobTitle -startsWith "SDE")"#,
            false,
        ),
        (
            r#"(user.department -eq "Marketing") -or (user.jobTitle -contains "de i")"#,
            true,
        ),
        (r#"user.department -in ["Sales", "Marketing"]"#, true),
        (r#"user.department -notIn ['Sales']"#, false),
        (r#"user.department -match "^sa.*""#, true),
        (r#"user.department -notMatch "^Da""#, true),
        (r#"user.department -endsWith "les""#, true),
        (r#"user.accountEnabled -eq true"#, true),
        (r#"user.otherMails -any (_ -contains "contoso")"#, true),
        (r#"user.otherMails -all (_ -endsWith ".test")"#, true),
        (r#"user.otherMails -startsWith "a.l@""#, true),
        (r#"user.otherMails -notContains "nowhere""#, true),
        (
            r#"user.assignedPlans -any (assignedPlan.servicePlanId -eq "efb87545" -and assignedPlan.capabilityStatus -eq "Enabled")"#,
            true,
        ),
        (
            r#"user.assignedPlans -all (assignedPlan.capabilityStatus -eq "Enabled")"#,
            false,
        ),
        (r#"user.employeeHireDate -le 2021-01-01T00:00:00Z"#, true),
        (r#"user.extensionAttribute1 -eq "blue""#, true),
        (r#"user.jobTitle -ne null"#, true),
        (r#"user.objectId -ne null"#, true),
        (r#"user.objectId -eq "U1""#, true),
        (
            r#"user.memberOf -any (group.objectId -in ['g1', 'g2'])"#,
            true,
        ),
        (r#"user.memberof -any (group.objectId -in ['g3'])"#, false),
        (r#"Direct Reports for "5d7f""#, false),
        (r#"user.department -eq `"Sales`""#, false),
    ];
    for (rule, expected) in cases {
        assert_eq!(matches(rule, &user), Ok(expected), "{rule}");
    }
}

#[test]
fn missing_values_fail_tests_and_pass_their_negations() {
    let nobody = body(json!({}));
    let cases = [
        (r#"user.department -eq "Sales""#, false),
        (r#"user.department -ne "Sales""#, true),
        (r#"user.department -eq null"#, true),
        (r#"user.department -notStartsWith "S""#, true),
        (r#"user.otherMails -any (_ -eq "x")"#, false),
        (r#"user.otherMails -all (_ -eq "x")"#, true),
    ];
    for (rule, expected) in cases {
        assert_eq!(matches(rule, &nobody), Ok(expected), "{rule}");
    }
}

fn refusal(rule: &str) -> String {
    match check(rule, &users_and_devices()) {
        Ok(_) => String::from("accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_rules_are_refused_with_the_position() {
    let cases = [
        ("", "the rule is empty at position 0."),
        ("user.department -eq", "expected a value, found the end at position 19."),
        ("user.department -eq \"Sales", "the string is not closed at position 20."),
        ("user.department -foo \"x\"", "'-foo' is not an operator at position 16."),
        ("user.department", "expected an operator, found the end at position 15."),
        ("(user.department -eq \"x\"", "expected ')', found the end at position 24."),
        ("user.department -eq \"x\")", "unexpected ')' after a complete rule at position 23."),
        (
            "user.objectid2 -eq \"x\"",
            "Wrong property applied. Property 'objectid2' cannot be applied to object 'user' at position 0.",
        ),
        ("group.objectId -eq \"x\"", "Unknown object 'group': a rule names properties of user or device at position 0."),
        (
            "user.department -eq \"x\" -and device.deviceOSType -eq \"y\"",
            "a rule cannot mix properties of 'user' and 'device' at position 29.",
        ),
        ("user.department -in \"x\"", "-in takes a list of values in [ ] at position 20."),
        ("user.department -startsWith null", "Invalid operands found for operator -startsWith at position 16."),
        ("user.accountEnabled -eq \"maybe\"", "'maybe' is not a Boolean: write true or false at position 20."),
        ("user.accountEnabled -contains \"t\"", "Invalid operands found for operator -contains at position 20."),
        ("user.department -match \"(\"", "'(' is not a valid regular expression at position 16."),
        ("user.department -any (_ -eq \"x\")", "-any and -all apply to multi-valued properties; 'department' has one value at position 0."),
        ("user.assignedPlans -eq \"x\"", "'assignedPlans' is tested with -any or -all at position 0."),
        ("_ -eq \"x\"", "'_' stands for a member of a string collection inside -any or -all at position 0."),
        ("user.department -eq \"x\" user.jobTitle", "unexpected 'user.jobTitle' after a complete rule at position 24."),
        ("user.department -eq #", "unexpected character '#' at position 20."),
        ("department -eq \"x\"", "'department' is not a property: write object.property, such as user.department at position 0."),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(rule, wanted)| refusal(rule) != *wanted)
        .map(|(rule, _)| format!("{rule}: {}", refusal(rule)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn every_limit_is_enforced_while_reading() {
    use crate::query::limits::{MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_RULE_LENGTH};
    let long = format!("user.department -eq \"{}\"", "x".repeat(MAX_RULE_LENGTH));
    assert!(refusal(&long).contains(&format!(
        "longer than {MAX_RULE_LENGTH} characters (the limit)"
    )));
    let deep = format!(
        "{}user.department -eq \"x\"{}",
        "(".repeat(MAX_FILTER_DEPTH + 1),
        ")".repeat(MAX_FILTER_DEPTH + 1)
    );
    assert!(refusal(&deep).contains(&format!(
        "deeper than {MAX_FILTER_DEPTH} levels (the limit)"
    )));
    let nots = format!(
        "{}user.department -eq \"x\"",
        "-not ".repeat(MAX_FILTER_DEPTH + 1)
    );
    assert!(refusal(&nots).contains("(the limit)"));
    let items = vec!["\"a\""; MAX_FILTER_NODES].join(",");
    let wide = format!("user.department -in [{items}]");
    assert!(wide.chars().count() <= MAX_RULE_LENGTH * 2);
    let found = parse(&wide)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        found.contains("(the limit)"),
        "a rule of more than {MAX_FILTER_NODES} nodes: {found}"
    );
}

#[test]
fn assignment_filters_compare_versions_and_take_bare_values() {
    let vocabulary = Vocabulary::assignment_filters();
    let device = body(
        json!({"osVersion": "10.0.22631.3235", "manufacturer": "Microsoft", "isRooted": false}),
    );
    let cases = [
        ("(device.operatingSystemVersion -gt 10.0.22000.1000)", true),
        ("(device.operatingSystemVersion -le 10.0.22631.3235)", true),
        ("(device.operatingSystemVersion -lt 10.0.22631)", false),
        (
            "(device.osVersion -startsWith \"10.0\") and (device.manufacturer -eq \"Microsoft\")",
            true,
        ),
        (
            "(device.manufacturer -in [\"Samsung\",\"Lenovo\"]) or (device.isRooted -eq \"True\")",
            false,
        ),
        ("device.deviceName -eq $null", true),
    ];
    for (rule, expected) in cases {
        let found = check(rule, &vocabulary).map(|r| {
            r.matches(&Candidate {
                id: "d1",
                body: &device,
                groups: &[],
            })
        });
        assert_eq!(found, Ok(expected), "{rule}");
    }
    let err = check("(device.operatingSystemVersion -gt \"ten\")", &vocabulary).err();
    assert_eq!(
        err.map(|e| e.to_string()),
        Some("'ten' is not a version such as 10.0.1 at position 31.".into())
    );
    assert!(check("(user.department -eq \"x\")", &vocabulary).is_err());
}
