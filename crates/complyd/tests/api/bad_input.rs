//! Each class of bad input: its status, its exact `error.code`, a message that names the culprit,
//! and nothing stored.

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

const INVALID: &str = "ModelValidationFailure";

/// Refusals of one client in one version.
struct Refuse<'a>(&'a Client, &'a str);

impl Refuse<'_> {
    /// POSTs `body` as sent to the collection at `path` and asserts the refusal: status 400,
    /// `code`, a message containing `needle`, and a collection left as it was.
    async fn create(&self, path: &str, body: &str, code: &str, needle: &str) {
        let Self(client, version) = self;
        let before = client.get(version, path).await.expect(200).values();
        let resp = client.post_raw(version, path, body).await;
        assert_names(&resp.expect_error(400, code), needle);
        let after = client.get(version, path).await.expect(200).values();
        assert_eq!(after, before, "a refused POST stored something");
    }

    /// PATCHes `body` as sent to the entity at `path`; asserts the refusal and an unchanged entity.
    async fn patch(&self, path: &str, body: &str, code: &str, needle: &str) {
        let Self(client, version) = self;
        let before = client.get(version, path).await.expect(200).json();
        let url = client.url(version, path);
        let resp = client
            .send(Method::PATCH, &url, Some(body.to_string()))
            .await;
        assert_names(&resp.expect_error(400, code), needle);
        let after = client.get(version, path).await.expect(200).json();
        assert_eq!(after, before, "a refused PATCH changed something");
    }
}

#[track_caller]
fn assert_names(resp: &Resp, needle: &str) {
    let message = resp.error_message();
    assert!(
        message.contains(needle),
        "message {message:?} does not name {needle:?}"
    );
}

/// A policy body with one property replaced (or added).
fn policy_with(key: &str, value: Value) -> String {
    let mut body = windows10_policy("bad input");
    body[key] = value;
    body.to_string()
}

#[tokio::test]
async fn malformed_json_and_non_object_bodies_are_bad_requests() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let p = client.create_policy(version, "target").await;
        let statuses = format!("{POLICIES}/{p}/deviceStatuses");
        for path in [POLICIES, statuses.as_str()] {
            Refuse(&client, version)
                .create(path, r#"{"displayName": "x",,}"#, "BadRequest", "JSON")
                .await;
            Refuse(&client, version)
                .create(path, r#"{"displayName": "x""#, "BadRequest", "JSON")
                .await;
            for not_object in [r#"["displayName"]"#, r#""text""#, "42", "null"] {
                Refuse(&client, version)
                    .create(path, not_object, "BadRequest", "object")
                    .await;
            }
        }
        let entity = policy_path(&p);
        Refuse(&client, version)
            .patch(&entity, "{nope", "BadRequest", "JSON")
            .await;
        Refuse(&client, version)
            .patch(&entity, "[1, 2]", "BadRequest", "object")
            .await;
    }
}

#[tokio::test]
async fn wrong_json_types_are_model_validation_failures_naming_the_property() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        for (key, value) in [
            ("displayName", json!(5)),
            ("passwordRequired", json!("yes")),
            ("passwordMinimumLength", json!("8")),
            ("passwordMinimumLength", json!(8.5)),
            ("description", json!({ "text": "x" })),
            ("passwordRequiredType", json!(1)),
        ] {
            let body = policy_with(key, value);
            Refuse(&client, version)
                .create(POLICIES, &body, INVALID, key)
                .await;
        }
        let p = client.create_policy(version, "typed").await;
        let path = policy_path(&p);
        Refuse(&client, version)
            .patch(
                &path,
                r#"{"passwordRequired": 1}"#,
                INVALID,
                "passwordRequired",
            )
            .await;
        let statuses = format!("{path}/deviceStatuses");
        let body = json!({ "status": "compliant", "deviceDisplayName": ["a"] }).to_string();
        Refuse(&client, version)
            .create(&statuses, &body, INVALID, "deviceDisplayName")
            .await;
        let assignments = format!("{path}/assignments");
        let body = json!({ "target": "all devices" }).to_string();
        Refuse(&client, version)
            .create(&assignments, &body, INVALID, "target")
            .await;
    }
}

