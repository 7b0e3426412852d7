//! The deviceManagement singleton itself: its settings' defaults, PATCH (member by member), their
//! range, and the report summarization stamp.

use super::*;
use serde_json::json;

#[tokio::test]
async fn settings_show_their_defaults_until_patched() {
    let server = Server::start().await;
    let client = admin(&server);
    for version in VERSIONS {
        let read = client
            .get(version, "deviceManagement")
            .await
            .expect(200)
            .expect_context(version, "deviceManagement")
            .json();
        assert_eq!(read["id"], TENANT);
        assert_eq!(read["settings"]["deviceComplianceCheckinThresholdDays"], 30);
        assert_eq!(read["settings"]["isScheduledActionEnabled"], true);
        assert_eq!(read["settings"]["secureByDefault"], false);
        assert_eq!(
            read.get("deviceComplianceReportSummarizationDateTime")
                .is_some(),
            version == "beta"
        );
    }
    let patched = client
        .patch(
            "v1.0",
            "deviceManagement",
            &json!({"settings": {"secureByDefault": true}}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(patched["settings"]["secureByDefault"], true);
    client
        .patch(
            "beta",
            "deviceManagement",
            &json!({"settings": {"deviceComplianceCheckinThresholdDays": 7}}),
        )
        .await
        .expect(200);
    for version in VERSIONS {
        let read = client
            .get(version, "deviceManagement")
            .await
            .expect(200)
            .json();
        let settings = &read["settings"];
        assert_eq!(
            (
                &settings["deviceComplianceCheckinThresholdDays"],
                &settings["isScheduledActionEnabled"],
                &settings["secureByDefault"],
            ),
            (&json!(7), &json!(true), &json!(true)),
            "a PATCH of one member keeps the others: {settings}"
        );
        // Beta shows its further settings (with their defaults); v1.0 its three.
        let shown = settings.as_object().unwrap().len();
        assert_eq!(shown, if version == "beta" { 14 } else { 4 }, "{settings}");
    }
    let selected = client
        .get("beta", "deviceManagement?$select=settings")
        .await
        .expect(200)
        .json();
    assert!(selected
        .get("deviceComplianceReportSummarizationDateTime")
        .is_none());
    // Another tenant keeps its own defaults.
    let other = server.client_with(TokenRequest::delegated(OTHER_TENANT, &[READ]));
    assert_eq!(
        other
            .get("v1.0", "deviceManagement")
            .await
            .expect(200)
            .json()["settings"]["secureByDefault"],
        false
    );
}

#[tokio::test]
async fn bad_settings_are_refused_and_change_nothing() {
    let server = Server::start().await;
    let client = admin(&server);
    for bad in [
        json!({"settings": {"deviceComplianceCheckinThresholdDays": 0}}),
        json!({"settings": {"deviceComplianceCheckinThresholdDays": 121}}),
        json!({"settings": {"secureByDefault": "yes"}}),
        json!({"settings": {"unknownSetting": true}}),
        json!({"deviceComplianceReportSummarizationDateTime": "2024-01-01T00:00:00Z"}),
        json!({"id": "elsewhere", "nope": 1}),
    ] {
        let resp = client.patch("beta", "deviceManagement", &bad).await;
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text);
    }
    holding(&server, &[READ])
        .patch(
            "beta",
            "deviceManagement",
            &json!({"settings": {"secureByDefault": true}}),
        )
        .await
        .expect_error(403, "Forbidden");
    let read = client
        .get("beta", "deviceManagement")
        .await
        .expect(200)
        .json();
    assert_eq!(read["settings"]["deviceComplianceCheckinThresholdDays"], 30);
    assert_eq!(read["settings"]["secureByDefault"], false);
    client
        .post("beta", "deviceManagement", &json!({}))
        .await
        .expect_error(400, ROUTE_ERROR);
}

#[tokio::test]
async fn patch_answers_204_in_intune_fidelity() {
    let server = Server::intune().await;
    let client = admin(&server);
    let resp = client
        .patch(
            "v1.0",
            "deviceManagement",
            &json!({"settings": {"isScheduledActionEnabled": false}}),
        )
        .await
        .expect(204);
    assert!(resp.text.is_empty());
    assert_eq!(
        client
            .get("v1.0", "deviceManagement")
            .await
            .expect(200)
            .json()["settings"]["isScheduledActionEnabled"],
        false
    );
}

#[tokio::test]
async fn refreshing_the_report_summarization_stamps_the_singleton() {
    let server = Server::start().await;
    let client = admin(&server);
    let before = client
        .get("beta", "deviceManagement")
        .await
        .expect(200)
        .json();
    assert_eq!(
        before["deviceComplianceReportSummarizationDateTime"],
        "0001-01-01T00:00:00Z"
    );
    client
        .post(
            "beta",
            &format!("{POLICIES}/refreshDeviceComplianceReportSummarization"),
            &json!({}),
        )
        .await
        .expect(204);
    let after = client
        .get("beta", "deviceManagement")
        .await
        .expect(200)
        .json();
    let stamped = after["deviceComplianceReportSummarizationDateTime"]
        .as_str()
        .unwrap();
    assert!(stamped.starts_with("20"), "{stamped}");
    assert_eq!(
        after["settings"]["deviceComplianceCheckinThresholdDays"],
        30
    );
    // The docs let a reader refresh it.
    holding(&server, &[READ])
        .post(
            "beta",
            &format!("{POLICIES}/refreshDeviceComplianceReportSummarization"),
            &json!({}),
        )
        .await
        .expect(204);
    holding(&server, &[SERVICE_READ])
        .post(
            "beta",
            &format!("{POLICIES}/refreshDeviceComplianceReportSummarization"),
            &json!({}),
        )
        .await
        .expect_error(403, "Forbidden");
}

#[tokio::test]
async fn a_property_is_read_on_its_own_path() {
    // IntuneCD reads the settings at /beta/deviceManagement/settings.
    let server = Server::start().await;
    let client = admin(&server);
    let settings = client
        .get("beta", "deviceManagement/settings")
        .await
        .expect(200)
        .expect_context("beta", "deviceManagement/settings")
        .json();
    assert_eq!(settings["deviceComplianceCheckinThresholdDays"], 30);
    let id = client.create_policy("v1.0", "by property").await;
    let name = client
        .get("v1.0", &format!("{}/displayName", policy_path(&id)))
        .await
        .expect(200)
        .json();
    assert_eq!(name["value"], "by property");
    client
        .get("v1.0", &format!("{}/displayName", policy_path("nosuch")))
        .await
        .expect_error(404, "ResourceNotFound");
    client
        .get("v1.0", "deviceManagement/settings/secureByDefault")
        .await
        .expect_error(400, "BadRequest");
    client
        .patch(
            "v1.0",
            "deviceManagement/settings",
            &json!({"secureByDefault": true}),
        )
        .await
        .expect_error(400, ROUTE_ERROR);
}
