//! A device checks in and every report follows: its verdict, the policy's device and user
//! statuses, overviews, setting summaries, and the tenant's setting states.

use super::*;

#[tokio::test]
async fn a_check_in_is_evaluated_and_every_report_follows() {
    let server = Server::start().await;
    let c = admin(&server);
    let policy = assigned_policy(
        &c,
        &password_policy("Windows baseline", 0),
        &[all_devices()],
    )
    .await;
    let device = c
        .post(
            "beta",
            DEVICES,
            &windows_device("LAPTOP-1", Some(("u-1", "ada@contoso.com"))),
        )
        .await
        .expect(201);
    // Created without facts: the password cannot be judged yet, so the policy is in error.
    assert_eq!(device.json()["complianceState"], "error");
    let id = device.id();

    let answer = check_in(&c, &id, &good_report()).await.expect(200).json();
    assert_eq!(answer["complianceState"], "compliant");
    assert_eq!(answer["policies"][0]["id"], policy.as_str());
    assert_eq!(answer["policies"][0]["state"], "compliant");
    let got = c
        .get("v1.0", &format!("{DEVICES}/{id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(got["complianceState"], "compliant");
    assert_eq!(
        got["complianceGracePeriodExpirationDateTime"],
        "9999-12-31T23:59:59Z"
    );

    // Too short a password: noncompliant (no grace), setting by setting.
    let answer = check_in(&c, &id, &json!({"passwordLength": 4}))
        .await
        .expect(200)
        .json();
    assert_eq!(answer["complianceState"], "noncompliant");
    let settings = answer["policies"][0]["settingStates"]
        .as_array()
        .unwrap()
        .clone();
    let state_of = |name: &str| {
        settings
            .iter()
            .find(|s| s["settingName"] == name)
            .map(|s| (s["state"].clone(), s["currentValue"].clone()))
    };
    assert_eq!(
        state_of("passwordMinimumLength"),
        Some((json!("nonCompliant"), json!("4")))
    );
    assert_eq!(state_of("passwordRequired").unwrap().0, "compliant");
    assert_eq!(state_of("osMinimumVersion").unwrap().0, "compliant");

    // The device's policy states, as Graph shows them.
    let states = c
        .list(
            "v1.0",
            &format!("{DEVICES}/{id}/deviceCompliancePolicyStates"),
        )
        .await;
    assert_eq!(states.len(), 1);
    assert_eq!(states[0]["id"], policy.as_str());
    assert_eq!(states[0]["state"], "nonCompliant");
    assert_eq!(states[0]["platformType"], "windows10AndLater");
    assert_eq!(states[0]["settingCount"], 3);
    assert_eq!(
        states[0]["settingStates"].as_array().unwrap().len(),
        3,
        "{states:?}"
    );
    assert!(states[0].get("_engineState").is_none());

    // The policy's statuses and overviews.
    let statuses = c
        .list("v1.0", &format!("{POLICIES}/{policy}/deviceStatuses"))
        .await;
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0]["id"], id.as_str());
    assert_eq!(statuses[0]["status"], "nonCompliant");
    assert_eq!(statuses[0]["deviceDisplayName"], "LAPTOP-1");
    assert_eq!(statuses[0]["deviceModel"], "Surface Laptop 5");
    let beta = c
        .get("beta", &format!("{POLICIES}/{policy}/deviceStatuses/{id}"))
        .await
        .json();
    assert_eq!(
        beta["platform"], 6,
        "windows10AndLater's value in policyPlatformType"
    );
    assert_eq!(statuses[0]["userPrincipalName"], "ada@contoso.com");
    let overview = c
        .get("v1.0", &format!("{POLICIES}/{policy}/deviceStatusOverview"))
        .await
        .expect(200)
        .json();
    assert_eq!(overview["failedCount"], 1);
    assert_eq!(overview["successCount"], 0);
    let users = c
        .list("v1.0", &format!("{POLICIES}/{policy}/userStatuses"))
        .await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["id"], "u-1");
    assert_eq!(users[0]["devicesCount"], 1);
    assert_eq!(users[0]["status"], "nonCompliant");

    // Setting summaries: the counts moved from compliant to noncompliant for the length only.
    let length = setting_summary(&c, "v1.0", &policy, "passwordMinimumLength").await;
    assert_eq!(length["nonCompliantDeviceCount"], 1);
    assert_eq!(length["compliantDeviceCount"], 0);
    let required = setting_summary(&c, "v1.0", &policy, "passwordRequired").await;
    assert_eq!(required["compliantDeviceCount"], 1);
    let tenant = c
        .list(
            "v1.0",
            "deviceManagement/deviceCompliancePolicySettingStateSummaries",
        )
        .await;
    let length = tenant
        .iter()
        .find(|s| s["setting"] == "windows10CompliancePolicy.passwordMinimumLength")
        .cloned()
        .unwrap();
    assert_eq!(length["nonCompliantDeviceCount"], 1);
    assert_eq!(length["platformType"], "windows10AndLater");
    let per_device = c
        .list(
            "v1.0",
            &format!(
                "deviceManagement/deviceCompliancePolicySettingStateSummaries/{}/deviceComplianceSettingStates",
                length["id"].as_str().unwrap()
            ),
        )
        .await;
    let length_id = length["id"].as_str().unwrap().to_string();
    assert_eq!(per_device.len(), 1);
    assert_eq!(per_device[0]["deviceId"], id.as_str());
    assert_eq!(per_device[0]["state"], "nonCompliant");

    // Compliant again: every count moves back.
    check_in(&c, &id, &json!({"passwordLength": 9}))
        .await
        .expect(200);
    let length = setting_summary(&c, "v1.0", &policy, "passwordMinimumLength").await;
    assert_eq!(length["nonCompliantDeviceCount"], 0);
    assert_eq!(length["compliantDeviceCount"], 1);
    let overview = c
        .get("v1.0", &format!("{POLICIES}/{policy}/deviceStatusOverview"))
        .await
        .json();
    assert_eq!(
        (
            overview["failedCount"].clone(),
            overview["successCount"].clone()
        ),
        (json!(0), json!(1))
    );

    // Renamed, nothing else changed: every row that shows the name follows (the outcome is the
    // same, so only the name tells them to).
    check_in(&c, &id, &json!({"deviceName": "LAPTOP-RENAMED"}))
        .await
        .expect(200);
    let statuses = c
        .list("v1.0", &format!("{POLICIES}/{policy}/deviceStatuses"))
        .await;
    assert_eq!(statuses[0]["deviceDisplayName"], "LAPTOP-RENAMED");
    let per_device = c
        .list(
            "v1.0",
            &format!(
                "deviceManagement/deviceCompliancePolicySettingStateSummaries/{}/deviceComplianceSettingStates",
                length_id
            ),
        )
        .await;
    assert_eq!(per_device.len(), 1);
    assert_eq!(per_device[0]["deviceName"], "LAPTOP-RENAMED");
    assert_eq!(per_device[0]["state"], "compliant");

    // Reported again, the same: the user's status keeps its count and state, stamped again.
    check_in(&c, &id, &json!({"passwordLength": 9}))
        .await
        .expect(200);
    let users = c
        .list("v1.0", &format!("{POLICIES}/{policy}/userStatuses"))
        .await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["devicesCount"], 1);
    assert_eq!(users[0]["status"], "compliant");
    let statuses = c
        .list("v1.0", &format!("{POLICIES}/{policy}/deviceStatuses"))
        .await;
    assert_eq!(
        users[0]["lastReportedDateTime"], statuses[0]["lastReportedDateTime"],
        "the user reported when the device did"
    );
}

