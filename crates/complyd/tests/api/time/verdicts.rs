//! `GET /complyd/v1/verdicts`: the devices by verdict, the devices no policy covers, and the
//! verdicts' trend over the tenant's clock.

use super::*;
use crate::engine::{
    all_devices, assigned_policy, check_in, password_policy, settle, windows_device,
};

async fn verdicts(c: &Client) -> Value {
    let url = format!("{}/complyd/v1/verdicts", c.base);
    c.send(reqwest::Method::GET, &url, None)
        .await
        .expect(200)
        .json()
}

fn point_at<'a>(answer: &'a Value, at: &str) -> Option<&'a Value> {
    answer["trend"]
        .as_array()?
        .iter()
        .find(|p| p["dateTime"] == at)
}

#[tokio::test]
async fn devices_without_a_policy_are_counted_as_policies_come_and_go() {
    let server = Server::start().await;
    let c = admin(&server);
    let first = c
        .post("beta", DEVICES, &windows_device("LAPTOP-1", None))
        .await
        .expect(201)
        .id();
    let second = c
        .post("beta", DEVICES, &windows_device("LAPTOP-2", None))
        .await
        .expect(201)
        .id();
    let answer = verdicts(&c).await;
    assert_eq!(answer["deviceCount"], 2, "{answer}");
    assert_eq!(answer["devicesWithoutPolicy"], 2);

    // A policy of another platform covers no Windows device.
    assigned_policy(&c, &ios_policy("Phones", &[]), &[all_devices()]).await;
    settle(&c).await;
    assert_eq!(verdicts(&c).await["devicesWithoutPolicy"], 2);

    let windows = assigned_policy(&c, &password_policy("Laptops", 0), &[all_devices()]).await;
    settle(&c).await;
    assert_eq!(verdicts(&c).await["devicesWithoutPolicy"], 0);

    // A device that leaves is not counted; one left without its policy is again.
    c.delete("beta", &format!("{DEVICES}/{second}"))
        .await
        .expect(204);
    c.delete("beta", &format!("{POLICIES}/{windows}"))
        .await
        .expect(204);
    settle(&c).await;
    let answer = verdicts(&c).await;
    assert_eq!(answer["deviceCount"], 1, "{answer}");
    assert_eq!(answer["devicesWithoutPolicy"], 1);
    assert_eq!(
        device(&c, &first).await["complianceState"],
        "compliant",
        "no policy and not secure by default"
    );
}

#[tokio::test]
async fn the_trend_follows_a_grace_period_running_out_on_the_tenant_clock() {
    let server = Server::start().await;
    let c = admin(&server);
    freeze_at(&c, "2031-01-10T00:00:00Z").await;
    assigned_policy(&c, &password_policy("Three days", 72), &[all_devices()]).await;
    let id = c
        .post("beta", DEVICES, &windows_device("LAPTOP-9", None))
        .await
        .expect(201)
        .id();
    check_in(&c, &id, &json!({"passwordSet": false, "passwordLength": 0}))
        .await
        .expect(200);
    let before = verdicts(&c).await;
    assert_eq!(before["current"]["inGracePeriod"], 1, "{before}");
    assert_eq!(before["now"], "2031-01-10T00:00:00Z");

    let moved = advance(&c, "P5D").await;
    assert_eq!(moved["firedCount"], 1, "{moved}");
    let after = verdicts(&c).await;
    assert_eq!(after["current"]["noncompliant"], 1, "{after}");
    assert_eq!(after["current"]["inGracePeriod"], 0);
    // A step at the move's start (in grace) and one where the grace period ran out.
    let start = point_at(&after, "2031-01-10T00:00:00Z").expect("a point at the start");
    assert_eq!(start["inGracePeriod"], 1, "{after}");
    let ran_out = point_at(&after, "2031-01-13T00:00:00Z").expect("a point when grace ran out");
    assert_eq!(ran_out["noncompliant"], 1, "{after}");
    assert_eq!(ran_out["inGracePeriod"], 0);
    let times: Vec<i64> = after["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| seconds(&p["dateTime"]))
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");

    // Nothing changes on a second move: no new point.
    advance(&c, "P1D").await;
    assert_eq!(verdicts(&c).await["trend"], after["trend"]);
}

#[tokio::test]
async fn verdicts_need_a_device_management_permission_and_are_only_read() {
    let server = Server::start().await;
    let directory_only = server.client_with(TokenRequest::delegated(TENANT, &[DIRECTORY_WRITE]));
    let url = format!("{}/complyd/v1/verdicts", directory_only.base);
    directory_only
        .send(reqwest::Method::GET, &url, None)
        .await
        .expect(403);
    let c = admin(&server);
    let refused = c.send(reqwest::Method::POST, &url, Some("{}".into())).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("/complyd/v1/verdicts"));
    let empty = verdicts(&c).await;
    assert_eq!(empty["deviceCount"], 0);
    assert_eq!(
        empty["trend"],
        json!([]),
        "a tenant without devices has no trend"
    );
}

