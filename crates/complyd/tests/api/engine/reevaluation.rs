//! Changes that move many devices at once (a policy, its assignments, a filter, a group's
//! members, the tenant's settings) re-evaluate every device through the durable queue.

use super::*;

async fn verdict(c: &Client, device: &str) -> String {
    c.get("beta", &format!("{DEVICES}/{device}"))
        .await
        .expect(200)
        .json()["complianceState"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn policy_changes_reevaluate_every_device() {
    let server = Server::start().await;
    let c = admin(&server);
    let policy = assigned_policy(&c, &password_policy("Baseline", 0), &[all_devices()]).await;
    let mut devices = Vec::new();
    for n in 0..3 {
        let id = c
            .post(
                "beta",
                DEVICES,
                &windows_device(&format!("LAPTOP-{n}"), None),
            )
            .await
            .expect(201)
            .id();
        check_in(&c, &id, &json!({"passwordSet": true, "passwordLength": 10}))
            .await
            .expect(200);
        devices.push(id);
    }
    settle(&c).await;
    for d in &devices {
        assert_eq!(verdict(&c, d).await, "compliant");
    }
    // A stricter policy: every device fails it, and every report says so.
    let settled = require_length(&c, &format!("{POLICIES}/{policy}"), 12).await;
    assert_eq!(settled["evaluated"], 3);
    for d in &devices {
        assert_eq!(verdict(&c, d).await, "noncompliant");
    }
    let overview = c
        .get("v1.0", &format!("{POLICIES}/{policy}/deviceStatusOverview"))
        .await
        .json();
    assert_eq!(overview["failedCount"], 3);
    // Unassigned: the policy shows no device, and devices with no policy are compliant.
    c.post(
        "beta",
        &format!("{POLICIES}/{policy}/assign"),
        &json!({"assignments": []}),
    )
    .await
    .expect(200);
    settle(&c).await;
    assert!(c
        .list("v1.0", &format!("{POLICIES}/{policy}/deviceStatuses"))
        .await
        .is_empty());
    for d in &devices {
        assert_eq!(verdict(&c, d).await, "compliant");
        assert!(c
            .list(
                "v1.0",
                &format!("{DEVICES}/{d}/deviceCompliancePolicyStates")
            )
            .await
            .is_empty());
    }
    // Secure by default: a device no policy applies to is noncompliant.
    secure_by_default(&c, true).await;
    assert_eq!(verdict(&c, &devices[0]).await, "noncompliant");
}

/// A password policy (`password_policy`) assigned to all devices, and one Windows device that
/// checked in with a password of `length` characters: (policy id, device id).
async fn policy_and_device(
    c: &Client,
    policy: &str,
    device: &str,
    length: u32,
) -> (String, String) {
    let policy = assigned_policy(c, &password_policy(policy, 0), &[all_devices()]).await;
    let id = c
        .post("beta", DEVICES, &windows_device(device, None))
        .await
        .expect(201)
        .id();
    check_in(
        c,
        &id,
        &json!({"passwordSet": true, "passwordLength": length}),
    )
    .await
    .expect(200);
    (policy, id)
}

/// PATCHes the password policy at `policy_url` to ask for `length` characters, then settles.
async fn require_length(c: &Client, policy_url: &str, length: u32) -> Value {
    c.patch(
        "beta",
        policy_url,
        &json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "passwordMinimumLength": length}),
    )
    .await
    .expect(200);
    settle(c).await
}

async fn version_of(c: &Client, policy_url: &str) -> Value {
    c.get("beta", policy_url).await.expect(200).json()["version"].clone()
}