#[tokio::test]
async fn unknown_properties_are_refused_by_name_and_case() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        for name in ["tPMRequired", "PasswordRequired", "noSuchProperty"] {
            let body = policy_with(name, json!(true));
            Refuse(&client, version)
                .create(POLICIES, &body, INVALID, name)
                .await;
        }
        let p = client.create_policy(version, "unknown").await;
        let path = policy_path(&p);
        Refuse(&client, version)
            .patch(&path, r#"{"colour": "red"}"#, INVALID, "colour")
            .await;
        let body = json!({ "target": { "@odata.type": "#microsoft.graph.groupAssignmentTarget", "group": "g" } });
        let assignments = format!("{path}/assignments");
        Refuse(&client, version)
            .create(&assignments, &body.to_string(), INVALID, "group")
            .await;
    }
}

#[tokio::test]
async fn enum_values_must_be_members_of_the_version() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let p = client.create_policy(version, "enums").await;
        let statuses = format!("{POLICIES}/{p}/deviceStatuses");
        for bad in ["sortOf", "Compliant", ""] {
            let body = json!({ "status": bad }).to_string();
            Refuse(&client, version)
                .create(&statuses, &body, INVALID, "status")
                .await;
        }
        let body = policy_with("passwordRequiredType", json!("alphabetic"));
        Refuse(&client, version)
            .create(POLICIES, &body, INVALID, "alphabetic")
            .await;
    }
    // `remoteLock` is a beta-only member of deviceComplianceActionType.
    let configs = |client: Client, version: &'static str| async move {
        let p = client.create_policy(version, "remote lock").await;
        let rules = format!("{POLICIES}/{p}/scheduledActionsForRule");
        let rule = client.ids(version, &rules).await[0].clone();
        format!("{rules}/{rule}/scheduledActionConfigurations")
    };
    let lock = json!({ "actionType": "remoteLock", "gracePeriodHours": 1 });
    let v1 = configs(client.clone(), "v1.0").await;
    Refuse(&client, "v1.0")
        .create(&v1, &lock.to_string(), INVALID, "remoteLock")
        .await;
    let beta = configs(client.clone(), "beta").await;
    let created = client.post("beta", &beta, &lock).await.expect(201);
    assert_eq!(created.json()["actionType"], "remoteLock");
}

#[tokio::test]
async fn integers_outside_int32_or_a_documented_range_are_refused() {
    let server = Server::start().await;
    let client = server.client();
    let p = client.create_policy("beta", "ranges").await;
    let statuses = format!("{POLICIES}/{p}/deviceStatuses");
    for platform in [3_000_000_000_i64, -3_000_000_000] {
        let body = json!({ "status": "compliant", "platform": platform }).to_string();
        Refuse(&client, "beta")
            .create(&statuses, &body, INVALID, "platform")
            .await;
    }
    let edge = json!({ "status": "compliant", "platform": i32::MAX });
    assert_eq!(
        client
            .post("beta", &statuses, &edge)
            .await
            .expect(201)
            .json()["platform"],
        i32::MAX
    );

    for version in VERSIONS {
        let p = client.create_policy(version, "grace").await;
        let rules = format!("{POLICIES}/{p}/scheduledActionsForRule");
        let rule = client.ids(version, &rules).await[0].clone();
        let configs = format!("{rules}/{rule}/scheduledActionConfigurations");
        for hours in [8761, -1] {
            let body =
                json!({ "actionType": "notification", "gracePeriodHours": hours }).to_string();
            Refuse(&client, version)
                .create(&configs, &body, INVALID, "gracePeriodHours")
                .await;
        }
        for hours in [0, 8760] {
            let body = json!({ "actionType": "notification", "gracePeriodHours": hours });
            let created = client.post(version, &configs, &body).await.expect(201);
            assert_eq!(created.json()["gracePeriodHours"], hours);
        }
        let config = client.ids(version, &configs).await[0].clone();
        let entity = format!("{configs}/{config}");
        Refuse(&client, version)
            .patch(
                &entity,
                r#"{"gracePeriodHours": 9000}"#,
                INVALID,
                "gracePeriodHours",
            )
            .await;
        // iOS passcodeMinimumLength is documented as 4..14.
        let ios = json!({ "@odata.type": "#microsoft.graph.iosCompliancePolicy", "displayName": "ios",
            "passcodeMinimumLength": 15 });
        Refuse(&client, version)
            .create(POLICIES, &ios.to_string(), INVALID, "passcodeMinimumLength")
            .await;
    }
}