/// A device reports a new value that leaves its status as it was: its status and the user's are
/// stamped with the report's time, and the user's keeps the worst state of all their devices.
#[tokio::test]
async fn a_report_that_moves_only_a_setting_value_stamps_the_users_status() {
    let server = Server::start().await;
    let c = admin(&server);
    crate::time::freeze_at(&c, "2030-03-01T08:00:00Z").await;
    let policy = assigned_policy(&c, &password_policy("Baseline", 0), &[all_devices()]).await;
    let user = Some(("u-7", "grace@contoso.com"));
    let failing = c
        .post("beta", DEVICES, &windows_device("DESK-1", user))
        .await
        .expect(201)
        .id();
    let passing = c
        .post("beta", DEVICES, &windows_device("DESK-2", user))
        .await
        .expect(201)
        .id();
    check_in(
        &c,
        &failing,
        &json!({"passwordSet": true, "passwordLength": 4, "osVersion": "10.0.22631.1"}),
    )
    .await
    .expect(200);
    check_in(&c, &passing, &good_report()).await.expect(200);
    let user_status = || async {
        let users = c
            .list("v1.0", &format!("{POLICIES}/{policy}/userStatuses"))
            .await;
        assert_eq!(users.len(), 1, "{users:?}");
        users[0].clone()
    };
    let before = user_status().await;
    assert_eq!(before["devicesCount"], 2);
    assert_eq!(before["status"], "nonCompliant");

    crate::time::move_clock(&c, &json!({"advanceBy": "PT1H"}))
        .await
        .expect(200);
    let mut report = good_report();
    report["passwordLength"] = json!(13);
    let answer = check_in(&c, &passing, &report).await.expect(200).json();
    assert_eq!(answer["policies"][0]["state"], "compliant");
    let status = c
        .get(
            "v1.0",
            &format!("{POLICIES}/{policy}/deviceStatuses/{passing}"),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(status["status"], "compliant");
    assert_eq!(status["lastReportedDateTime"], "2030-03-01T09:00:00Z");
    let after = user_status().await;
    assert_eq!(after["devicesCount"], 2);
    assert_eq!(
        after["status"], "nonCompliant",
        "the other device still fails"
    );
    assert_eq!(after["lastReportedDateTime"], "2030-03-01T09:00:00Z");
    let states = c
        .list(
            "v1.0",
            &format!("{DEVICES}/{passing}/deviceCompliancePolicyStates"),
        )
        .await;
    let length = states[0]["settingStates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["settingName"] == "passwordMinimumLength")
        .cloned()
        .unwrap();
    assert_eq!(length["currentValue"], "13", "the new value is shown");
}

#[tokio::test]
async fn a_grace_period_holds_the_device_in_grace_until_it_ends() {
    let server = Server::start().await;
    let c = admin(&server);
    assigned_policy(&c, &password_policy("Three days", 72), &[all_devices()]).await;
    let id = c
        .post("beta", DEVICES, &windows_device("LAPTOP-2", None))
        .await
        .expect(201)
        .id();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let answer = check_in(&c, &id, &json!({"passwordSet": false, "passwordLength": 0}))
        .await
        .expect(200)
        .json();
    assert_eq!(answer["complianceState"], "inGracePeriod");
    let ends = answer["complianceGracePeriodExpirationDateTime"]
        .as_str()
        .unwrap()
        .to_string();
    let ends = odata::value::DateTimeOffset::parse(&ends)
        .unwrap()
        .to_unix_seconds();
    assert!((ends - before - 72 * 3600).abs() < 60, "grace ends {ends}");
    let device = c.get("beta", &format!("{DEVICES}/{id}")).await.json();
    assert_eq!(device["complianceState"], "inGracePeriod");
    // A second failing check-in keeps the moment of noncompliance: the end does not move.
    let again = check_in(&c, &id, &json!({"passwordLength": 1}))
        .await
        .json();
    let again = odata::value::DateTimeOffset::parse(
        again["complianceGracePeriodExpirationDateTime"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
    .to_unix_seconds();
    assert_eq!(again, ends);
}

#[tokio::test]
async fn groups_of_the_user_and_the_device_decide_which_policies_apply() {
    let server = Server::start().await;
    let c = admin(&server);
    let user = new_user(&c, "ada").await;
    let pilots = new_group(&c, "pilots").await;
    let outer = new_group(&c, "everyone").await;
    let excluded = new_group(&c, "excluded").await;
    add_member(&c, &outer, &pilots).await;
    add_member(&c, &pilots, &user).await;
    // Assigned to the outer group: the user reaches it through the nested one.
    let nested = assigned_policy(&c, &password_policy("Nested", 0), &[group_target(&outer)]).await;
    let unrelated = assigned_policy(
        &c,
        &password_policy("Elsewhere", 0),
        &[group_target(&excluded)],
    )
    .await;
    let id = c
        .post(
            "beta",
            DEVICES,
            &windows_device("LAPTOP-3", Some((&user, "ada@contoso.com"))),
        )
        .await
        .expect(201)
        .id();
    let answer = check_in(&c, &id, &good_report()).await.expect(200).json();
    let applied: Vec<&str> = answer["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(applied, vec![nested.as_str()]);
    assert!(!applied.contains(&unrelated.as_str()));

    // The managed device's directory device joins the excluded group: an exclusion wins.
    let aad = c.get("beta", &format!("{DEVICES}/{id}")).await.json()["azureADDeviceId"]
        .as_str()
        .unwrap()
        .to_string();
    let directory = c
        .get("v1.0", &format!("devices?$filter=deviceId eq '{aad}'"))
        .await
        .expect(200)
        .values();
    assert_eq!(
        directory.len(),
        1,
        "the managed device has its directory device"
    );
    let object = directory[0]["id"].as_str().unwrap().to_string();
    c.post(
        "beta",
        &format!("{POLICIES}/{nested}/assign"),
        &json!({"assignments": [
        {"target": group_target(&outer)}, {"target": excluded_group(&excluded)}]}),
    )
    .await
    .expect(200);
    add_member(&c, &excluded, &object).await;
    let answer = check_in(&c, &id, &good_report()).await.expect(200).json();
    let applied: Vec<&str> = answer["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        applied,
        vec![unrelated.as_str()],
        "excluded from one, included in the other"
    );
    // The policy that no longer applies shows the device nowhere.
    assert!(c
        .list("v1.0", &format!("{POLICIES}/{nested}/deviceStatuses"))
        .await
        .is_empty());
    let states = c
        .list(
            "v1.0",
            &format!("{DEVICES}/{id}/deviceCompliancePolicyStates"),
        )
        .await;
    assert_eq!(states.len(), 1);
    assert_eq!(states[0]["id"], unrelated.as_str());
}

/// Check-ins walk groups in a view read outside the writer once one is kept (`warm_view`): a
/// membership change must still count from the next check-in on, whichever view it finds.
#[tokio::test]
async fn a_membership_change_counts_at_the_next_check_in_after_check_ins_kept_a_view() {
    let server = Server::start().await;
    let c = admin(&server);
    let user = new_user(&c, "bo").await;
    let group = new_group(&c, "pilots").await;
    let policy = assigned_policy(&c, &password_policy("Pilots", 0), &[group_target(&group)]).await;
    let device = c
        .post(
            "beta",
            DEVICES,
            &windows_device("LAPTOP-9", Some((&user, "bo@contoso.com"))),
        )
        .await
        .expect(201)
        .id();
    let applied = |answer: Value| -> Vec<String> {
        answer["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    // Each step: check in, give a view time to be read in the background, check in again.
    let twice = || async {
        let first = applied(
            check_in(&c, &device, &good_report())
                .await
                .expect(200)
                .json(),
        );
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let second = applied(
            check_in(&c, &device, &good_report())
                .await
                .expect(200)
                .json(),
        );
        (first, second)
    };
    let none: Vec<String> = Vec::new();
    assert_eq!(
        twice().await,
        (none.clone(), none.clone()),
        "not a member yet"
    );

    add_member(&c, &group, &user).await;
    let joined = vec![policy.clone()];
    assert_eq!(twice().await, (joined.clone(), joined), "a member now");

    c.delete("v1.0", &format!("groups/{group}/members/{user}/$ref"))
        .await
        .expect(204);
    assert_eq!(twice().await, (none.clone(), none), "a member no more");
}

#[tokio::test]
async fn a_bad_check_in_is_refused_and_changes_nothing() {
    let server = Server::start().await;
    let c = admin(&server);
    let id = c
        .post("beta", DEVICES, &windows_device("LAPTOP-4", None))
        .await
        .expect(201)
        .id();
    let before = c.get("beta", &format!("{DEVICES}/{id}")).await.json();
    let refused = check_in(&c, &id, &json!({"passcodeMood": "happy"}))
        .await
        .expect_error(400, "BadRequest");
    assert!(refused
        .error_message()
        .contains("'passcodeMood' is neither a managedDevice property nor a reported fact"));
    let refused = check_in(&c, &id, &json!({"passwordLength": "long"}))
        .await
        .expect_error(400, "BadRequest");
    assert!(refused
        .error_message()
        .contains("The reported fact 'passwordLength' takes a whole number"));
    check_in(&c, &id, &json!({"osVersion": 10}))
        .await
        .expect_error(400, "ModelValidationFailure");
    check_in(&c, &id, &json!([1]))
        .await
        .expect_error(400, "BadRequest");
    check_in(&c, "no-such-device", &good_report())
        .await
        .expect_error(404, "ResourceNotFound");
    let reader = server.client_with(TokenRequest::delegated(
        TENANT,
        &["DeviceManagementManagedDevices.Read.All"],
    ));
    check_in(&reader, &id, &good_report())
        .await
        .expect_error(403, "Forbidden");
    let after = c.get("beta", &format!("{DEVICES}/{id}")).await.json();
    assert_eq!(before, after, "nothing of a refused check-in is stored");
}

#[tokio::test]
async fn the_tenant_summary_counts_devices_by_verdict_and_can_be_patched() {
    let server = Server::start().await;
    let c = admin(&server);
    let summary = "deviceManagement/deviceCompliancePolicyDeviceStateSummary";
    assigned_policy(&c, &password_policy("Three days", 72), &[all_devices()]).await;
    let mut ids = Vec::new();
    for name in ["GOOD", "GRACE", "UNREPORTED"] {
        ids.push(
            c.post("beta", DEVICES, &windows_device(name, None))
                .await
                .expect(201)
                .id(),
        );
    }
    check_in(&c, &ids[0], &good_report()).await.expect(200);
    check_in(
        &c,
        &ids[1],
        &json!({"passwordSet": true, "passwordLength": 2}),
    )
    .await
    .expect(200);
    // A client-written status of a policy is not a device: the tenant summary counts devices.
    let policy = c.list("beta", POLICIES).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.post(
        "v1.0",
        &format!("{POLICIES}/{policy}/deviceStatuses"),
        &device_status("nonCompliant"),
    )
    .await
    .expect(201);
    for version in VERSIONS {
        let read = c
            .get(version, summary)
            .await
            .expect(200)
            .expect_context(version, &format!("{summary}/$entity"))
            .json();
        assert_eq!(read["compliantDeviceCount"], 1, "{read}");
        assert_eq!(read["inGracePeriodCount"], 1, "{read}");
        assert_eq!(read["errorDeviceCount"], 1, "{read}");
        assert_eq!(read["nonCompliantDeviceCount"], 0, "{read}");
    }
    // The policy's own overview counts its statuses, the client's row beside the engine's.
    let overview = c
        .get("v1.0", &format!("{POLICIES}/{policy}/deviceStatusOverview"))
        .await
        .json();
    assert_eq!(
        overview["failedCount"], 2,
        "the device in grace and the written row: {overview}"
    );
    let patched = c
        .patch("beta", summary, &json!({ "inGracePeriodCount": 4 }))
        .await
        .expect(200)
        .json();
    assert_eq!(patched["inGracePeriodCount"], 4);
    assert_eq!(patched["compliantDeviceCount"], 1);
    assert_eq!(c.get("v1.0", summary).await.json()["inGracePeriodCount"], 4);
}

#[tokio::test]
async fn a_deleted_device_leaves_every_report_and_the_tenants_view_shows_each_verdict() {
    let server = Server::start().await;
    let c = admin(&server);
    let policy = assigned_policy(&c, &password_policy("Baseline", 0), &[all_devices()]).await;
    let mut ids = Vec::new();
    for name in ["KEPT", "GONE"] {
        let id = c
            .post(
                "beta",
                DEVICES,
                &windows_device(name, Some(("u-9", "zoe@contoso.com"))),
            )
            .await
            .expect(201)
            .id();
        check_in(&c, &id, &json!({"passwordSet": true, "passwordLength": 3}))
            .await
            .expect(200);
        ids.push(id);
    }
    // The managed tenants' view (seed 002's rows) shows each device's verdict.
    let view = c
        .list(
            "beta",
            "tenantRelationships/managedTenants/managedDeviceCompliances",
        )
        .await;
    let row = view
        .iter()
        .find(|r| r["managedDeviceId"] == ids[1].as_str())
        .unwrap();
    assert_eq!(row["complianceStatus"], "noncompliant");
    assert_eq!(row["tenantId"], TENANT);
    assert_eq!(row["managedDeviceName"], "GONE");
    let users = c
        .list("v1.0", &format!("{POLICIES}/{policy}/userStatuses"))
        .await;
    assert_eq!(users[0]["devicesCount"], 2);

    c.delete("beta", &format!("{DEVICES}/{}", ids[1]))
        .await
        .expect(204);
    let statuses = c
        .list("v1.0", &format!("{POLICIES}/{policy}/deviceStatuses"))
        .await;
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0]["id"], ids[0].as_str());
    let users = c
        .list("v1.0", &format!("{POLICIES}/{policy}/userStatuses"))
        .await;
    assert_eq!(users[0]["devicesCount"], 1);
    let length = setting_summary(&c, "v1.0", &policy, "passwordMinimumLength").await;
    assert_eq!(length["nonCompliantDeviceCount"], 1);
    let view = c.list("beta", "managedDeviceCompliances").await;
    assert!(view.iter().all(|r| r["managedDeviceId"] != ids[1].as_str()));
    let summary = c
        .get(
            "v1.0",
            "deviceManagement/deviceCompliancePolicyDeviceStateSummary",
        )
        .await
        .json();
    assert_eq!(summary["nonCompliantDeviceCount"], 1);
}

#[tokio::test]
async fn a_users_managed_devices_are_listed_under_the_user() {
    let server = Server::start().await;
    let c = admin(&server);
    let user = new_user(&c, "ada").await;
    for name in ["ADA-1", "ADA-2"] {
        c.post(
            "beta",
            DEVICES,
            &windows_device(name, Some((&user, "ada@contoso.com"))),
        )
        .await
        .expect(201);
    }
    c.post(
        "beta",
        DEVICES,
        &windows_device("SOMEONE-ELSE", Some(("u-2", "bob@contoso.com"))),
    )
    .await
    .expect(201);
    for version in VERSIONS {
        for key in [user.as_str(), "ada@contoso.com"] {
            let mut names: Vec<String> = c
                .list(
                    version,
                    &format!("users/{key}/managedDevices?$select=deviceName"),
                )
                .await
                .iter()
                .map(|d| d["deviceName"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            assert_eq!(names, ["ADA-1", "ADA-2"], "{version} {key}");
        }
        let filtered = c
            .list(
                version,
                &format!("users/{user}/managedDevices?$filter=deviceName eq 'ADA-2'"),
            )
            .await;
        assert_eq!(filtered.len(), 1);
    }
    c.get("v1.0", "users/nobody@contoso.com/managedDevices")
        .await
        .expect_error(404, "Request_ResourceNotFound");
    // Reading devices needs a device permission.
    let directory_only = server.client_with(TokenRequest::delegated(TENANT, &[DIRECTORY_WRITE]));
    directory_only
        .get("v1.0", &format!("users/{user}/managedDevices"))
        .await
        .expect_error(403, "Forbidden");
}
