//! Dynamic groups: members computed from the rule, following their objects as they change.

use super::support::*;
use crate::support::*;
use serde_json::json;

#[tokio::test]
async fn dynamic_device_groups_follow_their_devices() {
    let server = Server::start().await;
    let c = admin(&server);
    let win10 = create(&c, "v1.0", "devices", &device("A", "Windows", "10.0.19045")).await;
    let mac = create(&c, "v1.0", "devices", &device("B", "macOS", "14.1")).await;
    let _user = create(&c, "v1.0", "users", &user("Ada")).await;
    let g = create(
        &c,
        "beta",
        "groups",
        &dynamic_group("Windows 10", r#"(device.deviceOSType -eq "Windows") -and (device.deviceOSVersion -startsWith "10.")"#),
    )
    .await;
    assert_eq!(
        c.ids("v1.0", &format!("groups/{g}/members")).await,
        vec![win10.clone()]
    );
    // A device created later, and one that changes, are placed in the same write.
    let later = create(&c, "v1.0", "devices", &device("C", "windows", "10.0.22631")).await;
    c.patch(
        "v1.0",
        &format!("devices/{mac}"),
        &json!({"operatingSystem": "Windows", "operatingSystemVersion": "10.0.1"}),
    )
    .await
    .expect(204);
    let mut expected = vec![win10.clone(), later.clone(), mac.clone()];
    expected.sort();
    assert_eq!(
        sorted_ids(&c, "v1.0", &format!("groups/{g}/members")).await,
        expected
    );
    c.patch(
        "v1.0",
        &format!("devices/{win10}"),
        &json!({"operatingSystemVersion": "11.0"}),
    )
    .await
    .expect(204);
    assert!(!c
        .ids("v1.0", &format!("groups/{g}/members"))
        .await
        .contains(&win10));
    assert_eq!(
        c.ids("v1.0", &format!("devices/{later}/memberOf")).await,
        vec![g.clone()]
    );
    // Members of a dynamic group are not written by hand (Entra's 403).
    let denied = c
        .post(
            "v1.0",
            &format!("groups/{g}/members/$ref"),
            &reference(&win10),
        )
        .await
        .expect_error(403, "Authorization_RequestDenied");
    assert_eq!(
        denied.error_message(),
        "Insufficient privileges to complete the operation."
    );
    c.delete("v1.0", &format!("groups/{g}/members/{later}/$ref"))
        .await
        .expect_error(403, "Authorization_RequestDenied");
    // A new rule recomputes the members.
    c.patch(
        "v1.0",
        &format!("groups/{g}"),
        &json!({"membershipRule": "device.deviceOSType -eq \"macOS\""}),
    )
    .await
    .expect(204);
    assert!(c
        .ids("v1.0", &format!("groups/{g}/members"))
        .await
        .is_empty());
    c.delete("v1.0", &format!("devices/{later}"))
        .await
        .expect(204);
}

#[tokio::test]
async fn dynamic_user_groups_use_the_whole_grammar() {
    let server = Server::start().await;
    let c = admin(&server);
    let mut sales = user("Sal");
    sales["department"] = json!("Sales");
    sales["otherMails"] = json!(["sal@example.test"]);
    let sal = create(&c, "v1.0", "users", &sales).await;
    let mut ops = user("Opal");
    ops["department"] = json!("Operations");
    ops["onPremisesExtensionAttributes"] = json!({"extensionAttribute1": "blue"});
    let opal = create(&c, "beta", "users", &ops).await;
    let cases = [
        (r#"user.department -eq "Sales""#, vec![sal.clone()]),
        (
            r#"user.department -ne "Sales" -and user.objectId -ne null"#,
            vec![opal.clone()],
        ),
        (
            r#"user.department -in ["sales", "operations"]"#,
            vec![sal.clone(), opal.clone()],
        ),
        (
            r#"user.otherMails -any (_ -endsWith "@example.test")"#,
            vec![sal.clone()],
        ),
        (r#"user.extensionAttribute1 -eq "Blue""#, vec![opal.clone()]),
        (r#"user.displayName -match "^o.*""#, vec![opal.clone()]),
        (
            r#"-not (user.department -startsWith "S")"#,
            vec![opal.clone()],
        ),
    ];
    for (rule, mut expected) in cases {
        let g = create(&c, "v1.0", "groups", &dynamic_group("D", rule)).await;
        expected.sort();
        assert_eq!(
            sorted_ids(&c, "v1.0", &format!("groups/{g}/members")).await,
            expected,
            "{rule}"
        );
        c.delete("v1.0", &format!("groups/{g}")).await.expect(204);
    }
}

#[tokio::test]
async fn bad_rules_and_switches_are_refused_with_the_position() {
    let server = Server::start().await;
    let c = admin(&server);
    let cases = [
        (
            r#"user.department -eq"#,
            "Dynamic membership rule validation error: expected a value, found the end at position 19.",
        ),
        (
            r#"user.objectid2 -eq "x""#,
            "Dynamic membership rule validation error: Wrong property applied. Property 'objectid2' cannot be applied to object 'user' at position 0.",
        ),
        (
            r#"user.department -eq "x" -or device.deviceOSType -eq "y""#,
            "Dynamic membership rule validation error: a rule cannot mix properties of 'user' and 'device' at position 28.",
        ),
        (
            r#"user.accountEnabled -startsWith "t""#,
            "Dynamic membership rule validation error: Invalid operands found for operator -startsWith at position 20.",
        ),
    ];
    for (rule, message) in cases {
        let resp = c
            .post("v1.0", "groups", &dynamic_group("Bad", rule))
            .await
            .expect_error(400, "Request_BadRequest");
        assert_eq!(resp.error_message(), message, "{rule}");
    }
    let mut no_rule = group("NoRule");
    no_rule["groupTypes"] = json!(["DynamicMembership"]);
    c.post("v1.0", "groups", &no_rule)
        .await
        .expect_error(400, "Request_BadRequest");
    let mut static_rule = group("Static");
    static_rule["membershipRule"] = json!("user.department -eq \"x\"");
    c.post("v1.0", "groups", &static_rule)
        .await
        .expect_error(400, "Request_BadRequest");
    let long = format!("user.department -eq \"{}\"", "x".repeat(3100));
    let resp = c
        .post("v1.0", "groups", &dynamic_group("Long", &long))
        .await
        .expect_error(400, "Request_BadRequest");
    assert!(
        resp.error_message().contains("3072 characters (the limit)"),
        "{}",
        resp.text
    );
    assert!(c.ids("v1.0", "groups").await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn paused_groups_keep_their_members_and_static_groups_become_dynamic() {
    let server = Server::start().await;
    let c = admin(&server);
    let a = create(&c, "v1.0", "devices", &device("A", "Windows", "10.0")).await;
    let mut paused = dynamic_group("P", r#"device.deviceOSType -eq "Windows""#);
    paused["membershipRuleProcessingState"] = json!("Paused");
    let p = create(&c, "v1.0", "groups", &paused).await;
    assert!(c
        .ids("v1.0", &format!("groups/{p}/members"))
        .await
        .is_empty());
    c.patch(
        "v1.0",
        &format!("groups/{p}"),
        &json!({"membershipRuleProcessingState": "On"}),
    )
    .await
    .expect(204);
    assert_eq!(
        c.ids("v1.0", &format!("groups/{p}/members")).await,
        vec![a.clone()]
    );
    let s = create(&c, "v1.0", "groups", &group("S")).await;
    c.patch(
        "v1.0",
        &format!("groups/{s}"),
        &json!({"groupTypes": ["DynamicMembership"], "membershipRule": "device.displayName -eq \"A\""}),
    )
    .await
    .expect(204);
    assert_eq!(c.ids("v1.0", &format!("groups/{s}/members")).await, vec![a]);
}
