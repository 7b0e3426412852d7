//! Bound actions, tokens and a full disk: the service-level findings of the hardening review.

use crate::support::*;
use serde_json::{json, Value};

// ---- Bound actions: a missing parameter never clears a collection ----

/// `POST …/{action}` with this raw body must be 400 naming the parameter, and change nothing.
async fn refuse_action(client: &Client, version: &str, action: &str, body: &str, parameter: &str) {
    let resp = client.post_raw(version, action, body).await;
    let message = resp.expect_error(400, "BadRequest").error_message();
    assert!(
        message.contains(parameter),
        "{action} with body {body:?}: message {message:?} does not name '{parameter}'"
    );
}

#[tokio::test]
async fn an_action_without_its_parameter_is_refused_and_deletes_nothing() {
    let server = Server::start().await;
    let client = server.client();
    for version in VERSIONS {
        let p = client
            .create_policy(version, "actions keep their data")
            .await;
        let assignments = format!("{POLICIES}/{p}/assignments");
        let rules = format!("{POLICIES}/{p}/scheduledActionsForRule");
        let target =
            json!({ "target": { "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget" } });
        client
            .post(
                version,
                &format!("{POLICIES}/{p}/assign"),
                &json!({ "assignments": [target] }),
            )
            .await
            .expect(200);
        let (assigned, scheduled) = (
            client.list(version, &assignments).await,
            client.list(version, &rules).await,
        );
        assert_eq!(assigned.len(), 1);
        assert_eq!(scheduled.len(), 1, "create_policy deep-inserts one rule");

        let assign = format!("{POLICIES}/{p}/assign");
        let schedule = format!("{POLICIES}/{p}/scheduleActionsForRules");
        for body in ["", "   \n", "{}", r#"{"assignments": null}"#] {
            refuse_action(&client, version, &assign, body, "assignments").await;
        }
        for body in [
            "",
            "{}",
            r#"{"deviceComplianceScheduledActionForRules": null}"#,
        ] {
            refuse_action(
                &client,
                version,
                &schedule,
                body,
                "deviceComplianceScheduledActionForRules",
            )
            .await;
        }
        assert_eq!(client.list(version, &assignments).await, assigned);
        assert_eq!(client.list(version, &rules).await, scheduled);

        // An explicitly empty list is still the way to clear.
        client
            .post(version, &assign, &json!({ "assignments": [] }))
            .await
            .expect(200);
        assert!(client.list(version, &assignments).await.is_empty());
    }
}

// ---- Tokens: an RS256 token verified with an issuer's key must name that issuer ----

#[tokio::test]
async fn an_rs256_token_without_iss_is_refused() {
    use crate::identity::{app_token, graph_claims, list_policies, own_signed, registered};
    let (server, store) = registered().await;
    // The token service makes its signing key on first use.
    let _ = app_token(&server, crate::identity::CLIENT).await;
    let now = complyd::common::now_unix();
    let signed = |claims: Value| {
        let store = store.clone();
        async move { own_signed(&store, jsonwebtoken::Algorithm::RS256, &claims).await }
    };
    let control = signed(graph_claims(now)).await;
    assert_eq!(list_policies(&server, &control).await.0, 200);
    for iss in [None, Some(json!("")), Some(Value::Null)] {
        let mut claims = graph_claims(now);
        match iss {
            None => {
                claims.as_object_mut().unwrap().remove("iss");
            }
            Some(v) => claims["iss"] = v,
        }
        let (status, body) = list_policies(&server, &signed(claims.clone()).await).await;
        assert_eq!(status, 401, "iss {:?}: {body}", claims.get("iss"));
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
        // A null `iss` is not a string: the token does not parse. The others name the issuer.
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("issuer") || message.contains("parsing failed"),
            "{body}"
        );
    }
}

// ---- A full disk: 507 with a Graph body, reads go on, writes resume once space is freed ----

/// A small tmpfs mounted for the length of a test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts `size` of tmpfs; `None` when this process may not mount.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Self { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills the disk with one file until the kernel says no space is left.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        let _ = file.write(&[0u8; 512]); // the last partial block
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Marks the copy of this test binary that runs inside its own user and mount namespace.
const IN_NAMESPACE: &str = "COMPLYD_TEST_MOUNT_NAMESPACE";