#[tokio::test]
async fn date_time_offsets_take_any_offset_and_up_to_seven_fractional_digits() {
    let server = Server::start().await;
    let client = server.client();
    let p = client.create_policy("v1.0", "dates").await;
    let statuses = format!("{POLICIES}/{p}/deviceStatuses");
    let key = "lastReportedDateTime";
    for bad in [
        "yesterday",
        "2024-01-01T00:00:00.12345678Z",
        "2024-13-01T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01 00:00:00Z",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00+15:00",
    ] {
        let body = json!({ "status": "compliant", key: bad }).to_string();
        Refuse(&client, "v1.0")
            .create(&statuses, &body, INVALID, key)
            .await;
    }
    let fractions = [
        "", ".1", ".12", ".123", ".1234", ".12345", ".123456", ".1234567",
    ];
    let offsets = ["Z", "+00:00", "-08:00", "+05:30", "+14:00", "-12:00"];
    for (i, fraction) in fractions.iter().enumerate() {
        let good = format!(
            "2024-02-29T23:59:59{fraction}{}",
            offsets[i % offsets.len()]
        );
        let body = json!({ "status": "compliant", key: good });
        let created = client.post("v1.0", &statuses, &body).await.expect(201);
        assert_eq!(created.json()[key], good.as_str(), "echoed as sent");
    }
    let entity = format!("{statuses}/{}", client.ids("v1.0", &statuses).await[0]);
    Refuse(&client, "v1.0")
        .patch(
            &entity,
            r#"{"complianceGracePeriodExpirationDateTime": "soon"}"#,
            INVALID,
            "complianceGracePeriodExpirationDateTime",
        )
        .await;
}

#[tokio::test]
async fn a_policy_needs_a_display_name() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let mut body = windows10_policy("x");
        body.as_object_mut().unwrap().remove("displayName");
        Refuse(&client, version)
            .create(POLICIES, &body.to_string(), INVALID, "displayName")
            .await;
        let body = policy_with("displayName", Value::Null);
        Refuse(&client, version)
            .create(POLICIES, &body, INVALID, "displayName")
            .await;
        let p = client.create_policy(version, "named").await;
        Refuse(&client, version)
            .patch(
                &policy_path(&p),
                r#"{"displayName": null}"#,
                INVALID,
                "displayName",
            )
            .await;
    }
}

#[tokio::test]
async fn server_managed_properties_are_read_only() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let p = client.create_policy(version, "read only").await;
        for (key, value) in [
            ("createdDateTime", json!("2020-01-01T00:00:00Z")),
            ("lastModifiedDateTime", json!("2020-01-01T00:00:00Z")),
            ("version", json!(7)),
        ] {
            Refuse(&client, version)
                .create(POLICIES, &policy_with(key, value.clone()), INVALID, key)
                .await;
            let body = json!({ key: value }).to_string();
            Refuse(&client, version)
                .patch(&policy_path(&p), &body, INVALID, key)
                .await;
        }
    }
}

#[tokio::test]
async fn odata_type_that_is_not_a_type_name_is_a_bad_request() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        for value in [
            json!(5),
            json!(null),
            json!({ "name": "x" }),
            json!(""),
            json!("two words"),
        ] {
            let body = policy_with("@odata.type", value);
            Refuse(&client, version)
                .create(POLICIES, &body, "BadRequest", "Invalid OData type")
                .await;
        }
        let p = client.create_policy(version, "typed").await;
        let body = json!({ "target": { "@odata.type": 7 } }).to_string();
        let assignments = format!("{POLICIES}/{p}/assignments");
        Refuse(&client, version)
            .create(&assignments, &body, "BadRequest", "Invalid OData type")
            .await;
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_stores_nothing() {
    let server = Server::start_with(|c| c.max_body_bytes = 1024).await;
    let client = server.client();
    let mut body = windows10_policy("big");
    body["description"] = json!("x".repeat(2000));
    let resp = client.post("v1.0", POLICIES, &body).await;
    resp.expect_error(413, "RequestEntityTooLarge");
    let p = client.create_policy("v1.0", "small").await;
    let resp = client
        .patch(
            "v1.0",
            &policy_path(&p),
            &json!({ "description": "y".repeat(1100) }),
        )
        .await;
    resp.expect_error(413, "RequestEntityTooLarge");
    let policies = client.list("v1.0", POLICIES).await;
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0]["description"], Value::Null);
}

