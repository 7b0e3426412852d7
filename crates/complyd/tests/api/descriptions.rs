//! The service's descriptions: `$metadata` per version (public, like Graph's) and `/openapi.json`.

use crate::support::*;
use serde_json::Value;

async fn get_public(server: &Server, path: &str) -> (u16, String, String) {
    let resp = reqwest::get(format!("{}{path}", server.base))
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, resp.text().await.expect("body"))
}

#[tokio::test]
async fn metadata_is_served_per_version_without_a_token() {
    let server = Server::start().await;
    for version in VERSIONS {
        let (status, content_type, body) =
            get_public(&server, &format!("/{version}/$metadata")).await;
        assert_eq!(status, 200, "{version}: {body}");
        assert!(
            content_type.starts_with("application/xml"),
            "{content_type}"
        );
        assert!(body.starts_with("<?xml") && body.contains("<edmx:Edmx Version=\"4.0\""));
        for expected in [
            "<EntityType Name=\"windows10CompliancePolicy\" BaseType=\"microsoft.graph.deviceCompliancePolicy\">",
            "<NavigationProperty Name=\"assignments\" Type=\"Collection(microsoft.graph.deviceCompliancePolicyAssignment)\" ContainsTarget=\"true\"/>",
            "<Action Name=\"assign\" IsBound=\"true\">",
            "<Singleton Name=\"deviceManagement\" Type=\"microsoft.graph.deviceManagement\"/>",
        ] {
            assert!(body.contains(expected), "{version}: no {expected}");
        }
        let beta = version == "beta";
        assert_eq!(
            body.contains("androidDeviceOwnerCompliancePolicy"),
            beta,
            "{version}"
        );
        assert_eq!(
            body.contains("<Member Name=\"remoteLock\""),
            beta,
            "{version}"
        );
        assert_eq!(
            body.contains("<EntitySet Name=\"managedDeviceCompliances\""),
            beta,
            "{version}"
        );
        assert_eq!(body.contains("Name=\"tpmRequired\""), beta, "{version}");
    }
    // The same document with a token, and the same answer as the model's generator.
    let client = server.client();
    let with_token = client.get("v1.0", "$metadata").await.expect(200);
    let model = odata::Model::intune().expect("model");
    assert_eq!(with_token.text, model.csdl(odata::Version::V1));
}

