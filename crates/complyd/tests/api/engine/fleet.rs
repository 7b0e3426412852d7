//! A fleet in one call, the demo tenant, and the engine's commands.

use super::*;
use crate::durability::{complyd, Daemon};
use crate::stores::run;

async fn fleet(c: &Client, body: &Value) -> Resp {
    let url = format!("{}/complyd/v1/fleet", c.base);
    c.send(reqwest::Method::POST, &url, Some(body.to_string()))
        .await
}

fn fleet_admin(server: &Server, tenant: &str) -> Client {
    server.client_with(TokenRequest::delegated(
        tenant,
        &[WRITE, DEVICES_WRITE, DIRECTORY_WRITE],
    ))
}

async fn sorted_names(c: &Client, path: &str, property: &str) -> Vec<String> {
    let mut names: Vec<String> = c
        .list("beta", &format!("{path}?$top=999&$select={property}"))
        .await
        .iter()
        .map(|d| d[property].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_fleet_is_the_same_for_the_same_seed_and_is_evaluated() {
    let server = Server::start().await;
    let (one, two) = (
        fleet_admin(&server, TENANT),
        fleet_admin(&server, OTHER_TENANT),
    );
    assigned_policy(&one, &password_policy("Baseline", 0), &[all_devices()]).await;
    let made = fleet(&one, &json!({"users": 30, "devices": 60, "seed": 5}))
        .await
        .expect(201)
        .json();
    assert_eq!(
        (made["users"].clone(), made["devices"].clone()),
        (json!(30), json!(60))
    );
    assert_eq!(made["groups"].as_array().unwrap().len(), 5);
    assert_eq!(made["evaluated"], 60);
    fleet(&two, &json!({"users": 30, "devices": 60, "seed": 5}))
        .await
        .expect(201);
    // The same seed: the same ids, names and versions in both tenants.
    for (path, property) in [
        (DEVICES, "id"),
        (DEVICES, "deviceName"),
        (DEVICES, "osVersion"),
        ("users", "userPrincipalName"),
    ] {
        let (a, b) = (
            sorted_names(&one, path, property).await,
            sorted_names(&two, path, property).await,
        );
        assert_eq!(a.len(), if path == "users" { 30 } else { 60 });
        assert_eq!(a, b, "{path} {property}");
    }
    // Every Windows device of tenant one was evaluated against the policy; none is unknown.
    let windows = one
        .list(
            "beta",
            &format!("{DEVICES}?$filter=operatingSystem eq 'Windows'&$top=999"),
        )
        .await;
    assert!(!windows.is_empty());
    assert!(
        windows.iter().all(|d| d["complianceState"] != "unknown"),
        "{windows:?}"
    );
    let statuses = one.list("beta", &format!("{POLICIES}?$top=1")).await;
    let policy = statuses[0]["id"].as_str().unwrap();
    // A status per assigned device; the other platforms' are notApplicable, as Intune reports them.
    let statuses = one
        .list(
            "beta",
            &format!("{POLICIES}/{policy}/deviceStatuses?$top=999"),
        )
        .await;
    assert_eq!(statuses.len(), 60);
    let not_applicable = statuses
        .iter()
        .filter(|s| s["status"] == "notApplicable")
        .count();
    assert_eq!(not_applicable, 60 - windows.len());
    // Dynamic groups hold what their rules say.
    let groups = one
        .list("v1.0", "groups?$select=id,displayName,membershipRule")
        .await;
    let windows_group = groups
        .iter()
        .find(|g| g["displayName"] == "All Windows devices")
        .unwrap();
    let listed = one
        .list(
            "v1.0",
            &format!(
                "groups/{}/members?$top=999",
                windows_group["id"].as_str().unwrap()
            ),
        )
        .await
        .len();
    assert_eq!(
        listed,
        windows.len(),
        "every Windows directory device, and nothing else"
    );
}

/// In a tenant without policies a fleet's devices are evaluated in the writes that add them; the
/// changes after it still move them: the tenant's settings, and a policy assigned to a group
/// whose members changed while the tenant had no policy.
#[tokio::test]
async fn a_fleet_without_policies_is_evaluated_as_it_is_added_and_later_changes_still_count() {
    let server = Server::start().await;
    let c = fleet_admin(&server, TENANT);
    let made = fleet(&c, &json!({"users": 10, "devices": 40, "seed": 9}))
        .await
        .expect(201)
        .json();
    assert_eq!(made["evaluated"], 40);
    let devices = c.list("beta", &format!("{DEVICES}?$top=999")).await;
    assert_eq!(devices.len(), 40);
    assert!(
        devices.iter().all(|d| d["complianceState"] == "compliant"),
        "no policy: the tenant's default, {devices:?}"
    );
    let view = c.list("beta", "managedDeviceCompliances?$top=999").await;
    assert_eq!(view.len(), 40);
    assert!(view.iter().all(|v| v["complianceStatus"] == "compliant"));
    // Secure by default, still without a policy: every device is noncompliant.
    secure_by_default(&c, true).await;
    let devices = c.list("beta", &format!("{DEVICES}?$top=999")).await;
    assert!(
        devices
            .iter()
            .all(|d| d["complianceState"] == "noncompliant"),
        "{devices:?}"
    );
    // A Windows device joins a static group while there is no policy; a policy assigned to that
    // group then finds it, and only it.
    let windows = devices
        .iter()
        .find(|d| d["operatingSystem"] == "Windows")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let group = new_group(&c, "Late pilots").await;
    add_member(&c, &group, &directory_object(&c, &windows).await).await;
    // Without a policy a group's members decide nothing: no device is evaluated again.
    assert_eq!(settle(&c).await["evaluated"], 0);
    let policy = assigned_policy(&c, &password_policy("Pilot", 0), &[group_target(&group)]).await;
    settle(&c).await;
    let statuses = c
        .list(
            "beta",
            &format!("{POLICIES}/{policy}/deviceStatuses?$top=999"),
        )
        .await;
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0]["id"], windows.as_str());
}

