//! What the store must guarantee beyond one process: several instances on one database, export
//! and import between stores, and a database that goes away and comes back; and, on whichever
//! store the suite runs, that a refused write keeps nothing however its group is formed.

use crate::durability::{complyd, complyd_on, Daemon};
use crate::support::*;
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

#[tokio::test]
async fn two_instances_on_one_store_agree() {
    let data = tempfile::tempdir().unwrap();
    let (a, b) = (
        Daemon::start(data.path(), Some(SECRET)).await,
        Daemon::start(data.path(), Some(SECRET)).await,
    );
    let (ca, cb) = (a.test_client(), b.test_client());

    // A write through one is read through the other at once.
    let policy = ca.create_policy("beta", "shared").await;
    cb.get("beta", &policy_path(&policy)).await.expect(200);

    // Concurrent PATCHes of different properties through both: none is lost.
    let mut patches = Vec::new();
    for i in 0..20 {
        let (ca, cb, path) = (ca.clone(), cb.clone(), policy_path(&policy));
        patches.push(tokio::spawn(async move {
            ca.patch("beta", &path, &json!({"description": format!("a{i}")}))
                .await
                .expect(200);
        }));
        let path = policy_path(&policy);
        patches.push(tokio::spawn(async move {
            cb.patch("beta", &path, &json!({"osMinimumVersion": format!("b{i}")}))
                .await
                .expect(200);
        }));
    }
    for p in patches {
        p.await.unwrap();
    }
    let after = ca.get("beta", &policy_path(&policy)).await.json();
    assert_eq!(after["version"], 41, "every PATCH counted once: {after}");
    assert!(after["description"].as_str().unwrap().starts_with('a'));
    assert!(after["osMinimumVersion"].as_str().unwrap().starts_with('b'));

    // Concurrent creates through both: no duplicate ids.
    let mut creates = Vec::new();
    for i in 0..30 {
        let client = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        let path = format!("{}/deviceStatuses", policy_path(&policy));
        creates.push(tokio::spawn(async move {
            client
                .post("beta", &path, &device_status("compliant"))
                .await
                .expect(201)
                .id()
        }));
    }
    let mut ids = HashSet::new();
    for c in creates {
        assert!(ids.insert(c.await.unwrap()), "duplicate id");
    }

    // A paging walk that alternates between the instances sees every status once.
    let mut next = Some(format!(
        "{}/beta/{}/deviceStatuses?$top=4",
        a.base,
        policy_path(&policy)
    ));
    let (mut seen, mut turn) = (Vec::new(), 0);
    while let Some(url) = next {
        let other = if turn % 2 == 0 { &a.base } else { &b.base };
        let url = url.replacen(&a.base, other, 1).replacen(&b.base, other, 1);
        let page = ca.get_url(&url).await.expect(200).json();
        seen.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string()),
        );
        next = page["@odata.nextLink"].as_str().map(str::to_string);
        turn += 1;
        assert!(turn < 100);
    }
    assert_eq!(seen.len(), 30);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), ids);
}

pub(crate) async fn run(mut cmd: tokio::process::Command) -> String {
    let out = cmd.output().await.expect("complyd");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    stderr
}

pub(crate) fn export(data: &Path, store: Option<String>, file: &Path) -> tokio::process::Command {
    let mut cmd = complyd_on(&["export"], data, store);
    cmd.arg("--out").arg(file);
    cmd
}

