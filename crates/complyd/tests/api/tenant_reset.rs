//! `DELETE /complyd/v1/tenant`: empties the caller's tenant (what the test-suite fixtures call
//! between tests), leaving every other tenant and the token service alone.

use crate::support::*;
use complyd::auth::TokenRequest;
use serde_json::json;

const RESET: &str = "Complyd.Tenant.Reset";
const TEMPLATES: &str = "deviceManagement/notificationMessageTemplates";
const EVERY_AREA: [&str; 5] = [
    WRITE,
    "DeviceManagementRBAC.ReadWrite.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementApps.Read.All",
    "User.ReadWrite.All",
];

fn reset_url(server: &Server) -> String {
    format!("{}/complyd/v1/tenant", server.base)
}

async fn reset(client: &Client, server: &Server) -> Resp {
    client
        .send(reqwest::Method::DELETE, &reset_url(server), None)
        .await
}

/// Fills the tenant with a bit of every kind of row: a policy with a contained assignment, a
/// scope tag, a template with a message and a test message in the outbox, a directory user, and
/// the audit events all of these record.
async fn fill(client: &Client, name: &str) {
    let policy = client.create_policy("v1.0", name).await;
    client
        .post(
            "v1.0",
            &format!("{}/assign", policy_path(&policy)),
            &json!({"assignments": [{"target": {
                "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]}),
        )
        .await
        .expect(200);
    client.create_scope_tag(name).await;
    let template = client
        .post("v1.0", TEMPLATES, &json!({"displayName": name}))
        .await
        .expect(201)
        .id();
    client
        .post(
            "v1.0",
            &format!("{TEMPLATES}/{template}/localizedNotificationMessages"),
            &json!({"locale": "en-us", "subject": "s", "messageTemplate": "m", "isDefault": true}),
        )
        .await
        .expect(201);
    client
        .send(
            reqwest::Method::POST,
            &client.url("v1.0", &format!("{TEMPLATES}/{template}/sendTestMessage")),
            None,
        )
        .await
        .expect(204);
    client
        .post(
            "v1.0",
            "users",
            &json!({"accountEnabled": true, "displayName": name, "mailNickname": name,
                    "userPrincipalName": format!("{name}@contoso.test"),
                    "passwordProfile": {"password": "Pa55word!"}}),
        )
        .await
        .expect(201);
}

#[tokio::test]
async fn reset_empties_the_callers_tenant_and_no_other() {
    let server = Server::start().await;
    let mine = server.client_with(TokenRequest::delegated(TENANT, &EVERY_AREA));
    let theirs = server.client_with(TokenRequest::delegated(OTHER_TENANT, &EVERY_AREA));
    fill(&mine, "mine").await;
    fill(&theirs, "theirs").await;
    let outbox = format!("{}/complyd/v1/outbox", server.base);
    assert_eq!(mine.get_url(&outbox).await.expect(200).values().len(), 1);
    assert!(!mine
        .list("beta", "deviceManagement/auditEvents")
        .await
        .is_empty());

    let resetter = server.client_with(TokenRequest::delegated(TENANT, &[RESET]));
    let answer = reset(&resetter, &server).await.expect(200).json();
    assert!(answer["deleted"].as_u64().unwrap() >= 8, "{answer}");

    for path in [POLICIES, TEMPLATES, "users", "deviceManagement/auditEvents"] {
        assert_eq!(
            mine.list("beta", path).await,
            Vec::<serde_json::Value>::new(),
            "{path}"
        );
    }
    // The built-in Default scope tag is every tenant's, emptied or not.
    assert_eq!(mine.ids("beta", SCOPE_TAGS).await, vec!["0".to_string()]);
    assert!(mine.get_url(&outbox).await.expect(200).values().is_empty());
    // The other tenant keeps everything.
    assert_eq!(theirs.list("v1.0", POLICIES).await.len(), 1);
    assert_eq!(theirs.list("beta", SCOPE_TAGS).await.len(), 2);
    assert_eq!(theirs.list("v1.0", "users").await.len(), 1);
    assert_eq!(theirs.get_url(&outbox).await.expect(200).values().len(), 1);
    // The emptied tenant works as a new one; an empty tenant resets to nothing.
    fill(&mine, "again").await;
    assert_eq!(mine.list("v1.0", POLICIES).await.len(), 1);
    reset(&resetter, &server).await.expect(200);
    let again = reset(&resetter, &server).await.expect(200).json();
    assert_eq!(again, json!({"deleted": 0}));
}

#[tokio::test]
async fn reset_needs_its_own_permission_and_delete() {
    let server = Server::start().await;
    let admin = server.client_with(TokenRequest::delegated(TENANT, &EVERY_AREA));
    admin.create_policy("v1.0", "kept").await;
    let refused = reset(&admin, &server).await.expect_error(403, "Forbidden");
    assert!(refused.error_message().contains(RESET), "{}", refused.text);
    let app = server.client_with(TokenRequest {
        tenant: TENANT.into(),
        permissions: vec![RESET.into()],
        app_only: true,
        lifetime_seconds: 600,
    });
    reset(&server.client_with_token(None), &server)
        .await
        .expect_error(401, "InvalidAuthenticationToken");
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        app.send(method, &reset_url(&server), None)
            .await
            .expect_error(400, ROUTE_ERROR);
    }
    assert_eq!(admin.list("v1.0", POLICIES).await.len(), 1);
    // An app holding the permission may reset its tenant.
    reset(&app, &server).await.expect(200);
    assert!(admin.list("v1.0", POLICIES).await.is_empty());
}

#[tokio::test]
async fn the_token_services_tenant_cannot_be_reset() {
    let server = Server::start().await;
    let jwks = format!("{}/common/discovery/v2.0/keys", server.base);
    let anonymous = server.client_with_token(None);
    let before = anonymous.get_url(&jwks).await.expect(200).json();
    assert!(!before["keys"].as_array().unwrap().is_empty(), "{before}");
    let system = server.client_with(TokenRequest::delegated("_system", &[RESET]));
    let refused = reset(&system, &server).await.expect_error(403, "Forbidden");
    assert!(
        refused.error_message().contains("_system"),
        "{}",
        refused.text
    );
    // The token service still signs with the key it had.
    assert_eq!(anonymous.get_url(&jwks).await.expect(200).json(), before);
}
