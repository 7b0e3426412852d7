//! Assignment filters (beta): CRUD, the rule parsed on write, validateFilter, and assignment
//! targets that must name an existing filter. Also what an assignment's group id may name.

use super::support::*;
use crate::support::*;
use serde_json::{json, Value};

const FILTERS: &str = "deviceManagement/assignmentFilters";

fn filter(name: &str, rule: &str) -> Value {
    json!({
        "displayName": name,
        "description": "Windows 10 devices",
        "platform": "windows10AndLater",
        "rule": rule,
        "roleScopeTags": ["0"]
    })
}

fn assignment(group: &str, filter: Option<&str>) -> Value {
    let mut target = json!({
        "@odata.type": "#microsoft.graph.groupAssignmentTarget",
        "groupId": group
    });
    if let Some(f) = filter {
        target["deviceAndAppManagementAssignmentFilterId"] = json!(f);
        target["deviceAndAppManagementAssignmentFilterType"] = json!("include");
    }
    json!({ "target": target })
}

#[tokio::test]
async fn filters_are_created_read_updated_and_deleted_with_their_rule_checked() {
    let server = Server::start().await;
    let c = server.client();
    let created = c
        .post("beta", FILTERS, &filter("Win10", r#"(device.osVersion -startsWith "10.0") and (device.manufacturer -eq "Microsoft")"#))
        .await
        .expect(201);
    let id = created.id();
    let body = created.json();
    assert_eq!(body["platform"], "windows10AndLater");
    assert!(body["createdDateTime"].is_string() && body["lastModifiedDateTime"].is_string());
    assert_eq!(c.ids("beta", FILTERS).await, vec![id.clone()]);
    c.patch(
        "beta",
        &format!("{FILTERS}/{id}"),
        &json!({"rule": "(device.operatingSystemVersion -ge 10.0.22000)"}),
    )
    .await
    .expect(200);
    let bad = c
        .patch(
            "beta",
            &format!("{FILTERS}/{id}"),
            &json!({"rule": "(device.osVersion -startsWith \"10\""}),
        )
        .await
        .expect_error(400, "BadRequest");
    assert_eq!(
        bad.error_message(),
        "Assignment filter rule validation error: expected ')', found the end at position 34."
    );
    let unknown = c
        .post(
            "beta",
            FILTERS,
            &filter("Bad", "(device.colour -eq \"red\")"),
        )
        .await
        .expect_error(400, "BadRequest");
    assert!(
        unknown
            .error_message()
            .contains("Property 'colour' cannot be applied to object 'device' at position 1."),
        "{}",
        unknown.text
    );
    let mut no_platform = filter("NoPlatform", "(device.model -eq \"x\")");
    no_platform.as_object_mut().unwrap().remove("platform");
    c.post("beta", FILTERS, &no_platform)
        .await
        .expect_error(400, "ModelValidationFailure");
    c.get("v1.0", FILTERS).await.expect_error(400, "BadRequest");
    let reader = server.client_with(complyd::auth::TokenRequest::delegated(TENANT, &[READ]));
    reader.get("beta", FILTERS).await.expect(200);
    reader
        .post("beta", FILTERS, &filter("R", "(device.model -eq \"x\")"))
        .await
        .expect_error(403, "Forbidden");
    c.delete("beta", &format!("{FILTERS}/{id}"))
        .await
        .expect(204);
    assert!(c.ids("beta", FILTERS).await.is_empty());
}

#[tokio::test]
async fn validate_filter_answers_whether_a_rule_is_valid() {
    let server = Server::start().await;
    let c = server.client();
    let path = format!("{FILTERS}/validateFilter");
    let valid = c
        .post("beta", &path, &json!({"deviceAndAppManagementAssignmentFilter": filter("V", "(device.model -in [\"Surface Book 3\"])")}))
        .await
        .expect(200)
        .json();
    assert_eq!(valid["value"]["isValidRule"], json!(true));
    assert_eq!(
        valid["value"]["@odata.type"],
        "#microsoft.graph.assignmentFilterValidationResult"
    );
    let invalid = c
        .post("beta", &path, &json!({"deviceAndAppManagementAssignmentFilter": filter("V", "(device.model -in \"x\")")}))
        .await
        .expect(200)
        .json();
    assert_eq!(invalid["value"]["isValidRule"], json!(false));
    assert!(
        c.ids("beta", FILTERS).await.is_empty(),
        "validating stores nothing"
    );
}

#[tokio::test]
async fn assignments_must_name_a_filter_that_exists_but_may_name_any_group() {
    let server = Server::start().await;
    let c = admin(&server);
    let f = c
        .post("beta", FILTERS, &filter("F", "(device.model -eq \"x\")"))
        .await
        .expect(201)
        .id();
    let policy = c.create_policy("beta", "P").await;
    let assign = format!("{POLICIES}/{policy}/assign");
    let unknown_group = "0f0f0f0f-0000-4000-8000-000000000000";
    // A group id that names no group is accepted, as the live service does.
    c.post(
        "beta",
        &assign,
        &json!({"assignments": [assignment(unknown_group, Some(&f))]}),
    )
    .await
    .expect(200);
    let missing = "1e1e1e1e-0000-4000-8000-000000000000";
    let refused = c
        .post(
            "beta",
            &assign,
            &json!({"assignments": [assignment(unknown_group, Some(missing))]}),
        )
        .await
        .expect_error(400, "BadRequest");
    assert_eq!(
        refused.error_message(),
        format!("The value '{missing}' of 'assignments[0].target.deviceAndAppManagementAssignmentFilterId' does not name a deviceAndAppManagementAssignmentFilter of this tenant (/deviceManagement/assignmentFilters); it must name one or be 00000000-0000-0000-0000-000000000000.")
    );
    c.post(
        "beta",
        &format!("{POLICIES}/{policy}/assignments"),
        &assignment(unknown_group, Some(missing)),
    )
    .await
    .expect_error(400, "BadRequest");
    c.post("beta", &assign, &json!({"assignments": [assignment(unknown_group, Some("00000000-0000-0000-0000-000000000000"))]}))
        .await
        .expect(200);
    // An empty id names no filter, as null does (tools send it for "no filter").
    c.post(
        "beta",
        &assign,
        &json!({"assignments": [assignment(unknown_group, Some(""))]}),
    )
    .await
    .expect(200);
    // An assignment to a real group outlives the group, as in Intune.
    let g = create(&c, "v1.0", "groups", &group("Targets")).await;
    c.post(
        "v1.0",
        &assign,
        &json!({"assignments": [assignment(&g, None)]}),
    )
    .await
    .expect(200);
    c.delete("v1.0", &format!("groups/{g}")).await.expect(204);
    let kept = c
        .list("v1.0", &format!("{POLICIES}/{policy}/assignments"))
        .await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["target"]["groupId"], json!(g));
}