/// A data folder from before the engine recorded coverage (schema 7, records without it): the
/// migration has every tenant evaluated once, which records it.
#[tokio::test]
async fn devices_evaluated_before_coverage_was_recorded_are_counted_after_the_migration() {
    let server = Server::start().await;
    let c = admin(&server);
    for name in ["OLD-1", "OLD-2"] {
        c.post("beta", DEVICES, &windows_device(name, None))
            .await
            .expect(201);
    }
    assert_eq!(verdicts(&c).await["devicesWithoutPolicy"], 2);
    let dir = server.stop().await;
    match test_store(dir.path()) {
        Some(url) => {
            tokio::task::spawn_blocking(move || {
                let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                // PostgreSQL numbers its migrations by position; the last is 0008.
                db.batch_execute(
                    "DELETE FROM entity WHERE collection = 'managedDevices/_uncovered';
                     UPDATE entity SET body = (body::jsonb - 'covered')::json
                       WHERE collection = 'managedDevices/_evaluation';
                     DELETE FROM complyd_schema WHERE version = (SELECT max(version) FROM complyd_schema);",
                )
                .unwrap();
            })
            .await
            .unwrap();
        }
        None => {
            let db = rusqlite::Connection::open(dir.path().join("complyd.db")).unwrap();
            // The generated indexes and triggers name complyd's functions; they cover no row
            // changed here.
            let flags = rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC;
            db.create_scalar_function("dto_ticks", 1, flags, |_| Ok(None::<i64>))
                .unwrap();
            db.create_scalar_function("complyd_unpack", 1, flags, |_| Ok(None::<String>))
                .unwrap();
            db.execute_batch(
                "DELETE FROM entity WHERE collection = 'managedDevices/_uncovered';
                 UPDATE entity SET body = json_remove(body, '$.covered')
                   WHERE collection = 'managedDevices/_evaluation';",
            )
            .unwrap();
            // Schema 7 had no tables of their own or scopes (migrations 10 and 11) either: their rows go back to
            // the shared table.
            let own: Vec<String> = db
                .prepare("SELECT name FROM own_table")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for name in own {
                let columns = "tenant, collection, parent, id, type_name, body, shape, k0, k1, k2, k3, k4, k5, k6, k7";
                db.execute_batch(&format!(
                    "INSERT INTO entity ({columns}) SELECT {columns} FROM {name} ORDER BY seq; DROP TABLE {name};"
                ))
                .unwrap();
            }
            db.execute_batch("DROP TABLE own_table; DROP TABLE scope")
                .unwrap();
            // Schema 7 had no slot columns (migration 0009) either: the generated indexes over
            // them go (the server makes them again) and the columns with them.
            let generated: Vec<String> = db
                .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'model_index_%'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for name in generated {
                db.execute_batch(&format!("DROP INDEX {name}")).unwrap();
            }
            for k in 0..8 {
                db.execute_batch(&format!("ALTER TABLE entity DROP COLUMN k{k}"))
                    .unwrap();
            }
            db.pragma_update(None, "user_version", 7).unwrap();
        }
    }
    let server = Server::start_in(dir, |_| {}).await;
    let c = admin(&server);
    // The migration's mark is taken by the background worker or by the settle, whichever first.
    settle(&c).await;
    assert_eq!(verdicts(&c).await["devicesWithoutPolicy"], 2);
}