#[tokio::test]
async fn metadata_takes_get_only_and_needs_a_known_version() {
    let server = Server::start().await;
    let client = server.client();
    client
        .post_raw("v1.0", "$metadata", "{}")
        .await
        .expect_error(400, ROUTE_ERROR);
    let (status, _, _) = get_public(&server, "/v2.0/$metadata").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn openapi_describes_every_collection_action_and_service_path() {
    let server = Server::start().await;
    let (status, content_type, body) = get_public(&server, "/openapi.json").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let doc: Value = serde_json::from_str(&body).expect("valid JSON");
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc["servers"][0]["url"], server.base.as_str());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let paths = doc["paths"].as_object().expect("paths");
    let policy = "/deviceManagement/deviceCompliancePolicies/{deviceCompliancePolicy-id}";
    let rule =
        format!("{policy}/scheduledActionsForRule/{{deviceComplianceScheduledActionForRule-id}}");
    let summary = "/deviceManagement/deviceCompliancePolicySettingStateSummaries/{deviceCompliancePolicySettingStateSummary-id}";
    // Rows 1-22: every collection, with its entity path, `$count` and methods.
    let collections = [
        "/deviceManagement/deviceCompliancePolicies".to_string(),
        format!("{policy}/assignments"),
        format!("{policy}/scheduledActionsForRule"),
        format!("{rule}/scheduledActionConfigurations"),
        format!("{policy}/deviceStatuses"),
        format!("{policy}/userStatuses"),
        format!("{policy}/deviceSettingStateSummaries"),
        "/deviceManagement/deviceCompliancePolicySettingStateSummaries".to_string(),
        format!("{summary}/deviceComplianceSettingStates"),
    ];
    for version in VERSIONS {
        for collection in &collections {
            let path = format!("/{version}{collection}");
            let item = &paths[&path];
            assert!(
                item["get"].is_object() && item["post"].is_object(),
                "{path}"
            );
            assert!(
                paths.contains_key(&format!("{path}/$count")),
                "{path}/$count"
            );
            let entity = paths
                .keys()
                .find(|k| {
                    k.starts_with(&format!("{path}/{{"))
                        && k.matches('/').count() == path.matches('/').count() + 1
                })
                .unwrap_or_else(|| panic!("no entity path under {path}"));
            for method in ["get", "patch", "delete"] {
                assert!(paths[entity][method].is_object(), "{method} {entity}");
            }
        }
        for single in [
            format!("{policy}/deviceStatusOverview"),
            format!("{policy}/userStatusOverview"),
            "/deviceManagement/deviceCompliancePolicyDeviceStateSummary".to_string(),
        ] {
            let path = format!("/{version}{single}");
            assert!(
                paths[&path]["get"].is_object() && paths[&path]["patch"].is_object(),
                "{path}"
            );
        }
        for action in ["assign", "scheduleActionsForRules"] {
            let path = format!("/{version}{policy}/{action}");
            assert!(paths[&path]["post"]["requestBody"].is_object(), "{path}");
        }
        for service in ["$batch", "$metadata"] {
            assert!(
                paths.contains_key(&format!("/{version}/{service}")),
                "{version}/{service}"
            );
        }
    }
    assert!(paths.contains_key("/beta/managedDeviceCompliances"));
    assert!(!paths.contains_key("/v1.0/managedDeviceCompliances"));
    // Derived policy types are told apart by @odata.type; errors have Graph's body.
    let create =
        &doc["components"]["schemas"]["v1.0.microsoft.graph.deviceCompliancePolicy.create.any"];
    assert_eq!(create["discriminator"]["propertyName"], "@odata.type");
    assert!(create["oneOf"].as_array().is_some_and(|b| b.len() >= 8));
    // Written collections are bounded: a documented cap, else 1,000 (reads show what is stored).
    let schemas = &doc["components"]["schemas"];
    let written = &schemas["beta.microsoft.graph.windows10CompliancePolicy.create"]["properties"];
    assert_eq!(written["roleScopeTagIds"]["maxItems"], 1000);
    assert_eq!(written["scheduledActionsForRule"]["maxItems"], 1000);
    assert_eq!(
        written["validOperatingSystemBuildRanges"]["maxItems"],
        10000
    );
    let updated = &schemas["beta.microsoft.graph.windows10CompliancePolicy.update"]["properties"];
    assert_eq!(updated["roleScopeTagIds"]["maxItems"], 1000);
    let read = &schemas["beta.microsoft.graph.windows10CompliancePolicy"]["properties"];
    assert!(read["roleScopeTagIds"]["maxItems"].is_null());
    assert_eq!(read["validOperatingSystemBuildRanges"]["maxItems"], 10000);
    assert_eq!(
        doc["components"]["responses"]["error404"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/error"
    );
}

#[tokio::test]
async fn dates_of_every_documented_shape_are_accepted() {
    // The shapes `DATE_TIME_OFFSET_PATTERN` allows, at their edges: each is stored.
    let server = Server::start().await;
    let client = server.client();
    let p = client.create_policy("v1.0", "dates").await;
    let path = format!("{POLICIES}/{p}/deviceStatuses");
    for date in [
        "2024-05-01T12:30:00Z",
        "2017-01-01T00:00:17.7769392-08:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59.9999999-14:00",
        "2023-02-28T00:00:00.5+05:30",
    ] {
        let body = serde_json::json!({ "lastReportedDateTime": date });
        client.post("v1.0", &path, &body).await.expect(201);
    }
}