#[tokio::test]
async fn a_bad_fleet_request_is_refused() {
    let server = Server::start().await;
    let c = fleet_admin(&server, TENANT);
    let refused = fleet(&c, &json!({"devices": 20_001}))
        .await
        .expect_error(400, "BadRequest");
    assert!(refused
        .error_message()
        .contains("at most 20000 over HTTP (the limit"));
    fleet(&c, &json!({"devices": -1}))
        .await
        .expect_error(400, "BadRequest");
    let refused = fleet(&c, &json!({"robots": 3}))
        .await
        .expect_error(400, "BadRequest");
    assert!(refused.error_message().contains("not 'robots'"));
    let devices_only = server.client_with(TokenRequest::delegated(TENANT, &[DEVICES_WRITE]));
    fleet(&devices_only, &json!({"devices": 1}))
        .await
        .expect_error(403, "Forbidden");
    assert!(c.list("beta", DEVICES).await.is_empty(), "nothing made");
}

#[tokio::test]
async fn the_commands_generate_a_fleet_and_check_a_device_in() {
    let data = tempfile::tempdir().unwrap();
    let out = run({
        let mut cmd = complyd(&["fleet", "generate"], data.path());
        cmd.args([
            "--tenant",
            TENANT,
            "--users",
            "5",
            "--devices",
            "8",
            "--seed",
            "3",
        ]);
        cmd
    })
    .await;
    assert!(
        out.contains("made 5 users, 8 devices and 5 groups"),
        "{out}"
    );
    let daemon = Daemon::start(data.path(), Some(SECRET)).await;
    let c = daemon.client(&token_for(&claims(
        json!({"scp": format!("{WRITE} {DEVICES_WRITE}")}),
    )));
    let devices = c.list("beta", DEVICES).await;
    assert_eq!(devices.len(), 8);
    let id = devices[0]["id"].as_str().unwrap().to_string();
    drop(daemon);
    let report = data.path().join("report.json");
    std::fs::write(
        &report,
        json!({"passwordSet": true, "passwordLength": 30}).to_string(),
    )
    .unwrap();
    let mut cmd = complyd(&["device", "check-in"], data.path());
    cmd.args(["--tenant", TENANT, "--id", &id])
        .arg("--file")
        .arg(&report);
    let output = cmd.output().await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verdict: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(verdict["deviceId"], id.as_str());
    assert_eq!(
        verdict["complianceState"], "compliant",
        "no policy: compliant"
    );
}