#[tokio::test]
async fn a_full_disk_is_507_reads_go_on_and_writes_resume_once_space_is_freed() {
    let Some(disk) = SmallDisk::mount("16m") else {
        // Not allowed to mount here: run this one test again as root of a namespace of its own.
        assert!(
            std::env::var_os(IN_NAMESPACE).is_none(),
            "cannot mount a tmpfs even inside a user namespace"
        );
        let status = std::process::Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount"])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "hardening::service::a_full_disk_is_507_reads_go_on_and_writes_resume_once_space_is_freed",
            ])
            .env(IN_NAMESPACE, "1")
            .status()
            .expect("unshare (util-linux) is needed to mount a tmpfs without root");
        assert!(status.success(), "the test failed inside its namespace");
        return;
    };
    let data = disk.path().join("data");
    let server = Server::start_with(|c| {
        c.data_dir = data.clone();
        c.store = None; // the data folder's SQLite, on the small disk
    })
    .await;
    let client = server.client();
    let kept = client
        .create_policy("v1.0", "written before the disk filled")
        .await;

    let filler = disk.fill();
    // A body larger than any free page or log space the database holds.
    let mut big = windows10_policy("too big for a full disk");
    big["description"] = json!("x".repeat(1024 * 1024));
    let before = client.list("v1.0", POLICIES).await;
    for _ in 0..3 {
        let resp = client.post("v1.0", POLICIES, &big).await;
        let message = resp
            .expect_error(507, "InsufficientStorage")
            .error_message();
        assert!(message.contains("nothing was written"), "{message}");
    }
    // Reads keep working, and nothing of the refused writes is there.
    assert_eq!(client.list("v1.0", POLICIES).await, before);
    client.get("v1.0", &policy_path(&kept)).await.expect(200);

    // Space comes back: writes succeed without a restart.
    std::fs::remove_file(filler).unwrap();
    let added = client.post("v1.0", POLICIES, &big).await.expect(201).id();
    assert_eq!(client.list("v1.0", POLICIES).await.len(), before.len() + 1);

    // The database is intact (quick_check: integrity_check would need the index functions of
    // the server) and holds exactly what was answered.
    server.stop().await;
    let conn = rusqlite::Connection::open(data.join("complyd.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let again = Server::start_with(|c| {
        c.data_dir = data.clone();
        c.store = None;
    })
    .await;
    let ids = again.client().ids("v1.0", POLICIES).await;
    assert!(ids.contains(&kept) && ids.contains(&added), "{ids:?}");
    assert_eq!(ids.len(), before.len() + 1);
    again.stop().await;
}

// ---- Collections without a documented cap are bounded too ----

#[tokio::test]
async fn a_collection_without_a_documented_cap_holds_at_most_a_thousand_items() {
    let server = Server::start().await;
    let client = server.client();
    let tags = |n: usize| Value::from(vec!["0"; n]);
    let mut body = windows10_policy("many tags");
    body["roleScopeTagIds"] = tags(1_001);
    let message = client
        .post("beta", POLICIES, &body)
        .await
        .expect_error(400, "ModelValidationFailure")
        .error_message();
    assert!(
        message.contains("roleScopeTagIds") && message.contains("1000"),
        "{message}"
    );
    assert!(
        client.list("beta", POLICIES).await.is_empty(),
        "nothing stored"
    );

    body["roleScopeTagIds"] = tags(1_000);
    let id = client.post("beta", POLICIES, &body).await.expect(201).id();
    let path = format!("{POLICIES}/{id}");
    let message = client
        .patch("beta", &path, &json!({ "roleScopeTagIds": tags(1_001) }))
        .await
        .expect_error(400, "ModelValidationFailure")
        .error_message();
    assert!(message.contains("roleScopeTagIds"), "{message}");
    let stored = client.get("beta", &path).await.expect(200).json();
    assert_eq!(
        stored["roleScopeTagIds"],
        tags(1_000),
        "the refused update changed nothing"
    );

    // An action's collection parameter too.
    let target =
        json!({ "target": { "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget" } });
    let assignments = Value::from(vec![target; 1_001]);
    let message = client
        .post(
            "beta",
            &format!("{path}/assign"),
            &json!({ "assignments": assignments }),
        )
        .await
        .expect_error(400, "ModelValidationFailure")
        .error_message();
    assert!(message.contains("assignments"), "{message}");
    assert!(client
        .list("beta", &format!("{path}/assignments"))
        .await
        .is_empty());

    // And a contained collection written inline (deep insert).
    let mut body = windows10_policy("many rules");
    let rule = body["scheduledActionsForRule"][0].clone();
    body["scheduledActionsForRule"] = Value::from(vec![rule; 1_001]);
    let message = client
        .post("beta", POLICIES, &body)
        .await
        .expect_error(400, "ModelValidationFailure")
        .error_message();
    assert!(message.contains("scheduledActionsForRule"), "{message}");
    assert_eq!(
        client.list("beta", POLICIES).await.len(),
        1,
        "nothing more stored"
    );
}
