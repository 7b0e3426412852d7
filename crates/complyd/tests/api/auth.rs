//! Authentication (401), authorisation (403), tenant isolation and the request-id headers.

use crate::support::*;
use complyd::auth::TokenRequest;
use reqwest::Method;
use serde_json::json;

/// A request without credentials, or with these, is 401 with a `WWW-Authenticate: Bearer` header.
#[track_caller]
fn expect_unauthenticated(resp: Resp) -> Resp {
    let resp = resp.expect_error(401, "InvalidAuthenticationToken");
    let challenge = resp.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer"),
        "WWW-Authenticate: {challenge:?}"
    );
    resp
}

#[tokio::test]
async fn bad_tokens_are_401_with_a_bearer_challenge() {
    let server = Server::start().await;
    let now = complyd::common::now_unix();
    let wrong_secret =
        complyd::auth::mint_claims(b"some-other-secret", &claims(json!({}))).unwrap();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("empty", Some(String::new())),
        ("malformed", Some("not.a.jwt".to_string())),
        ("garbage", Some("abc".to_string())),
        ("wrong signature", Some(wrong_secret)),
        (
            "expired",
            Some(token_for(&claims(
                json!({ "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600 }),
            ))),
        ),
        (
            "not yet valid",
            Some(token_for(&claims(
                json!({ "nbf": now + 3600, "exp": now + 7200 }),
            ))),
        ),
        (
            "wrong audience",
            Some(token_for(&claims(
                json!({ "aud": "https://management.azure.com" }),
            ))),
        ),
        (
            "no audience",
            Some(token_for(&claims(json!({ "aud": null })))),
        ),
        (
            "no tenant",
            Some(token_for(&claims(json!({ "tid": null })))),
        ),
        (
            "empty tenant",
            Some(token_for(&claims(json!({ "tid": "" })))),
        ),
    ];
    for (case, token) in cases {
        let client = server.client_with_token(token);
        for version in VERSIONS {
            let resp = client.get(version, POLICIES).await;
            assert_eq!(resp.status, 401, "{case}: {}", resp.text);
            expect_unauthenticated(resp);
            let resp = client
                .post(version, POLICIES, &windows10_policy(case))
                .await;
            assert_eq!(resp.status, 401, "{case}: {}", resp.text);
            expect_unauthenticated(resp);
        }
    }
    // A scheme other than Bearer.
    let url = server.client().url("v1.0", POLICIES);
    let resp = reqwest::Client::new()
        .get(&url)
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(
        server.client().list("v1.0", POLICIES).await.is_empty(),
        "no 401 request stored anything"
    );
}

/// Verified tokens are remembered (the signature is not checked again on every request), but a
/// remembered token is refused as soon as its lifetime ends.
#[tokio::test]
async fn a_token_accepted_before_is_refused_once_it_expires() {
    let server = Server::start_with(|c| c.token_leeway = 0).await;
    let now = complyd::common::now_unix();
    let token = token_for(&claims(json!({ "iat": now, "nbf": now, "exp": now + 2 })));
    let client = server.client_with_token(Some(token));
    for _ in 0..3 {
        client.get("v1.0", POLICIES).await.expect(200);
    }
    while complyd::common::now_unix() <= now + 2 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let resp = expect_unauthenticated(client.get("v1.0", POLICIES).await);
    assert!(
        resp.error_message().contains("expired"),
        "{}",
        resp.error_message()
    );
}

#[tokio::test]
async fn the_graph_app_id_is_an_accepted_audience() {
    let server = Server::start().await;
    let token = token_for(&claims(
        json!({ "aud": "00000003-0000-0000-c000-000000000000" }),
    ));
    let client = server.client_with_token(Some(token));
    let id = client.create_policy("v1.0", "app id audience").await;
    assert_eq!(client.ids("beta", POLICIES).await, vec![id]);
}

#[tokio::test]
async fn read_only_callers_may_read_but_not_write() {
    let server = Server::start().await;
    let writer = server.client();
    let p = writer.create_policy("v1.0", "read only").await;
    let status = writer
        .post(
            "v1.0",
            &format!("{POLICIES}/{p}/deviceStatuses"),
            &device_status("compliant"),
        )
        .await;
    let status = status.expect(201).id();
    let reader = server.client_with(TokenRequest::delegated(TENANT, &[READ]));
    let entity = policy_path(&p);
    for version in VERSIONS {
        reader.get(version, POLICIES).await.expect(200);
        reader.get(version, &entity).await.expect(200);
        reader
            .get(version, &format!("{entity}/deviceStatusOverview"))
            .await
            .expect(200);
        reader
            .get(
                version,
                "deviceManagement/deviceCompliancePolicyDeviceStateSummary",
            )
            .await
            .expect(200);
        let writes = [
            (
                Method::POST,
                POLICIES.to_string(),
                Some(windows10_policy("no")),
            ),
            (
                Method::PATCH,
                entity.clone(),
                Some(json!({ "description": "no" })),
            ),
            (Method::DELETE, entity.clone(), None),
            (
                Method::POST,
                format!("{entity}/assign"),
                Some(json!({ "assignments": [] })),
            ),
            (
                Method::POST,
                format!("{entity}/scheduleActionsForRules"),
                Some(json!({ "deviceComplianceScheduledActionForRules": [] })),
            ),
            (
                Method::PATCH,
                format!("{entity}/deviceStatusOverview"),
                Some(json!({ "successCount": 5 })),
            ),
            (
                Method::DELETE,
                format!("{entity}/deviceStatuses/{status}"),
                None,
            ),
        ];
        for (method, path, body) in writes {
            let url = reader.url(version, &path);
            let resp = reader
                .send(method.clone(), &url, body.map(|b| b.to_string()))
                .await;
            assert_eq!(resp.status, 403, "{method} {path}: {}", resp.text);
            let resp = resp.expect_error(403, "Forbidden");
            assert!(resp.error_message().contains(WRITE), "{}", resp.text);
        }
    }
    let after = writer.get("v1.0", &entity).await.expect(200).json();
    assert_eq!(after["description"], serde_json::Value::Null);
    assert_eq!(after["version"], 1);
    assert_eq!(writer.list("v1.0", POLICIES).await.len(), 1);
    assert_eq!(
        writer
            .list("v1.0", &format!("{entity}/deviceStatuses"))
            .await
            .len(),
        1
    );
    assert!(
        writer
            .list("v1.0", &format!("{entity}/scheduledActionsForRule"))
            .await
            .len()
            == 1
    );
}

#[tokio::test]
async fn callers_without_a_permission_are_forbidden_even_to_read() {
    let server = Server::start().await;
    for permissions in [
        vec![],
        vec!["User.Read"],
        vec!["DeviceManagementManagedDevices.Read.All"],
    ] {
        let client = server.client_with(TokenRequest::delegated(TENANT, &permissions));
        for version in VERSIONS {
            let resp = client
                .get(version, POLICIES)
                .await
                .expect_error(403, "Forbidden");
            assert!(resp.error_message().contains(READ), "{}", resp.text);
        }
    }
}

#[tokio::test]
async fn app_only_tokens_need_application_roles() {
    let server = Server::start().await;
    let app = server.client_with(TokenRequest {
        app_only: true,
        ..TokenRequest::delegated(TENANT, &[WRITE])
    });
    let id = app.create_policy("v1.0", "by an app").await;
    assert_eq!(app.ids("beta", POLICIES).await, vec![id.clone()]);
    let raw_roles = token_for(&claims(
        json!({ "idtyp": "app", "scp": null, "roles": [READ] }),
    ));
    let reader = server.client_with_token(Some(raw_roles));
    reader.get("v1.0", &policy_path(&id)).await.expect(200);
    reader
        .delete("v1.0", &policy_path(&id))
        .await
        .expect_error(403, "Forbidden");

    // The permission only as a delegated scope on an app-only token does not count.
    for token in [
        token_for(&claims(json!({ "idtyp": "app", "scp": WRITE }))),
        token_for(&claims(
            json!({ "idtyp": "app", "scp": WRITE, "roles": ["User.Read.All"] }),
        )),
    ] {
        let client = server.client_with_token(Some(token));
        let resp = client
            .get("v1.0", POLICIES)
            .await
            .expect_error(403, "Forbidden");
        assert!(
            resp.error_message().starts_with("Application"),
            "{}",
            resp.text
        );
        client
            .post("v1.0", POLICIES, &windows10_policy("no"))
            .await
            .expect_error(403, "Forbidden");
    }
    // A delegated token whose permission sits in `roles` is not admitted either.
    let token = token_for(&claims(json!({ "scp": "User.Read", "roles": [WRITE] })));
    let client = server.client_with_token(Some(token));
    client
        .get("v1.0", POLICIES)
        .await
        .expect_error(403, "Forbidden");
    assert_eq!(app.ids("v1.0", POLICIES).await, vec![id]);
}

#[tokio::test]
async fn personal_microsoft_accounts_are_forbidden() {
    let server = Server::start().await;
    let personal = "9188040d-6c67-4c5b-b112-36a304b66dad";
    let client = server.client_with(TokenRequest::delegated(personal, &[WRITE]));
    for version in VERSIONS {
        let resp = client
            .get(version, POLICIES)
            .await
            .expect_error(403, "Forbidden");
        assert!(
            resp.error_message().contains("not supported"),
            "{}",
            resp.text
        );
        client
            .post(version, POLICIES, &windows10_policy("personal"))
            .await
            .expect_error(403, "Forbidden");
    }
}

#[tokio::test]
async fn tenants_never_see_change_or_count_each_other() {
    let server = Server::start().await;
    let a = server.client();
    let b = server.client_with(TokenRequest::delegated(OTHER_TENANT, &[WRITE]));
    let summary = "deviceManagement/deviceCompliancePolicyDeviceStateSummary";
    let pa = a.create_policy("v1.0", "tenant a").await;
    for status in ["compliant", "compliant", "nonCompliant"] {
        a.post(
            "v1.0",
            &format!("{POLICIES}/{pa}/deviceStatuses"),
            &device_status(status),
        )
        .await
        .expect(201);
    }
    let pb = b.create_policy("beta", "tenant b").await;
    b.post(
        "beta",
        &format!("{POLICIES}/{pb}/deviceStatuses"),
        &device_status("error"),
    )
    .await
    .expect(201);
    let setting = "deviceManagement/deviceCompliancePolicySettingStateSummaries";
    a.post(
        "v1.0",
        setting,
        &json!({ "setting": "a", "platformType": "iOS" }),
    )
    .await
    .expect(201);

    for version in VERSIONS {
        assert_eq!(b.ids(version, POLICIES).await, vec![pb.clone()]);
        assert!(b.list(version, setting).await.is_empty());
        let foreign = policy_path(&pa);
        b.expect_gone(version, &foreign).await;
        for nav in [
            "deviceStatuses",
            "assignments",
            "scheduledActionsForRule",
            "userStatuses",
        ] {
            b.expect_orphan(version, &format!("{foreign}/{nav}"), &json!({}))
                .await;
        }
        b.get(version, &format!("{foreign}/deviceStatusOverview"))
            .await
            .expect_error(404, "ResourceNotFound");
        let assign = json!({ "assignments": [] });
        b.post(version, &format!("{foreign}/assign"), &assign)
            .await
            .expect_error(404, "ResourceNotFound");

        // Each tenant's overview counts its own statuses only.
        let overview = |p: &str| format!("{POLICIES}/{p}/deviceStatusOverview");
        let mine = b.get(version, &overview(&pb)).await.expect(200).json();
        assert_eq!(
            (mine["successCount"].clone(), mine["errorCount"].clone()),
            (json!(0), json!(1)),
            "{mine}"
        );
        let theirs = a.get(version, &overview(&pa)).await.expect(200).json();
        assert_eq!(theirs["successCount"], 2);
        assert_eq!(theirs["failedCount"], 1);
        assert_eq!(theirs["errorCount"], 0);
    }
    // Tenant A's data is untouched by B's attempts.
    let policy = a.get("v1.0", &policy_path(&pa)).await.expect(200).json();
    assert_eq!(
        (policy["displayName"].clone(), policy["version"].clone()),
        (json!("tenant a"), json!(1))
    );
    assert_eq!(
        a.list("v1.0", &format!("{POLICIES}/{pa}/deviceStatuses"))
            .await
            .len(),
        3
    );
    assert_eq!(a.ids("beta", POLICIES).await, vec![pa]);
    let patched = b
        .patch("v1.0", summary, &json!({ "compliantDeviceCount": 50 }))
        .await
        .expect(200);
    assert_eq!(patched.json()["compliantDeviceCount"], 50);
    assert_eq!(
        a.get("v1.0", summary).await.expect(200).json()["compliantDeviceCount"],
        0,
        "B's patch of its own summary leaves A's as counted (A has no managed devices)"
    );
}

#[tokio::test]
async fn every_response_carries_request_ids() {
    let server = Server::start().await;
    let client = server.client();
    let anonymous = server.client_with_token(None);
    let id = client.create_policy("v1.0", "ids").await;
    let url = |path: &str| client.url("v1.0", path);
    let requests = [
        (&client, Method::GET, url(POLICIES), None),
        (&client, Method::GET, url(&policy_path(&id)), None),
        (
            &client,
            Method::PATCH,
            url(&policy_path(&id)),
            Some(json!({ "description": "d" }).to_string()),
        ),
        (
            &client,
            Method::POST,
            url(POLICIES),
            Some("{bad".to_string()),
        ),
        (&client, Method::GET, url(&policy_path("missing")), None),
        (&client, Method::GET, format!("{}/v9/x", client.base), None),
        (&anonymous, Method::GET, url(POLICIES), None),
        (&client, Method::DELETE, url(&policy_path(&id)), None),
    ];
    let mut seen = std::collections::HashSet::new();
    for (who, method, url, body) in requests {
        let plain = who.send(method.clone(), &url, body.clone()).await;
        let request_id = plain
            .header("request-id")
            .unwrap_or_else(|| panic!("{method} {url}: no request-id"));
        assert!(uuid::Uuid::parse_str(&request_id).is_ok(), "{request_id}");
        assert!(seen.insert(request_id.clone()), "request ids are unique");
        assert_eq!(
            plain.header("client-request-id"),
            Some(request_id),
            "{method} {url}"
        );

        let sent = uuid::Uuid::new_v4().to_string();
        let echoed = who
            .send_with(method.clone(), &url, body, &[("client-request-id", &sent)])
            .await;
        assert_eq!(
            echoed.header("client-request-id"),
            Some(sent.clone()),
            "{method} {url}"
        );
        let request_id = echoed.header("request-id").unwrap();
        assert_ne!(request_id, sent);
        if echoed.status >= 400 {
            let inner = &echoed.json()["error"]["innerError"];
            assert_eq!(inner["client-request-id"], sent.as_str());
            assert_eq!(inner["request-id"], request_id.as_str());
        }
    }
}
