//! `--fidelity intune`: what the live service answers where tools depend on it (IntuneCD checks
//! every status exactly; IntuneBackupAndRestore posts policies back with their `version`).

use super::*;
use serde_json::json;

#[tokio::test]
async fn creates_and_patches_answer_as_the_live_service_does() {
    let server = Server::intune().await;
    let client = admin(&server);
    // Scope tags and notification templates (and their messages): POST answers 200 with the
    // entity, PATCH 200 (not the 204 of policies).
    let tag = client
        .post("beta", SCOPE_TAGS, &json!({"displayName": "Live"}))
        .await
        .expect(200);
    assert_eq!(tag.json()["displayName"], "Live");
    let tag_path = format!("{SCOPE_TAGS}/{}", tag.id());
    let patched = client
        .patch("beta", &tag_path, &json!({"description": "d"}))
        .await
        .expect(200);
    assert_eq!(patched.json()["description"], "d");
    let template = client
        .post("beta", TEMPLATES, &json!({"displayName": "Live"}))
        .await
        .expect(200)
        .id();
    let messages = format!("{TEMPLATES}/{template}/localizedNotificationMessages");
    let message = client
        .post(
            "beta",
            &messages,
            &json!({"locale": "en-us", "subject": "s", "messageTemplate": "m", "isDefault": true}),
        )
        .await
        .expect(200)
        .id();
    client
        .patch(
            "beta",
            &format!("{messages}/{message}"),
            &json!({"subject": "t"}),
        )
        .await
        .expect(200);
    client
        .patch(
            "beta",
            &format!("{TEMPLATES}/{template}"),
            &json!({"displayName": "L"}),
        )
        .await
        .expect(200);
    let script = client
        .post("beta", SCRIPTS, &json!({"displayName": "Live"}))
        .await
        .expect(201)
        .id();
    client
        .patch(
            "beta",
            &format!("{SCRIPTS}/{script}"),
            &json!({"publisher": "p"}),
        )
        .await
        .expect(200);
    // Policies keep the live 204 on PATCH; scheduleActionsForRules answers 200 without a body.
    let policy = client.create_policy("beta", "live").await;
    client
        .patch("beta", &policy_path(&policy), &json!({"description": "d"}))
        .await
        .expect(204);
    let scheduled = client
        .post(
            "beta",
            &format!("{}/scheduleActionsForRules", policy_path(&policy)),
            &json!({"deviceComplianceScheduledActionForRules": [{"ruleName": "r",
                "scheduledActionConfigurations": [{"actionType": "block", "gracePeriodHours": 0}]}]}),
        )
        .await
        .expect(200);
    assert!(scheduled.text.is_empty());
}

#[tokio::test]
async fn a_policy_posted_back_with_its_version_is_taken_live_and_refused_documented() {
    for intune in [true, false] {
        let server = if intune {
            Server::intune().await
        } else {
            Server::start().await
        };
        let client = admin(&server);
        let mut body = windows10_policy("restored");
        body["version"] = json!(7);
        let resp = client.post("beta", POLICIES, &body).await;
        if intune {
            let created = resp.expect(201).json();
            assert_eq!(
                created["version"], 1,
                "the server's version, not the client's"
            );
        } else {
            resp.expect_error(400, "ModelValidationFailure");
        }
        // Other server-managed properties stay refused in both modes.
        let mut stamped = windows10_policy("stamped");
        stamped["createdDateTime"] = json!("2020-01-01T00:00:00Z");
        client
            .post("beta", POLICIES, &stamped)
            .await
            .expect_error(400, "ModelValidationFailure");
    }
}
