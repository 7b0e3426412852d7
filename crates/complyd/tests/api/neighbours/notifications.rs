//! Notification message templates and their localized messages: CRUD in both versions, the
//! flags enum, the one-default rule, unique locales, `sendTestMessage` into the outbox, and the
//! template a `notification` action names.

use super::*;
use serde_json::{json, Value};

fn message(locale: &str, default: bool) -> Value {
    json!({"locale": locale, "subject": format!("Subject {locale}"),
           "messageTemplate": format!("Body {locale}"), "isDefault": default})
}

/// Creates a template (201, or the live service's 200) and answers its id.
async fn template(client: &Client, version: &str, name: &str) -> String {
    let created = client
        .post(
            version,
            TEMPLATES,
            &json!({"displayName": name, "brandingOptions": "includeCompanyLogo,includeCompanyName"}),
        )
        .await;
    assert!([200, 201].contains(&created.status), "{}", created.text);
    created.id()
}

/// `(locale, isDefault)` of the template's messages, sorted by locale.
async fn defaults(client: &Client, messages: &str) -> Vec<(String, bool)> {
    let mut found: Vec<(String, bool)> = client
        .list("beta", messages)
        .await
        .iter()
        .map(|m| {
            (
                m["locale"].as_str().unwrap().to_string(),
                m["isDefault"].as_bool().unwrap(),
            )
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn templates_are_served_in_both_versions_with_flags() {
    let server = Server::start().await;
    let client = admin(&server);
    for version in VERSIONS {
        let id = template(&client, version, "Heads up").await;
        let read = client
            .get(version, &format!("{TEMPLATES}/{id}"))
            .await
            .expect(200)
            .json();
        assert_eq!(
            read["brandingOptions"],
            "includeCompanyLogo,includeCompanyName"
        );
        assert!(read["lastModifiedDateTime"].is_string());
        client
            .patch(
                version,
                &format!("{TEMPLATES}/{id}"),
                &json!({"brandingOptions": "none"}),
            )
            .await
            .expect(200);
    }
    for bad in [
        json!({"displayName": "x", "brandingOptions": "includeCompanyLogo,shiny"}),
        json!({"displayName": "x", "brandingOptions": 3}),
        json!({"brandingOptions": "none"}),
        json!({"displayName": "x", "lastModifiedDateTime": "2024-01-01T00:00:00Z"}),
    ] {
        client
            .post("v1.0", TEMPLATES, &bad)
            .await
            .expect_error(400, "ModelValidationFailure");
    }
    // The service-configuration permissions, as the docs give them.
    holding(&server, &[SERVICE_READ])
        .get("v1.0", TEMPLATES)
        .await
        .expect(200);
    holding(&server, &[SERVICE_READ])
        .post("v1.0", TEMPLATES, &json!({"displayName": "no"}))
        .await
        .expect_error(403, "Forbidden");
    server
        .client()
        .get("v1.0", TEMPLATES)
        .await
        .expect_error(403, "Forbidden");
}

#[tokio::test]
async fn exactly_one_message_per_template_is_the_default() {
    let server = Server::start().await;
    let client = admin(&server);
    let id = template(&client, "v1.0", "Locales").await;
    let messages = format!("{TEMPLATES}/{id}/localizedNotificationMessages");
    // The first message is the default even when it says otherwise.
    let first = client
        .post("v1.0", &messages, &message("en-us", false))
        .await
        .expect(201)
        .json();
    assert_eq!(first["isDefault"], true);
    client
        .post("v1.0", &messages, &message("de-de", false))
        .await
        .expect(201);
    assert_eq!(
        defaults(&client, &messages).await,
        [("de-de".into(), false), ("en-us".into(), true)]
    );
    // Setting it on another moves it.
    let french = client
        .post("v1.0", &messages, &message("fr-fr", true))
        .await
        .expect(201)
        .id();
    assert_eq!(
        defaults(&client, &messages).await,
        [
            ("de-de".into(), false),
            ("en-us".into(), false),
            ("fr-fr".into(), true)
        ]
    );
    let german = client
        .list("v1.0", &messages)
        .await
        .into_iter()
        .find(|m| m["locale"] == "de-de")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    client
        .patch(
            "v1.0",
            &format!("{messages}/{german}"),
            &json!({"isDefault": true}),
        )
        .await
        .expect(200);
    assert_eq!(
        defaults(&client, &messages).await,
        [
            ("de-de".into(), true),
            ("en-us".into(), false),
            ("fr-fr".into(), false)
        ]
    );
    // It is not cleared directly, and its holder is not deleted while others remain.
    let unset = client
        .patch(
            "v1.0",
            &format!("{messages}/{german}"),
            &json!({"isDefault": false}),
        )
        .await
        .expect_error(400, "BadRequest");
    assert!(unset.error_message().contains("can only be set"));
    client
        .delete("v1.0", &format!("{messages}/{german}"))
        .await
        .expect_error(400, "BadRequest");
    client
        .delete("v1.0", &format!("{messages}/{french}"))
        .await
        .expect(204);
    // Locales are unique per template (case-insensitively).
    client
        .post("v1.0", &messages, &message("EN-US", false))
        .await
        .expect_error(400, "BadRequest");
    client
        .post("v1.0", &messages, &json!({"locale": "it-it"}))
        .await
        .expect_error(400, "ModelValidationFailure");
    assert_eq!(client.list("v1.0", &messages).await.len(), 2);
}

#[tokio::test]
async fn deep_inserted_messages_meet_the_same_rules() {
    let server = Server::start().await;
    let client = admin(&server);
    let body = json!({"displayName": "deep", "localizedNotificationMessages": [
        message("en-us", false), message("de-de", false)]});
    let id = client.post("beta", TEMPLATES, &body).await.expect(201).id();
    assert_eq!(
        defaults(
            &client,
            &format!("{TEMPLATES}/{id}/localizedNotificationMessages")
        )
        .await,
        [("de-de".into(), false), ("en-us".into(), true)]
    );
    for bad in [
        json!({"displayName": "two", "localizedNotificationMessages": [message("en-us", true), message("de-de", true)]}),
        json!({"displayName": "same", "localizedNotificationMessages": [message("en-us", false), message("en-US", false)]}),
    ] {
        client
            .post("beta", TEMPLATES, &bad)
            .await
            .expect_error(400, "BadRequest");
    }
    assert_eq!(client.list("beta", TEMPLATES).await.len(), 1);
}

#[tokio::test]
async fn send_test_message_records_the_default_message_in_the_outbox() {
    let server = Server::start().await;
    let client = admin(&server);
    let id = template(&client, "v1.0", "Outbound").await;
    let messages = format!("{TEMPLATES}/{id}/localizedNotificationMessages");
    let outbox = format!("{}/complyd/v1/outbox", server.base);
    client
        .post(
            "v1.0",
            &format!("{TEMPLATES}/{id}/sendTestMessage"),
            &json!({}),
        )
        .await
        .expect_error(400, "BadRequest");
    client
        .post("v1.0", &messages, &message("en-us", false))
        .await
        .expect(201);
    client
        .post("v1.0", &messages, &message("nl-nl", true))
        .await
        .expect(201);
    let sent = client
        .send(
            reqwest::Method::POST,
            &client.url("beta", &format!("{TEMPLATES}/{id}/sendTestMessage")),
            None,
        )
        .await
        .expect(204);
    assert!(sent.text.is_empty());
    let listed = client.get_url(&outbox).await.expect(200).json();
    let all = listed["value"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{listed}");
    assert_eq!(all[0]["kind"], "testMessage");
    assert_eq!(all[0]["notificationMessageTemplateId"], id.as_str());
    assert_eq!(all[0]["locale"], "nl-nl");
    assert_eq!(all[0]["subject"], "Subject nl-nl");
    assert_eq!(all[0]["recipients"].as_array().unwrap().len(), 1);
    // The outbox is the caller's tenant's, behind a token and a permission, within its limits.
    let other = server.client_with(TokenRequest::delegated(OTHER_TENANT, &[READ]));
    assert_eq!(
        other.get_url(&outbox).await.expect(200).json()["value"],
        json!([])
    );
    server
        .client_with_token(None)
        .get_url(&outbox)
        .await
        .expect_error(401, "InvalidAuthenticationToken");
    holding(&server, &[APPS_READ])
        .get_url(&outbox)
        .await
        .expect_error(403, "Forbidden");
    for bad in ["?$top=1001", "?$top=x", "?$orderby=id"] {
        client
            .get_url(&format!("{outbox}{bad}"))
            .await
            .expect_error(400, "BadRequest");
    }
    assert_eq!(
        client
            .get_url(&format!("{outbox}?$skip=1"))
            .await
            .expect(200)
            .json()["value"],
        json!([])
    );
    client
        .post(
            "v1.0",
            &format!("{TEMPLATES}/nosuch/sendTestMessage"),
            &json!({}),
        )
        .await
        .expect_error(404, "ResourceNotFound");
}

#[tokio::test]
async fn a_notification_action_names_a_template_or_the_zero_guid_in_intune_fidelity() {
    let server = Server::intune().await;
    let client = admin(&server);
    let id = template(&client, "beta", "For actions").await;
    let policy = |template: Value| {
        let mut body = windows10_policy("notify");
        body["scheduledActionsForRule"][0]["scheduledActionConfigurations"] = json!([
            {"actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": ""},
            {"actionType": "notification", "gracePeriodHours": 24, "notificationTemplateId": template}
        ]);
        body
    };
    client
        .post("beta", POLICIES, &policy(json!(id)))
        .await
        .expect(201);
    client
        .post(
            "beta",
            POLICIES,
            &policy(json!("00000000-0000-0000-0000-000000000000")),
        )
        .await
        .expect(201);
    for bad in [json!("not-a-template"), json!(""), json!(null)] {
        let refused = client
            .post("beta", POLICIES, &policy(bad.clone()))
            .await
            .expect_error(400, "BadRequest");
        assert!(
            refused
                .error_message()
                .contains("scheduledActionsForRule[0].scheduledActionConfigurations[1].notificationTemplateId"),
            "{bad}: {}",
            refused.text
        );
    }
    let created = client.ids("beta", POLICIES).await[0].clone();
    let body = json!({"deviceComplianceScheduledActionForRules": [{"ruleName": "r",
        "scheduledActionConfigurations": [
            {"actionType": "block", "gracePeriodHours": 0},
            {"actionType": "notification", "gracePeriodHours": 1, "notificationTemplateId": "gone"}]}]});
    client
        .post(
            "beta",
            &format!("{POLICIES}/{created}/scheduleActionsForRules"),
            &body,
        )
        .await
        .expect_error(400, "BadRequest");
    assert_eq!(client.list("beta", POLICIES).await.len(), 2);
}
