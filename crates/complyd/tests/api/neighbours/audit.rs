//! The audit log: one event per successful Intune write, in the write's own transaction, with the
//! caller from the token; `$filter` on time and category; the two functions; read-only.

use super::*;
use serde_json::{json, Value};

/// A delegated user with a name, calling through an app with a name (as Entra's tokens say).
fn named_user(server: &Server) -> Client {
    let scopes = [WRITE, RBAC_WRITE, SERVICE_WRITE, APPS_READ].join(" ");
    server.client_with_token(Some(token_for(&claims(json!({
        "scp": scopes,
        "upn": "ada@contoso.test",
        "appid": "11111111-2222-4333-8444-555555555555",
        "app_displayname": "Backup tool",
    })))))
}

async fn events(client: &Client, query: &str) -> Vec<Value> {
    client.list("beta", &format!("{AUDIT}{query}")).await
}

#[tokio::test]
async fn each_write_records_one_event_with_its_caller_and_changes() {
    let server = Server::start().await;
    let client = named_user(&server);
    let id = client.create_policy("v1.0", "Audited").await;
    client
        .patch(
            "v1.0",
            &policy_path(&id),
            &json!({"displayName": "Renamed", "description": "why"}),
        )
        .await
        .expect(200);
    client
        .post(
            "v1.0",
            &format!("{}/assign", policy_path(&id)),
            &json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]}),
        )
        .await
        .expect(200);
    client.delete("v1.0", &policy_path(&id)).await.expect(204);

    let all = events(&client, "?$orderby=activityDateTime").await;
    let kinds: Vec<(&str, &str)> = all
        .iter()
        .map(|e| {
            (
                e["activityType"].as_str().unwrap(),
                e["activityOperationType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("Create DeviceCompliancePolicy", "Create"),
            ("Patch DeviceCompliancePolicy", "Patch"),
            ("Assign DeviceCompliancePolicy", "Action"),
            ("Delete DeviceCompliancePolicy", "Delete"),
        ]
    );
    for event in &all {
        assert_eq!(event["category"], "Compliance");
        assert_eq!(event["activityResult"], "Success");
        assert_eq!(event["actor"]["userPrincipalName"], "ada@contoso.test");
        assert_eq!(
            event["actor"]["userId"],
            "33333333-3333-4333-8333-333333333333"
        );
        assert_eq!(event["actor"]["applicationDisplayName"], "Backup tool");
        assert_eq!(
            event["actor"]["applicationId"],
            "11111111-2222-4333-8444-555555555555"
        );
        assert_eq!(event["resources"][0]["resourceId"], id.as_str());
        assert_eq!(event["resources"][0]["type"], "DeviceCompliancePolicy");
    }
    let modified = |event: &Value, name: &str| {
        event["resources"][0]["modifiedProperties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["displayName"] == name)
            .cloned()
    };
    let created = modified(&all[0], "DisplayName").expect("DisplayName on create");
    assert_eq!(
        (created["oldValue"].clone(), created["newValue"].clone()),
        (Value::Null, json!("Audited"))
    );
    let renamed = modified(&all[1], "DisplayName").expect("DisplayName on patch");
    assert_eq!(
        (renamed["oldValue"].clone(), renamed["newValue"].clone()),
        (json!("Audited"), json!("Renamed"))
    );
    assert!(
        modified(&all[1], "PasswordRequired").is_none(),
        "unchanged properties are not listed"
    );
    assert!(modified(&all[2], "Assignments").is_some());
    assert_eq!(all[1]["resources"][0]["displayName"], "Renamed");

    // On v1.0 the actor's and the resource's type have v1.0's names.
    let on_v1 = client.list("v1.0", AUDIT).await;
    assert_eq!(on_v1[0]["actor"]["auditActorType"], "ItPro");
    assert!(on_v1[0]["actor"].get("type").is_none());
    assert_eq!(
        on_v1[0]["resources"][0]["auditResourceType"],
        "DeviceCompliancePolicy"
    );
}

#[tokio::test]
async fn a_refused_write_records_nothing_and_reads_record_nothing() {
    let server = Server::start().await;
    let client = admin(&server);
    let mut body = windows10_policy("refused");
    body["roleScopeTagIds"] = json!(["missing"]);
    client
        .post("beta", POLICIES, &body)
        .await
        .expect_error(400, "BadRequest");
    client.list("beta", POLICIES).await;
    client.get("beta", "deviceManagement").await.expect(200);
    client
        .post(
            "beta",
            &format!("{POLICIES}/hasPayloadLinks"),
            &json!({"payloadIds": []}),
        )
        .await
        .expect(200);
    assert_eq!(events(&client, "").await, Vec::<Value>::new());
    // Writes outside deviceManagement are not Intune's audit events.
    client
        .post_raw(
            "beta",
            "managedDeviceCompliances",
            r#"{"managedDeviceName": "d"}"#,
        )
        .await
        .expect(201);
    assert_eq!(events(&client, "").await.len(), 0);
}

#[tokio::test]
async fn events_filter_by_time_and_category_and_are_read_only() {
    let server = Server::start().await;
    let client = admin(&server);
    client.create_policy("beta", "one").await;
    let tag = client.create_scope_tag("Role tag").await;
    client
        .patch(
            "beta",
            "deviceManagement",
            &json!({"settings": {"secureByDefault": true}}),
        )
        .await
        .expect(200);
    let all = events(&client, "").await;
    assert_eq!(all.len(), 3);
    let cases = [
        ("category eq 'Role'", vec!["Create RoleScopeTag"]),
        ("category eq 'Other'", vec!["Patch DeviceManagement"]),
        (
            "category eq 'Compliance' and activityDateTime ge 2000-01-01T00:00:00Z",
            vec!["Create DeviceCompliancePolicy"],
        ),
        ("activityDateTime lt 2000-01-01T00:00:00Z", vec![]),
    ];
    for (filter, wanted) in cases {
        let found = events(&client, &format!("?$filter={}", filter.replace(' ', "%20"))).await;
        let types: Vec<&str> = found
            .iter()
            .map(|e| e["activityType"].as_str().unwrap())
            .collect();
        assert_eq!(types, wanted, "{filter}");
    }
    let role_event = &events(&client, "?$filter=category%20eq%20'Role'").await[0];
    assert_eq!(role_event["resources"][0]["resourceId"], tag.as_str());
    let id = all[0]["id"].as_str().unwrap();
    client
        .get("beta", &format!("{AUDIT}/{id}"))
        .await
        .expect(200);
    // Even a caller allowed to write there cannot: the log is read-only.
    let writer = holding(&server, &["DeviceManagementApps.ReadWrite.All"]);
    for resp in [
        writer
            .post("beta", AUDIT, &json!({"activity": "forged"}))
            .await,
        writer
            .patch(
                "beta",
                &format!("{AUDIT}/{id}"),
                &json!({"activity": "forged"}),
            )
            .await,
        writer.delete("beta", &format!("{AUDIT}/{id}")).await,
    ] {
        resp.expect_error(400, ROUTE_ERROR);
    }
    assert_eq!(events(&client, "").await.len(), 3);
    // The audit log's own permission.
    server
        .client()
        .get("beta", AUDIT)
        .await
        .expect_error(403, "Forbidden");
}

#[tokio::test]
async fn the_functions_list_the_models_categories_and_activity_types() {
    let server = Server::start().await;
    let client = admin(&server);
    for version in VERSIONS {
        let categories = client
            .get(version, &format!("{AUDIT}/getAuditCategories()"))
            .await
            .expect(200)
            .expect_context(version, "Collection(Edm.String)")
            .json();
        let categories: Vec<&str> = categories["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(categories, ["Compliance", "Other", "Role"]);
    }
    let role = client
        .get(
            "beta",
            &format!("{AUDIT}/getAuditActivityTypes(category='Role')"),
        )
        .await
        .expect(200)
        .json();
    let role: Vec<&str> = role["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for wanted in [
        "Create RoleScopeTag",
        "Delete RoleScopeTag",
        "Assign RoleScopeTag",
    ] {
        assert!(role.contains(&wanted), "{wanted} in {role:?}");
    }
    let compliance = client
        .get(
            "beta",
            &format!("{AUDIT}/getAuditActivityTypes(category='Compliance')"),
        )
        .await
        .expect(200)
        .json();
    let compliance = compliance["value"].to_string();
    for wanted in [
        "Create DeviceCompliancePolicy",
        "ScheduleActionsForRules DeviceCompliancePolicy",
        "SendTestMessage NotificationMessageTemplate",
    ] {
        assert!(compliance.contains(wanted), "{wanted} in {compliance}");
    }
    assert!(
        !compliance.contains("ValidateComplianceScript"),
        "it writes nothing"
    );
    assert_eq!(
        client
            .get(
                "beta",
                &format!("{AUDIT}/getAuditActivityTypes(category='Nope')")
            )
            .await
            .expect(200)
            .json()["value"],
        json!([])
    );
    client
        .get("beta", &format!("{AUDIT}/getAuditActivityTypes()"))
        .await
        .expect_error(400, "BadRequest");
    // A string parameter is written as a string literal: a number or a bare word is refused.
    for bare in ["1", "Role", "%C2%84"] {
        let refused = client
            .get(
                "beta",
                &format!("{AUDIT}/getAuditActivityTypes(category={bare})"),
            )
            .await
            .expect_error(400, "BadRequest");
        assert!(
            refused
                .error_message()
                .contains("string literal in single quotes"),
            "{bare}: {}",
            refused.text
        );
    }
}

#[tokio::test]
async fn an_apps_name_comes_from_the_registry_when_its_token_has_none() {
    use complyd::identity::registry::{self, Application};
    let server = Server::start().await;
    let store = crate::identity::open_store(&server).await;
    let client_id = "44444444-5555-4666-8777-888888888888";
    registry::add_app(
        &store,
        Application {
            client_id: client_id.into(),
            tenant: TENANT.into(),
            name: "Registered backup app".into(),
            object_id: "55555555-6666-4777-8888-999999999999".into(),
            secrets: Vec::new(),
            certificates: Vec::new(),
            roles: vec![WRITE.into()],
            redirect_uris: Vec::new(),
            created: 0,
        },
    )
    .await
    .unwrap();
    let app = server.client_with_token(Some(token_for(&claims(json!({
        "idtyp": "app", "scp": null, "roles": [WRITE, APPS_READ], "appid": client_id,
        "oid": "55555555-6666-4777-8888-999999999999",
    })))));
    app.create_policy("beta", "by an app").await;
    let events = app.list("beta", AUDIT).await;
    assert_eq!(events.len(), 1);
    let actor = &events[0]["actor"];
    assert_eq!(actor["applicationDisplayName"], "Registered backup app");
    assert_eq!(actor["applicationId"], client_id);
    assert_eq!(actor["type"], "Application");
    assert_eq!(
        actor["userPrincipalName"],
        Value::Null,
        "an app has no user"
    );
    assert_eq!(actor["servicePrincipalName"], "Registered backup app");
}
