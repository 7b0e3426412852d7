//! Compliance management partners, in both versions, with the service-configuration permissions.

use super::*;
use serde_json::json;

#[tokio::test]
async fn partners_are_served_in_both_versions() {
    let server = Server::start().await;
    let client = admin(&server);
    let body = json!({
        "displayName": "Partner", "partnerState": "enabled", "macOsOnboarded": true,
        "lastHeartbeatDateTime": "2024-05-01T10:00:00Z",
        "macOsEnrollmentAssignments": [{"target": {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}}],
    });
    let id = client.post("v1.0", PARTNERS, &body).await.expect(201).id();
    let on_v1 = client
        .get("v1.0", &format!("{PARTNERS}/{id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(on_v1["partnerState"], "enabled");
    assert!(on_v1.get("windowsOnboarded").is_none(), "{on_v1}");
    let on_beta = client
        .get("beta", &format!("{PARTNERS}/{id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(on_beta["windowsOnboarded"], false);
    client
        .patch(
            "beta",
            &format!("{PARTNERS}/{id}"),
            &json!({"windowsOnboarded": true}),
        )
        .await
        .expect(200);
    client
        .patch(
            "v1.0",
            &format!("{PARTNERS}/{id}"),
            &json!({"windowsOnboarded": true}),
        )
        .await
        .expect_error(400, "ModelValidationFailure");
    client
        .post("v1.0", PARTNERS, &json!({"partnerState": "sleepy"}))
        .await
        .expect_error(400, "ModelValidationFailure");
    // Reads take the service-configuration permissions; writes also the compliance one.
    holding(&server, &[SERVICE_READ])
        .get("v1.0", PARTNERS)
        .await
        .expect(200);
    holding(&server, &[READ])
        .get("v1.0", PARTNERS)
        .await
        .expect_error(403, "Forbidden");
    server
        .client()
        .post("v1.0", PARTNERS, &json!({"displayName": "by config"}))
        .await
        .expect(201);
    client
        .delete("v1.0", &format!("{PARTNERS}/{id}"))
        .await
        .expect(204);
    assert_eq!(client.list("beta", PARTNERS).await.len(), 1);
}
