//! The seed examples, sent byte for byte, answered as the documentation shows.

use crate::support::*;
use serde_json::Value;

/// The docs echo nested `@odata.type` without `#`; complyd always emits it with `#`.
fn with_hash_types(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("@odata.type", Value::String(t)) if !t.starts_with('#') => {
                        (k.clone(), Value::String(format!("#{t}")))
                    }
                    _ => (k.clone(), with_hash_types(v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(with_hash_types).collect()),
        other => other.clone(),
    }
}

fn example(name: &str) -> Value {
    with_hash_types(&serde_json::from_str(&fixture(name)).unwrap())
}

#[tokio::test]
async fn seed_000_creates_an_action_item_under_a_rule() {
    let server = Server::start().await;
    let client = server.client();
    let policy = client.create_policy("v1.0", "seed 000").await;
    let rules = client
        .get(
            "v1.0",
            &format!("{POLICIES}/{policy}/scheduledActionsForRule"),
        )
        .await
        .expect(200);
    let rule = rules.json()["value"][0]["id"].as_str().unwrap().to_string();
    let path =
        format!("{POLICIES}/{policy}/scheduledActionsForRule/{rule}/scheduledActionConfigurations");
    let created = client
        .post_raw("v1.0", &path, &fixture("seed000_action_item.request.json"))
        .await
        .expect(201);
    assert_matches_example(
        &created.json(),
        &example("seed000_action_item.response.json"),
    );
    let id = created.id();
    let read = client
        .get("v1.0", &format!("{path}/{id}"))
        .await
        .expect(200);
    assert_matches_example(&read.json(), &example("seed000_action_item.response.json"));
}

#[tokio::test]
async fn seed_001_creates_a_device_status_and_keeps_the_clients_offsets() {
    let server = Server::start().await;
    let client = server.client();
    let policy = client.create_policy("beta", "seed 001").await;
    let path = format!("{POLICIES}/{policy}/deviceStatuses");
    let created = client
        .post_raw(
            "beta",
            &path,
            &fixture("seed001_device_status.request.json"),
        )
        .await
        .expect(201);
    let body = created.json();
    assert_matches_example(&body, &example("seed001_device_status.response.json"));
    assert_eq!(
        body["complianceGracePeriodExpirationDateTime"],
        "2016-12-31T23:56:44.951111-08:00"
    );
    assert_eq!(
        body["lastReportedDateTime"],
        "2017-01-01T00:00:17.7769392-08:00"
    );
    assert!(body["@odata.context"].as_str().unwrap().ends_with(&format!(
        "/beta/$metadata#deviceManagement/deviceCompliancePolicies('{policy}')/deviceStatuses/$entity"
    )));
    let read = client
        .get("beta", &format!("{path}('{}')", created.id()))
        .await
        .expect(200);
    assert_matches_example(
        &read.json(),
        &example("seed001_device_status.response.json"),
    );
}

#[tokio::test]
async fn seed_002_placeholders_are_refused_and_real_values_are_echoed() {
    let server = Server::start().await;
    let client = server.client();
    let verbatim = fixture("seed002_managed_device_compliance.request.json");
    let refused = client
        .post_raw("beta", "managedDeviceCompliances", &verbatim)
        .await;
    let refused = refused.expect_error(400, "ModelValidationFailure");
    assert!(
        refused.error_message().contains("lastSyncDateTime"),
        "{}",
        refused.text
    );

    let real = verbatim.replace(
        "\"String (timestamp)\"",
        "\"2024-05-01T10:20:30.1234567+02:00\"",
    );
    let created = client
        .post_raw("beta", "managedDeviceCompliances", &real)
        .await
        .expect(201);
    let mut expected = example("seed002_managed_device_compliance.response.json");
    for key in [
        "lastSyncDateTime",
        "inGracePeriodUntilDateTime",
        "lastRefreshedDateTime",
    ] {
        expected[key] = Value::String("2024-05-01T10:20:30.1234567+02:00".into());
    }
    let body = created.json();
    assert_matches_example(&body, &expected);
    assert_eq!(
        body["@odata.type"],
        "#microsoft.management.services.api.managedDeviceCompliance"
    );
    let read = client
        .get(
            "beta",
            &format!("managedDeviceCompliances/{}", created.id()),
        )
        .await
        .expect(200);
    assert_matches_example(&read.json(), &expected);
    client
        .get("v1.0", "managedDeviceCompliances")
        .await
        .expect_error(400, "BadRequest");
}

#[tokio::test]
async fn seed_003_assigns_a_scope_tag_group_target_in_both_versions() {
    let server = Server::start().await;
    let client = server.client();
    for version in ["v1.0", "beta"] {
        let policy = client.create_policy(version, "seed 003").await;
        let path = format!("{POLICIES}/{policy}/assignments");
        let created = client
            .post_raw(version, &path, &fixture("seed003_assignment.request.json"))
            .await
            .expect(201);
        let body = created.json();
        assert_matches_example(
            &body["target"],
            &example("seed003_assignment.response.json")["target"],
        );
        assert_eq!(
            body["@odata.type"],
            "#microsoft.graph.deviceCompliancePolicyAssignment"
        );
        let listed = client.get(version, &path).await.expect(200).json();
        assert_eq!(listed["value"].as_array().unwrap().len(), 1);
        assert_eq!(
            listed["value"][0]["target"]["@odata.type"],
            "#microsoft.graph.scopeTagGroupAssignmentTarget"
        );
    }
}

#[tokio::test]
async fn seeds_need_the_read_write_permission() {
    let server = Server::start().await;
    let writer = server.client();
    let policy = writer.create_policy("beta", "perm").await;
    let reader = server.client_with(complyd::auth::TokenRequest::delegated(TENANT, &[READ]));
    let path = format!("{POLICIES}/{policy}/deviceStatuses");
    reader
        .post_raw(
            "beta",
            &path,
            &fixture("seed001_device_status.request.json"),
        )
        .await
        .expect_error(403, "Forbidden");
    reader.get("beta", &path).await.expect(200);
}
