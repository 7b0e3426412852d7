//! The retire operations on the policies collection: the schedule (filled by the engine; written
//! here straight into the store), its state, and the payload links.

use super::*;
use complyd::service::schedule_retirement;
use serde_json::json;

/// Puts two devices on the tenant's retire schedule, as the engine will.
async fn schedule_two(server: &Server) {
    let store = crate::identity::open_store(server).await;
    store
        .write(|tx| {
            for (id, name) in [("d1", "Laptop 1"), ("d2", "Laptop 2")] {
                let body = json!({"managedDeviceId": id, "managedDeviceName": name,
                    "deviceCompliancePolicyName": "Baseline", "retireAfterDateTime": "2030-01-01T00:00:00Z",
                    "complianceState": "nonCompliant", "managementAgent": "mdm", "ownerType": "company",
                    "deviceType": "windowsRT"});
                schedule_retirement(tx, TENANT, body.as_object().unwrap())?;
            }
            Ok::<_, complyd::error::ApiError>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn scheduled_devices_are_listed_until_their_retirement_is_cancelled() {
    let server = Server::start().await;
    let client = admin(&server);
    let list = format!("{POLICIES}/getDevicesScheduledToRetire()");
    assert_eq!(client.list("beta", &list).await.len(), 0);
    schedule_two(&server).await;
    let listed = client.list("beta", &list).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["managedDeviceName"], "Laptop 1");
    assert_eq!(listed[0]["complianceState"], "nonCompliant");
    let set = format!("{POLICIES}/setScheduledRetireState");
    client
        .post(
            "beta",
            &set,
            &json!({"state": "cancelRetire", "managedDeviceIds": ["d1", "unknown"]}),
        )
        .await
        .expect(204);
    let listed = client.list("beta", &list).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["managedDeviceId"], "d2");
    client
        .post(
            "beta",
            &set,
            &json!({"state": "confirmRetire", "scopedToAllDevices": true}),
        )
        .await
        .expect(204);
    assert_eq!(client.list("beta", &list).await.len(), 2);
    for bad in [
        json!({}),
        json!({"state": "retireNow"}),
        json!({"state": null}),
        json!({"state": "cancelRetire", "managedDeviceIds": "d1"}),
        json!({"state": "cancelRetire", "extra": 1}),
    ] {
        let resp = client.post("beta", &set, &bad).await;
        assert_eq!(resp.status, 400, "{bad}: {}", resp.text);
    }
    holding(&server, &[READ])
        .post("beta", &set, &json!({"state": "cancelRetire"}))
        .await
        .expect_error(403, "Forbidden");
    // v1.0 has no such function: the segment reads as a key.
    client
        .get("v1.0", &list)
        .await
        .expect_error(404, "ResourceNotFound");
    assert_eq!(
        client.list("beta", AUDIT).await.len(),
        2,
        "each state change is audited"
    );
}

#[tokio::test]
async fn payload_links_tell_a_policys_assignment_sources() {
    let server = Server::start().await;
    let client = admin(&server);
    let id = client.create_policy("beta", "linked").await;
    client
        .post(
            "beta",
            &format!("{}/assign", policy_path(&id)),
            &json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]}),
        )
        .await
        .expect(200);
    let answer = client
        .post(
            "beta",
            &format!("{POLICIES}/hasPayloadLinks"),
            &json!({"payloadIds": [id, "nosuch"]}),
        )
        .await
        .expect(200)
        .expect_context(
            "beta",
            "Collection(microsoft.graph.hasPayloadLinkResultItem)",
        )
        .values();
    assert_eq!(answer[0]["payloadId"], id.as_str());
    assert_eq!(answer[0]["hasLink"], false);
    assert_eq!(answer[0]["sources"], json!(["direct"]));
    assert_eq!(answer[0]["error"], json!(null));
    assert_eq!(answer[1]["hasLink"], false);
    assert!(answer[1]["error"].as_str().unwrap().contains("nosuch"));
    let too_many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    client
        .post(
            "beta",
            &format!("{POLICIES}/hasPayloadLinks"),
            &json!({"payloadIds": too_many}),
        )
        .await
        .expect_error(400, "ModelValidationFailure");
    client
        .post("beta", &format!("{POLICIES}/hasPayloadLinks"), &json!({}))
        .await
        .expect_error(400, "BadRequest");
}