#[tokio::test]
async fn unknown_segments_are_400_and_unknown_versions_404() {
    let server = Server::start().await;
    let client = server.client();
    let p = client.create_policy("v1.0", "routes").await;
    for version in VERSIONS {
        for (path, segment) in [
            ("deviceManagement/bogus".to_string(), "bogus"),
            (format!("{POLICIES}/{p}/bogus"), "bogus"),
            (format!("{POLICIES}/{p}/assignments/a/nested"), "nested"),
            (
                "deviceManagement/DeviceCompliancePolicies".to_string(),
                "DeviceCompliancePolicies",
            ),
            ("nowhere".to_string(), "nowhere"),
        ] {
            let resp = client
                .get(version, &path)
                .await
                .expect_error(400, "BadRequest");
            assert!(resp.error_message().contains(segment), "{}", resp.text);
        }
    }
    for url in [
        format!("{}/v2.0/{POLICIES}", client.base),
        format!("{}/{POLICIES}", client.base),
        format!("{}/V1.0/{POLICIES}", client.base),
        format!("{}/", client.base),
    ] {
        client
            .get_url(&url)
            .await
            .expect_error(404, "ResourceNotFound");
    }
    let resp = client
        .get_url(&format!("{}/{POLICIES}", client.base))
        .await
        .expect(404);
    assert!(
        resp.error_message()
            .contains("Invalid version: devicemanagement"),
        "{}",
        resp.text
    );
    let url = format!("{}/v2.0/{POLICIES}", client.base);
    let resp = client
        .send(Method::POST, &url, Some(windows10_policy("v2").to_string()))
        .await;
    resp.expect_error(404, "ResourceNotFound");
    assert_eq!(client.list("v1.0", POLICIES).await.len(), 1);
}

#[tokio::test]
async fn an_invalid_deep_inserted_child_leaves_no_policy_and_no_rule() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let mut body = windows10_policy("deep");
        body["scheduledActionsForRule"] = json!([
            { "ruleName": "ok", "scheduledActionConfigurations": [{ "actionType": "block", "gracePeriodHours": 0 }] },
            { "ruleName": "bad", "scheduledActionConfigurations": [{ "actionType": "explode", "gracePeriodHours": 0 }] }
        ]);
        Refuse(&client, version)
            .create(POLICIES, &body.to_string(), INVALID, "explode")
            .await;
        body["scheduledActionsForRule"] = json!([{ "ruleName": "ok", "unknownThing": 1 }]);
        Refuse(&client, version)
            .create(POLICIES, &body.to_string(), INVALID, "unknownThing")
            .await;
        body["scheduledActionsForRule"] = json!({ "ruleName": "not a list" });
        Refuse(&client, version)
            .create(
                POLICIES,
                &body.to_string(),
                INVALID,
                "scheduledActionsForRule",
            )
            .await;
    }
    assert!(client.list("beta", POLICIES).await.is_empty());
}

#[tokio::test]
async fn a_refused_action_leaves_the_previous_set_in_place() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let p = client.create_policy(version, "actions").await;
        let assignments = format!("{POLICIES}/{p}/assignments");
        let target =
            json!({ "target": { "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget" } });
        client
            .post(version, &assignments, &target)
            .await
            .expect(201);
        let before = client.list(version, &assignments).await;
        let bad = json!({ "assignments": [target, { "target": { "@odata.type": "#microsoft.graph.nope" } }] });
        let resp = client
            .post(version, &format!("{POLICIES}/{p}/assign"), &bad)
            .await;
        resp.expect_error(400, "ModelValidationFailure");
        let resp = client
            .post(
                version,
                &format!("{POLICIES}/{p}/assign"),
                &json!({ "assignmentz": [] }),
            )
            .await;
        assert!(resp
            .expect_error(400, "ModelValidationFailure")
            .error_message()
            .contains("assignmentz"));
        assert_eq!(client.list(version, &assignments).await, before);

        let rules = format!("{POLICIES}/{p}/scheduledActionsForRule");
        let before = client.list(version, &rules).await;
        let bad = json!({ "deviceComplianceScheduledActionForRules": [
            { "ruleName": "r", "scheduledActionConfigurations": [{ "actionType": "block", "gracePeriodHours": 9999 }] }
        ]});
        let resp = client
            .post(
                version,
                &format!("{POLICIES}/{p}/scheduleActionsForRules"),
                &bad,
            )
            .await;
        assert!(resp
            .expect_error(400, "ModelValidationFailure")
            .error_message()
            .contains("gracePeriodHours"));
        assert_eq!(client.list(version, &rules).await, before);
    }
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start_with(|c| c.max_body_bytes = 1024).await;
    let token = server.client().token.unwrap();
    let addr = server.base.trim_start_matches("http://").to_string();
    let body = windows10_policy(&"x".repeat(3000)).to_string();
    let request = format!(
        "POST /v1.0/{POLICIES} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("\"RequestEntityTooLarge\""), "{response}");
    assert!(server.client().list("v1.0", POLICIES).await.is_empty());
}