#[tokio::test]
async fn export_then_import_into_another_store_round_trips() {
    let (source, target) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // The source is always SQLite; the target is the suite's store, so that on the PostgreSQL run
    // this is SQLite → export → PostgreSQL import → export. Some data of two tenants first.
    let daemon = Daemon::start_on(source.path(), Some(SECRET), &[], None).await;
    let client = daemon.test_client();
    let policy = client.create_policy("beta", "exported").await;
    client
        .post(
            "beta",
            &format!("{}/deviceStatuses", policy_path(&policy)),
            &device_status("error"),
        )
        .await
        .expect(201);
    client.post("beta", &format!("{}/assign", policy_path(&policy)),
        &json!({"assignments": [{"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]})).await.expect(200);
    daemon
        .client(&token_for(&claims(json!({"tid": OTHER_TENANT}))))
        .create_policy("v1.0", "other tenant")
        .await;
    drop(daemon);

    let files = tempfile::tempdir().unwrap();
    let (first, second) = (
        files.path().join("first.ndjson"),
        files.path().join("second.ndjson"),
    );
    let summary = run(export(source.path(), None, &first)).await;
    // Tenant one: policy, rule, action, status, assignment; tenant two: policy, rule, action; and
    // the audit events of the four writes (three in tenant one, one in tenant two).
    assert!(summary.contains("exported 12 entities"), "{summary}");
    let mut import = complyd(&["import"], target.path());
    import.arg(&first);
    assert!(run(import).await.contains("imported 12 entities"));
    run(export(target.path(), test_store(target.path()), &second)).await;
    assert_eq!(
        std::fs::read_to_string(&first).unwrap(),
        std::fs::read_to_string(&second).unwrap()
    );
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&first)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(line["path"], format!("deviceCompliancePolicies/{policy}"));

    // The imported store serves the same entities, and refuses a second import.
    let daemon = Daemon::start(target.path(), Some(SECRET)).await;
    let body = daemon
        .test_client()
        .get(
            "beta",
            &format!("{}?$expand=assignments", policy_path(&policy)),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(body["assignments"].as_array().unwrap().len(), 1);
    drop(daemon);
    let mut again = complyd(&["import"], target.path());
    again.arg(&first);
    let out = again.output().await.unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not empty"));
}

pub(crate) fn pg_script(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh");
    let out = std::process::Command::new(script)
        .args(args)
        .output()
        .expect("scripts/pg.sh");
    assert!(
        out.status.success(),
        "pg.sh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A PostgreSQL of its own (stopped and started by the test), whichever store the suite runs on.
#[tokio::test]
async fn a_lost_database_answers_503_fast_and_recovers() {
    let cluster = tempfile::Builder::new()
        .prefix("complyd-pg-failure")
        .tempdir()
        .unwrap();
    let cluster_dir = cluster.path().to_str().unwrap().to_string();
    let url = pg_script(&["start", &cluster_dir]);
    let port = url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_on(data.path(), Some(SECRET), &[], Some(url.clone())).await;
    let client = daemon.test_client();
    let policy = client.create_policy("v1.0", "before").await;

    pg_script(&["stop", &cluster_dir]);
    for _ in 0..5 {
        let started = Instant::now();
        let resp = client.get("v1.0", &policy_path(&policy)).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "failed slowly: {:?}",
            started.elapsed()
        );
        let resp = resp.expect_error(503, "ServiceUnavailable");
        assert!(resp.header("retry-after").is_some());
        client
            .post("v1.0", POLICIES, &windows10_policy("during"))
            .await
            .expect_error(503, "ServiceUnavailable");
    }

    pg_script(&["start", &cluster_dir, &port]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let resp = client.get("v1.0", &policy_path(&policy)).await;
        if resp.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "did not recover: {}", resp.text);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    client.create_policy("v1.0", "after").await;
    assert_eq!(
        client.list("v1.0", POLICIES).await.len(),
        2,
        "nothing half-written while down"
    );
    drop(daemon);
    pg_script(&["stop", &cluster_dir]);
}

/// Live pages across instances: a change on one instance of a shared PostgreSQL store moves the
/// change number the other's pages watch (store/postgres/relay.rs). SQLite has no relay (two
/// processes on one file see each other's writes at the next page load), so this runs in the
/// suite's PostgreSQL pass.
#[tokio::test]
async fn a_change_on_one_instance_reaches_the_others_live_pages_through_postgres() {
    let data = tempfile::tempdir().unwrap();
    let Some(url) = test_store(data.path()) else {
        return;
    };
    let (here, there) = (
        std::sync::Arc::new(complyd::common::Changes::default()),
        std::sync::Arc::new(complyd::common::Changes::default()),
    );
    complyd::store::relay_changes(&url, here.clone()).unwrap();
    complyd::store::relay_changes(&url, there.clone()).unwrap();
    let moved = |changes: &complyd::common::Changes, tenant: &str, from: u64| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if changes.version(tenant) != from {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    };
    // Each moves every number once when it starts listening: wait for both.
    assert!(moved(&here, "probe", 0), "the relay listens");
    assert!(moved(&there, "probe", 0), "the relay listens");
    std::thread::sleep(Duration::from_millis(200));
    let before = there.version("t-1");
    here.tenant_changed("t-1");
    assert!(
        moved(&there, "t-1", before),
        "a tenant's change reached the other instance"
    );
    let before = here.version("t-2");
    there.everything_changed();
    assert!(
        moved(&here, "t-2", before),
        "background work reached the other instance"
    );
}

/// A device status of policy `p`, numbered `i`, for the writes below.
fn status_key(i: usize) -> complyd::store::Key {
    let id = format!("s{i:04}");
    complyd::store::Key::new(TENANT, "deviceCompliancePolicies/deviceStatuses", "p", &id)
}

/// A refused write keeps nothing, alone in its group (no savepoint: the transaction rolls back)
/// or among others (its savepoint rolls back); the writes beside it keep theirs. On the suite's
/// store: SQLite, or PostgreSQL in the PostgreSQL run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_keeps_nothing_alone_or_in_a_group_and_the_others_keep_theirs() {
    use complyd::store::{Query, Store, StoreError, WriteTx};
    let dir = tempfile::tempdir().unwrap();
    let url = test_store(dir.path());
    let store: std::sync::Arc<dyn Store> = complyd::store::open(url.as_deref(), dir.path())
        .await
        .unwrap();
    fn insert(tx: &mut dyn WriteTx, i: usize) -> Result<(), StoreError> {
        let body = r#"{"status":"compliant","deviceDisplayName":"d"}"#;
        tx.insert(
            &status_key(i),
            "microsoft.graph.deviceComplianceDeviceStatus",
            body,
        )
    }
    let refused = |i: usize| {
        move |tx: &mut dyn WriteTx| -> Result<(), StoreError> {
            insert(tx, i)?;
            Err(StoreError::Conflict)
        }
    };
    let kept = |i: usize| move |tx: &mut dyn WriteTx| insert(tx, i);
    let alone = store.write(refused(0)).await;
    assert!(matches!(alone, Err(StoreError::Conflict)), "{alone:?}");
    assert!(store.get(&status_key(0)).await.unwrap().is_none());

    // Queued behind a long write, most are taken into groups of several (what is kept does not
    // depend on how they are grouped).
    let mut writes = tokio::task::JoinSet::new();
    let long = std::sync::Arc::clone(&store);
    writes.spawn(async move {
        long.write(|tx| (1000..3000).try_for_each(|i| insert(tx, i)))
            .await
            .map(|_| 1000)
    });
    for i in 1..41 {
        let store = std::sync::Arc::clone(&store);
        writes.spawn(async move {
            if i % 2 == 0 {
                store.write(refused(i)).await.map(|_| i)
            } else {
                store.write(kept(i)).await.map(|_| i)
            }
        });
    }
    let mut answered = 0;
    while let Some(done) = writes.join_next().await {
        match done.unwrap() {
            Ok(i) => assert!(i == 1000 || i % 2 == 1, "write {i} was kept"),
            Err(e) => assert!(matches!(e, StoreError::Conflict), "{e:?}"),
        }
        answered += 1;
    }
    assert_eq!(answered, 41);
    for i in 0..41 {
        let found = store.get(&status_key(i)).await.unwrap();
        assert_eq!(found.is_some(), i % 2 == 1, "status {i}");
    }
    let query = Query::all(TENANT, "deviceCompliancePolicies/deviceStatuses", "p");
    assert_eq!(store.count_matching(query).await.unwrap(), 2000 + 20);
}
