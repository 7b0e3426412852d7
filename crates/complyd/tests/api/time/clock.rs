//! The clock itself: moved forward only, frozen, per tenant, and the time every write stamps.

use super::*;

#[tokio::test]
async fn a_frozen_clock_moves_only_when_told_and_never_back() {
    let server = Server::start().await;
    let c = admin(&server);
    let shown = clock(&c).await;
    assert_eq!(shown["frozen"], false);
    assert_eq!(shown["pendingCount"], 0);
    let frozen = move_clock(&c, &json!({"freeze": true}))
        .await
        .expect(200)
        .json();
    assert_eq!(frozen["frozen"], true);
    let start = seconds(&frozen["now"]);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(
        seconds(&clock(&c).await["now"]),
        start,
        "frozen time stands"
    );

    let moved = advance(&c, "P3DT2H").await;
    assert_eq!(seconds(&moved["now"]), start + 3 * 86_400 + 7_200);
    assert_eq!(moved["firedCount"], 0);
    let set = move_clock(&c, &json!({"setTo": "2099-01-01T00:00:00Z"}))
        .await
        .expect(200)
        .json();
    assert_eq!(set["now"], "2099-01-01T00:00:00Z");

    // Never back, and every bad move is a 400 naming what is wrong.
    let back = move_clock(&c, &json!({"setTo": "2098-12-31T00:00:00Z"}))
        .await
        .expect_error(400, "BadRequest");
    assert!(back.text.contains("never moves back"), "{}", back.text);
    for (body, says) in [
        (json!({"advanceBy": "P1M"}), "months"),
        (json!({"advanceBy": "3 days"}), "ISO 8601"),
        (json!({"advanceBy": "P40000D"}), "100 years"),
        (
            json!({"advanceBy": "P1D", "setTo": "2100-01-01T00:00:00Z"}),
            "not both",
        ),
        (json!({"rewind": true}), "rewind"),
        (json!({}), "names advanceBy"),
        (json!({"freeze": "yes"}), "true or false"),
    ] {
        let refused = move_clock(&c, &body).await.expect_error(400, "BadRequest");
        assert!(refused.text.contains(says), "{body}: {}", refused.text);
    }
    assert_eq!(clock(&c).await["now"], "2099-01-01T00:00:00Z");

    // Unfrozen, it runs on from where it stands.
    let running = move_clock(&c, &json!({"freeze": false}))
        .await
        .expect(200)
        .json();
    assert_eq!(running["frozen"], false);
    assert!(seconds(&running["now"]) >= seconds(&json!("2099-01-01T00:00:00Z")));
}

#[tokio::test]
async fn writes_are_stamped_with_the_tenants_clock_and_tenants_keep_their_own() {
    let server = Server::start().await;
    let c = admin(&server);
    freeze_at(&c, "2030-06-01T08:00:00Z").await;
    let policy = c
        .post(
            "beta",
            POLICIES,
            &crate::engine::password_policy("Stamped", 0),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(policy["createdDateTime"], "2030-06-01T08:00:00Z");
    assert_eq!(policy["lastModifiedDateTime"], "2030-06-01T08:00:00Z");
    advance(&c, "PT1H").await;
    let id = policy["id"].as_str().unwrap();
    c.patch(
        "beta",
        &format!("{POLICIES}/{id}"),
        &json!({"description": "later"}),
    )
    .await;
    let patched = c.get("beta", &format!("{POLICIES}/{id}")).await.json();
    assert_eq!(patched["createdDateTime"], "2030-06-01T08:00:00Z");
    assert_eq!(patched["lastModifiedDateTime"], "2030-06-01T09:00:00Z");
    // The audit log and a check-in take the same time.
    let auditor = server.client_with(TokenRequest::delegated(
        TENANT,
        &["DeviceManagementApps.Read.All"],
    ));
    let events = auditor
        .get("beta", "deviceManagement/auditEvents")
        .await
        .values();
    for at in ["2030-06-01T08:00:00Z", "2030-06-01T09:00:00Z"] {
        assert!(
            events.iter().any(|e| e["activityDateTime"] == at),
            "no event at {at}: {events:?}"
        );
    }
    let device = c
        .post(
            "beta",
            DEVICES,
            &crate::engine::windows_device("STAMPED", None),
        )
        .await
        .expect(201)
        .id();
    crate::engine::check_in(&c, &device, &crate::engine::good_report())
        .await
        .expect(200);
    let stored = super::device(&c, &device).await;
    assert_eq!(stored["lastSyncDateTime"], "2030-06-01T09:00:00Z");

    // Another tenant's clock is real time still.
    let other = server.client_with(TokenRequest::delegated(OTHER_TENANT, &[WRITE]));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let theirs = seconds(&clock(&other).await["now"]);
    assert!((theirs - now).abs() < 60, "{theirs} vs {now}");
}

#[tokio::test]
async fn only_writers_move_the_clock() {
    let server = Server::start().await;
    let reader = server.client_with(TokenRequest::delegated(TENANT, &[READ]));
    clock(&reader).await;
    move_clock(&reader, &json!({"advanceBy": "P1D"}))
        .await
        .expect_error(403, "Forbidden");
    let nobody = server.client_with(TokenRequest::delegated(TENANT, &["User.Read"]));
    nobody
        .send(reqwest::Method::GET, &clock_url(&nobody), None)
        .await
        .expect_error(403, "Forbidden");
}

#[tokio::test]
async fn the_clock_command_shows_and_moves_a_tenants_clock() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = crate::durability::complyd(args, data.path());
        async move {
            let out = cmd.output().await.expect("complyd clock");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<Value>(&out.stdout).expect("JSON")
        }
    };
    let set = run(&["clock", "set", "2032-02-02T00:00:00Z", "--freeze", "true"]).await;
    assert_eq!(set["now"], "2032-02-02T00:00:00Z");
    assert_eq!(set["frozen"], true);
    let moved = run(&["clock", "advance", "P1DT6H"]).await;
    assert_eq!(moved["now"], "2032-02-03T06:00:00Z");
    assert_eq!(moved["firedCount"], 0);
    let shown = run(&["clock", "show"]).await;
    assert_eq!(shown["now"], "2032-02-03T06:00:00Z");
    assert_eq!(shown["pendingCount"], 0);
    // Another tenant's clock was not moved; a bad duration fails with the API's message.
    let other = run(&["clock", "show", "--tenant", OTHER_TENANT]).await;
    assert_eq!(other["frozen"], false);
    let bad = crate::durability::complyd(&["clock", "advance", "P1M"], data.path())
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("months"));
}
