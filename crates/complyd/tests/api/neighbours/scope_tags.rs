//! Role scope tags: the built-in Default tag, CRUD, `assign`, their permissions, and the
//! `roleScopeTagIds` of scope-taggable entities (default `["0"]`, unknown tags refused).

use super::*;
use serde_json::json;

#[tokio::test]
async fn every_tenant_has_the_default_tag_and_it_cannot_be_deleted() {
    let server = Server::start().await;
    let client = admin(&server);
    let tags = client.list("beta", SCOPE_TAGS).await;
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!(tags[0]["id"], "0");
    assert_eq!(tags[0]["displayName"], "Default");
    assert_eq!(tags[0]["isBuiltIn"], true);
    let got = client
        .get("beta", &format!("{SCOPE_TAGS}/0"))
        .await
        .expect(200)
        .json();
    assert_eq!(got["displayName"], "Default");
    let refused = client
        .delete("beta", &format!("{SCOPE_TAGS}/0"))
        .await
        .expect_error(400, "BadRequest");
    assert!(
        refused.error_message().contains("built in"),
        "{}",
        refused.text
    );
    assert_eq!(client.ids("beta", SCOPE_TAGS).await, ["0"]);
    // Another tenant has its own, without creating it either.
    let other = server.client_with(TokenRequest::delegated(OTHER_TENANT, &[RBAC_WRITE]));
    assert_eq!(other.ids("beta", SCOPE_TAGS).await, ["0"]);
}

#[tokio::test]
async fn custom_tags_are_created_updated_and_deleted() {
    let server = Server::start().await;
    let client = admin(&server);
    let created = client
        .post(
            "beta",
            SCOPE_TAGS,
            &json!({"displayName": "Branch", "description": "the branch office"}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(created["isBuiltIn"], false);
    let id = created["id"].as_str().unwrap();
    let path = format!("{SCOPE_TAGS}/{id}");
    client
        .patch("beta", &path, &json!({"description": "moved"}))
        .await
        .expect(200);
    assert_eq!(
        client.get("beta", &path).await.expect(200).json()["description"],
        "moved"
    );
    client
        .post(
            "beta",
            SCOPE_TAGS,
            &json!({"displayName": "x", "isBuiltIn": true}),
        )
        .await
        .expect_error(400, "ModelValidationFailure");
    client.delete("beta", &path).await.expect(204);
    client.expect_gone("beta", &path).await;
    // Not in v1.0.
    client
        .get("v1.0", SCOPE_TAGS)
        .await
        .expect_error(400, "BadRequest");
}

#[tokio::test]
async fn assign_replaces_the_tags_auto_assignments() {
    let server = Server::start().await;
    let client = admin(&server);
    let id = client.create_scope_tag("Assigned").await;
    let target = |group: &str| json!({"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group}});
    let answer = client
        .post(
            "beta",
            &format!("{SCOPE_TAGS}/{id}/assign"),
            &json!({"assignments": [target("g1"), target("g2")]}),
        )
        .await
        .expect(200);
    assert_eq!(answer.values().len(), 2);
    client
        .post(
            "beta",
            &format!("{SCOPE_TAGS}/{id}/assign"),
            &json!({"assignments": [target("g3")]}),
        )
        .await
        .expect(200);
    let now = client
        .list("beta", &format!("{SCOPE_TAGS}/{id}/assignments"))
        .await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["target"]["groupId"], "g3");
    client
        .post("beta", &format!("{SCOPE_TAGS}/{id}/assign"), &json!({}))
        .await
        .expect_error(400, "BadRequest");
}

#[tokio::test]
async fn scope_tags_take_rbac_or_configuration_permissions() {
    let server = Server::start().await;
    let rbac_reader = holding(&server, &["DeviceManagementRBAC.Read.All"]);
    rbac_reader.get("beta", SCOPE_TAGS).await.expect(200);
    rbac_reader
        .post("beta", SCOPE_TAGS, &json!({"displayName": "no"}))
        .await
        .expect_error(403, "Forbidden");
    holding(&server, &[RBAC_WRITE])
        .post("beta", SCOPE_TAGS, &json!({"displayName": "yes"}))
        .await
        .expect(201);
    holding(&server, &[READ])
        .get("beta", SCOPE_TAGS)
        .await
        .expect(200);
    holding(&server, &[SERVICE_WRITE])
        .get("beta", SCOPE_TAGS)
        .await
        .expect_error(403, "Forbidden");
}

#[tokio::test]
async fn taggable_entities_default_to_the_default_tag() {
    let server = Server::start().await;
    let client = admin(&server);
    let policy = client.create_policy("v1.0", "untagged").await;
    let read = client
        .get("beta", &policy_path(&policy))
        .await
        .expect(200)
        .json();
    assert_eq!(read["roleScopeTagIds"], json!(["0"]));
    let template = client
        .post("v1.0", TEMPLATES, &json!({"displayName": "t"}))
        .await
        .expect(201)
        .json();
    assert_eq!(template["roleScopeTagIds"], json!(["0"]));
    let script = client
        .post("beta", SCRIPTS, &json!({"displayName": "s"}))
        .await
        .expect(201)
        .json();
    assert_eq!(script["roleScopeTagIds"], json!(["0"]));
    // Given explicitly, the tags are kept as given, an empty list included.
    let mut body = windows10_policy("none");
    body["roleScopeTagIds"] = json!([]);
    let created = client
        .post("beta", POLICIES, &body)
        .await
        .expect(201)
        .json();
    assert_eq!(created["roleScopeTagIds"], json!([]));
}

#[tokio::test]
async fn unknown_tags_are_refused_and_nothing_is_stored() {
    for intune in [false, true] {
        let server = if intune {
            Server::intune().await
        } else {
            Server::start().await
        };
        let client = admin(&server);
        let tag = client.create_scope_tag("Known").await;
        let mut body = windows10_policy("tagged");
        body["roleScopeTagIds"] = json!(["0", tag]);
        let id = client.post("beta", POLICIES, &body).await.expect(201).id();

        body["roleScopeTagIds"] = json!(["0", "42"]);
        let refused = client
            .post("beta", POLICIES, &body)
            .await
            .expect_error(400, "BadRequest");
        let wanted = if intune {
            "Added a tag which is not allowed by the current role: 42".to_string()
        } else {
            "The value '42' of 'roleScopeTagIds' does not name a roleScopeTag of this tenant (/deviceManagement/roleScopeTags); it must name one.".to_string()
        };
        assert_eq!(refused.error_message(), wanted);
        assert_eq!(client.list("beta", POLICIES).await.len(), 1);

        client
            .patch(
                "beta",
                &policy_path(&id),
                &json!({"roleScopeTagIds": ["nope"]}),
            )
            .await
            .expect_error(400, "BadRequest");
        client
            .post(
                "v1.0",
                TEMPLATES,
                &json!({"displayName": "t", "roleScopeTagIds": ["nope"]}),
            )
            .await
            .expect_error(400, "BadRequest");
        // A deleted tag is unknown from then on.
        client
            .delete("beta", &format!("{SCOPE_TAGS}/{tag}"))
            .await
            .expect(204);
        body["roleScopeTagIds"] = json!([tag]);
        client
            .post("beta", POLICIES, &body)
            .await
            .expect_error(400, "BadRequest");
        let read = client
            .get("beta", &policy_path(&id))
            .await
            .expect(200)
            .json();
        assert_eq!(read["version"], 1, "the refused PATCH changed nothing");
    }
}
