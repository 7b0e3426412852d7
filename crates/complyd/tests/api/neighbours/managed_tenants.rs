//! Seed 002's root takes the shipped names too, and the shipped open type shows the same rows,
//! read-only, under /tenantRelationships/managedTenants.

use super::*;
use serde_json::json;

const VIEW: &str = "tenantRelationships/managedTenants/managedDeviceCompliances";

#[tokio::test]
async fn the_root_takes_both_names_and_answers_the_seeds() {
    let server = Server::start().await;
    let client = admin(&server);
    let created = client
        .post(
            "beta",
            "managedDeviceCompliances",
            &json!({"tenantId": "t-1", "tenantDisplayName": "Contoso", "managedDeviceName": "PC-1"}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(created["organizationId"], "t-1");
    assert_eq!(created["organizationDisplayName"], "Contoso");
    assert!(created.get("tenantId").is_none(), "{created}");
    client
        .post(
            "beta",
            "managedDeviceCompliances",
            &json!({"organizationId": "a", "tenantId": "b"}),
        )
        .await
        .expect_error(400, "ModelValidationFailure");
    client
        .post(
            "beta",
            "managedDeviceCompliances",
            &json!({"organizationId": "same", "tenantId": "same", "complianceStatus": "Compliant"}),
        )
        .await
        .expect(201);
}

#[tokio::test]
async fn the_shipped_view_shows_the_rows_with_the_tenants_names_read_only() {
    let server = Server::start().await;
    let client = admin(&server);
    for (tenant, device) in [("t-1", "PC-1"), ("t-2", "PC-2")] {
        client
            .post(
                "beta",
                "managedDeviceCompliances",
                &json!({"organizationId": tenant, "organizationDisplayName": "Org", "managedDeviceName": device}),
            )
            .await
            .expect(201);
    }
    let shown = client.list("beta", VIEW).await;
    assert_eq!(shown.len(), 2);
    assert_eq!(
        shown[0]["@odata.type"],
        "#microsoft.graph.managedTenants.managedDeviceCompliance"
    );
    assert_eq!(shown[0]["tenantId"], "t-1");
    assert_eq!(shown[0]["tenantDisplayName"], "Org");
    assert!(shown[0].get("organizationId").is_none(), "{:?}", shown[0]);
    let filtered = client
        .list(
            "beta",
            &format!("{VIEW}?$filter=tenantId%20eq%20't-2'&$orderby=tenantDisplayName"),
        )
        .await;
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0]["managedDeviceName"], "PC-2");
    let id = filtered[0]["id"].as_str().unwrap();
    assert_eq!(
        client
            .get("beta", &format!("{VIEW}/{id}"))
            .await
            .expect(200)
            .json()["tenantId"],
        "t-2"
    );
    assert_eq!(
        client
            .get("beta", &format!("{VIEW}/$count"))
            .await
            .expect(200)
            .text,
        "2"
    );
    client
        .post("beta", VIEW, &json!({"tenantId": "t-3"}))
        .await
        .expect_error(400, ROUTE_ERROR);
    client
        .patch("beta", &format!("{VIEW}/{id}"), &json!({"tenantId": "x"}))
        .await
        .expect_error(400, ROUTE_ERROR);
    client
        .patch("beta", "tenantRelationships", &json!({}))
        .await
        .expect_error(400, ROUTE_ERROR);
    client
        .get("v1.0", VIEW)
        .await
        .expect_error(400, "BadRequest");
    let csdl = client.get("beta", "$metadata").await.expect(200).text;
    assert!(csdl.contains(
        "<EntityType Name=\"managedDeviceCompliance\" BaseType=\"microsoft.graph.entity\" OpenType=\"true\">"
    ));
}