#[tokio::test]
async fn a_state_shows_the_version_its_policy_has_now() {
    let server = Server::start().await;
    let c = admin(&server);
    let (policy, id) = policy_and_device(&c, "Baseline", "LAPTOP-7", 10).await;
    let policy_url = format!("{POLICIES}/{policy}");
    let states = format!("{DEVICES}/{id}/deviceCompliancePolicyStates");
    let state = c
        .get("beta", &format!("{states}/{policy}"))
        .await
        .expect(200)
        .json();
    assert_eq!(state["version"], version_of(&c, &policy_url).await);
    // A change that moves no outcome: the state shows the policy's new version everywhere.
    require_length(&c, &policy_url, 9).await;
    let now = version_of(&c, &policy_url).await;
    assert_ne!(now, state["version"]);
    for version in VERSIONS {
        let read = c
            .get(version, &format!("{states}/{policy}"))
            .await
            .expect(200)
            .json();
        assert_eq!(
            (read["version"].clone(), read["state"].clone()),
            (now.clone(), json!("compliant")),
            "{version}"
        );
        let listed = c.list(version, &states).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["version"], now, "{version}");
        let selected = c
            .get(version, &format!("{states}?$select=version"))
            .await
            .expect(200)
            .json();
        assert_eq!(selected["value"][0]["version"], now, "{version}");
        let expanded = c
            .get(
                version,
                &format!("{DEVICES}/{id}?$expand=deviceCompliancePolicyStates"),
            )
            .await
            .expect(200)
            .json();
        assert_eq!(
            expanded["deviceCompliancePolicyStates"][0]["version"], now,
            "{version}"
        );
    }
    // A filter asks the policy (the stored value lags): the state matches by its shown version.
    let matching = |filter: String| {
        let c = c.clone();
        let url = format!("{states}?$filter={filter}");
        async move { c.list("beta", &url).await.len() }
    };
    assert_eq!(matching(format!("version eq {now}")).await, 1);
    assert_eq!(
        matching(format!("version eq {}", state["version"])).await,
        0
    );
    assert_eq!(
        matching(format!("not (version lt {now}) and state eq 'compliant'")).await,
        1
    );
    assert_eq!(
        matching(format!("version gt {now} or state eq 'nonCompliant'")).await,
        0
    );
    let expanded = c
        .get(
            "beta",
            &format!(
                "{DEVICES}/{id}?$expand=deviceCompliancePolicyStates($filter=version eq {now})"
            ),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(
        expanded["deviceCompliancePolicyStates"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // What the policy cannot answer alone, and sorting, are refused, naming the property.
    for query in ["$filter=version eq settingCount", "$orderby=version desc"] {
        let refused = c
            .get("beta", &format!("{states}?{query}"))
            .await
            .expect(400)
            .json();
        let message = refused["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("'version'"), "{query}: {message}");
    }
    // A change that moves the outcome shows both.
    require_length(&c, &policy_url, 12).await;
    let read = c
        .get("v1.0", &format!("{states}/{policy}"))
        .await
        .expect(200)
        .json();
    assert_eq!(read["version"], version_of(&c, &policy_url).await);
    assert_eq!(read["state"], "nonCompliant");
}

#[tokio::test]
async fn deleting_a_policy_takes_it_off_every_device_and_summary() {
    let server = Server::start().await;
    let c = admin(&server);
    let (policy, id) = policy_and_device(&c, "Short-lived", "LAPTOP-9", 3).await;
    let summaries = "deviceManagement/deviceCompliancePolicySettingStateSummaries";
    let failing = |list: Vec<Value>| {
        list.iter()
            .find(|s| s["setting"] == "windows10CompliancePolicy.passwordMinimumLength")
            .map(|s| s["nonCompliantDeviceCount"].clone())
    };
    assert_eq!(failing(c.list("v1.0", summaries).await), Some(json!(1)));
    c.delete("beta", &format!("{POLICIES}/{policy}"))
        .await
        .expect(204);
    settle(&c).await;
    assert!(c
        .list(
            "v1.0",
            &format!("{DEVICES}/{id}/deviceCompliancePolicyStates")
        )
        .await
        .is_empty());
    assert_eq!(failing(c.list("v1.0", summaries).await), Some(json!(0)));
    assert_eq!(verdict(&c, &id).await, "compliant");
}

#[tokio::test]
async fn group_members_and_filters_decide_after_the_fact() {
    let server = Server::start().await;
    let c = admin(&server);
    let group = new_group(&c, "pilots").await;
    let policy = assigned_policy(
        &c,
        &password_policy("Pilots only", 0),
        &[group_target(&group)],
    )
    .await;
    let laptop = c
        .post("beta", DEVICES, &windows_device("LAPTOP-1", None))
        .await
        .expect(201)
        .id();
    let desktop = c
        .post("beta", DEVICES, &windows_device("DESKTOP-1", None))
        .await
        .expect(201)
        .id();
    for d in [&laptop, &desktop] {
        check_in(&c, d, &json!({"passwordSet": true, "passwordLength": 2}))
            .await
            .expect(200);
        assert_eq!(verdict(&c, d).await, "compliant", "no policy applies yet");
    }
    // Both directory devices join the group: the policy now applies to both.
    for d in [&laptop, &desktop] {
        let object = directory_object(&c, d).await;
        add_member(&c, &group, &object).await;
    }
    settle(&c).await;
    assert_eq!(verdict(&c, &laptop).await, "noncompliant");
    assert_eq!(verdict(&c, &desktop).await, "noncompliant");
    // A filter that keeps laptops only: the desktop is dropped.
    let filter = c
        .post(
            "beta",
            "deviceManagement/assignmentFilters",
            &json!({"displayName": "Laptops", "platform": "windows10AndLater",
                    "rule": "(device.deviceName -startsWith \"LAPTOP\")"}),
        )
        .await
        .expect(201)
        .id();
    let mut target = group_target(&group);
    target["deviceAndAppManagementAssignmentFilterId"] = json!(filter);
    target["deviceAndAppManagementAssignmentFilterType"] = json!("include");
    c.post(
        "beta",
        &format!("{POLICIES}/{policy}/assign"),
        &json!({"assignments": [{"target": target}]}),
    )
    .await
    .expect(200);
    settle(&c).await;
    assert_eq!(verdict(&c, &laptop).await, "noncompliant");
    assert_eq!(verdict(&c, &desktop).await, "compliant");
    let statuses = c
        .list("v1.0", &format!("{POLICIES}/{policy}/deviceStatuses"))
        .await;
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0]["id"], laptop.as_str());
}

#[tokio::test]
async fn the_worker_settles_a_change_without_being_asked() {
    let server = Server::start().await;
    let c = admin(&server);
    let (policy, id) = policy_and_device(&c, "Baseline", "LAPTOP-5", 10).await;
    c.patch(
        "beta",
        &format!("{POLICIES}/{policy}"),
        &json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "passwordMinimumLength": 16}),
    )
    .await
    .expect(200);
    let url = format!("{}/complyd/v1/engine", c.base);
    let mut pending = true;
    for _ in 0..100 {
        pending = c.get_url(&url).await.expect(200).json()["pending"] == true;
        if !pending {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!pending, "the worker took the mark within 5 s");
    assert_eq!(verdict(&c, &id).await, "noncompliant");
}