#[tokio::test]
async fn serve_demo_starts_with_an_evaluated_tenant() {
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(data.path(), Some(SECRET), &["--demo"]).await;
    let tenant = complyd::auth::DEFAULT_TENANT;
    let c = daemon.client(&token_for(&claims(json!({"tid": tenant,
        "scp": format!("{WRITE} {DEVICES_WRITE}")}))));
    let devices = c.list("beta", &format!("{DEVICES}?$top=999")).await;
    assert_eq!(devices.len(), 120);
    let policies = c.list("beta", POLICIES).await;
    assert_eq!(policies.len(), 4);
    let verdicts: std::collections::BTreeSet<String> = devices
        .iter()
        .map(|d| d["complianceState"].as_str().unwrap().to_string())
        .collect();
    assert!(
        verdicts.contains("compliant") && verdicts.contains("noncompliant"),
        "{verdicts:?}"
    );
    assert!(!verdicts.contains("unknown"), "{verdicts:?}");
}

#[tokio::test]
async fn a_what_if_shows_which_devices_a_policy_would_fail_and_why_without_storing_it() {
    let server = Server::start().await;
    let c = fleet_admin(&server, TENANT);
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for (name, length) in [("LAPTOP-A", 14), ("LAPTOP-B", 6), ("LAPTOP-C", 9)] {
            let id = c
                .post("beta", DEVICES, &windows_device(name, None))
                .await
                .expect(201)
                .id();
            check_in(
                &c,
                &id,
                &json!({"passwordSet": true, "passwordLength": length}),
            )
            .await
            .expect(200);
            ids.push(id);
        }
        ids
    };
    let url = format!("{}/complyd/v1/policies/evaluate", c.base);
    let mut policy = password_policy("Twelve characters", 0);
    policy["passwordMinimumLength"] = json!(12);
    let answer = c
        .send(reqwest::Method::POST, &url, Some(policy.to_string()))
        .await
        .expect(200)
        .json();
    assert_eq!(answer["devicesReached"], 3);
    assert_eq!(answer["states"]["nonCompliant"], 2);
    assert_eq!(answer["states"]["compliant"], 1);
    let failing: Vec<&str> = answer["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["deviceName"].as_str().unwrap())
        .collect();
    assert_eq!(failing, vec!["LAPTOP-B", "LAPTOP-C"]);
    let why = &answer["devices"][0]["settings"][0];
    assert_eq!(why["setting"], "passwordMinimumLength");
    assert_eq!(
        (why["currentValue"].clone(), why["requiredValue"].clone()),
        (json!("6"), json!(12))
    );
    // Nothing was stored, and the devices' verdicts did not move.
    assert!(c.list("beta", POLICIES).await.is_empty());
    assert_eq!(
        c.get("beta", &format!("{DEVICES}/{}", ids[1])).await.json()["complianceState"],
        "compliant"
    );
    // With assignments, only the devices they reach; a bad body is the create's 400.
    policy["assignments"] = json!([{"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget",
        "groupId": "00000000-0000-4000-8000-000000000001"}}]);
    let answer = c
        .send(reqwest::Method::POST, &url, Some(policy.to_string()))
        .await
        .expect(200)
        .json();
    assert_eq!(answer["devicesReached"], 0);
    let mut bad = password_policy("bad", 0);
    bad["passwordMinimumLength"] = json!("twelve");
    c.send(reqwest::Method::POST, &url, Some(bad.to_string()))
        .await
        .expect_error(400, "ModelValidationFailure");
}
