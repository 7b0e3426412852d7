//! Two instances on one store take check-ins of the same devices at once: no update of the
//! maintained reports is lost or counted twice (the PostgreSQL run makes this two processes on
//! one database; on SQLite, two processes on one file).

use super::*;
use crate::durability::Daemon;

#[tokio::test]
async fn concurrent_check_ins_through_two_instances_keep_the_counts_right() {
    let data = tempfile::tempdir().unwrap();
    let (a, b) = (
        Daemon::start(data.path(), Some(SECRET)).await,
        Daemon::start(data.path(), Some(SECRET)).await,
    );
    let scopes = format!("{WRITE} {DEVICES_WRITE} {DIRECTORY_WRITE}");
    let token = token_for(&claims(json!({ "scp": scopes })));
    let (ca, cb) = (a.client(&token), b.client(&token));
    let policy = assigned_policy(&ca, &password_policy("Shared", 0), &[all_devices()]).await;
    let mut devices = Vec::new();
    for n in 0..4 {
        let id = ca
            .post(
                "beta",
                DEVICES,
                &windows_device(&format!("SHARED-{n}"), None),
            )
            .await
            .expect(201)
            .id();
        devices.push(id);
    }
    // 48 check-ins at once, alternating instances, each device failing and passing in turn.
    let mut tasks = Vec::new();
    for i in 0..48usize {
        let client = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        let device = devices[i % devices.len()].clone();
        let length = if (i / devices.len()) % 2 == 0 { 3 } else { 12 };
        tasks.push(tokio::spawn(async move {
            check_in(
                &client,
                &device,
                &json!({"passwordSet": true, "passwordLength": length}),
            )
            .await
            .expect(200);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The maintained counts equal the devices' states, read through either instance.
    let states = ca
        .list("beta", &format!("{POLICIES}/{policy}/deviceStatuses"))
        .await;
    assert_eq!(states.len(), 4);
    let failing = states
        .iter()
        .filter(|s| s["status"] == "nonCompliant")
        .count() as i64;
    for client in [&ca, &cb] {
        let length = setting_summary(client, "beta", &policy, "passwordMinimumLength").await;
        assert_eq!(length["nonCompliantDeviceCount"], failing, "{length}");
        assert_eq!(length["compliantDeviceCount"], 4 - failing, "{length}");
        let overview = client
            .get("beta", &format!("{POLICIES}/{policy}/deviceStatusOverview"))
            .await
            .json();
        assert_eq!(overview["failedCount"], failing);
        let tenant = client
            .get(
                "beta",
                "deviceManagement/deviceCompliancePolicyDeviceStateSummary",
            )
            .await
            .json();
        assert_eq!(tenant["nonCompliantDeviceCount"], failing);
        assert_eq!(tenant["compliantDeviceCount"], 4 - failing);
    }
    // A policy changed through one instance is what the other evaluates next (each keeps what
    // it read of the tenant's policies only while no change has come since).
    check_in(&ca, &devices[0], &json!({"passwordLength": 12}))
        .await
        .expect(200);
    cb.patch(
        "beta",
        &format!("{POLICIES}/{policy}"),
        &json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "passwordMinimumLength": 14}),
    )
    .await
    .expect(200);
    let answer = check_in(&ca, &devices[0], &json!({"passwordLength": 12}))
        .await
        .expect(200)
        .json();
    assert_eq!(answer["complianceState"], "noncompliant", "{answer}");
}
