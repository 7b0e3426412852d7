//! Exactly once: a server killed in the middle of a large clock move, started again and told to
//! finish it, has fired every action once; on PostgreSQL a second instance moves the same clock
//! at the same time, and between them each action still fires once.

use super::*;
use crate::durability::Daemon;
use serde_json::json;
use std::collections::HashMap;

const DEVICE_COUNT: usize = 300;
const TARGET: &str = "2031-04-10T00:00:00Z";

fn token() -> String {
    let scopes = [WRITE, DEVICES_WRITE, DIRECTORY_WRITE, SERVICE_WRITE].join(" ");
    token_for(&claims(json!({ "scp": scopes })))
}

async fn set_to_target(c: &Client) -> Resp {
    move_clock(c, &json!({ "setTo": TARGET })).await
}

/// A frozen tenant of failing iPhones under a policy that emails on day 1 and locks on day 2.
async fn failing_fleet(c: &Client) {
    freeze_at(c, "2031-04-01T00:00:00Z").await;
    let template = template(c).await;
    let owner = user(c, "Ida", "en-US").await;
    let policy = ios_policy(
        "Exactly once",
        &[
            action("block", 0),
            email(24, &template),
            action("remoteLock", 48),
        ],
    );
    crate::engine::assigned_policy(c, &policy, &[crate::engine::all_devices()]).await;
    let mut made = tokio::task::JoinSet::new();
    for n in 0..DEVICE_COUNT {
        let (c, owner) = (c.clone(), owner.clone());
        made.spawn(async move {
            let id = c
                .post("beta", DEVICES, &iphone(&format!("PHONE-{n}"), &owner))
                .await
                .expect(201)
                .id();
            crate::engine::check_in(&c, &id, &failing())
                .await
                .expect(200);
        });
        if made.len() >= 16 {
            made.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(done) = made.join_next().await {
        done.unwrap();
    }
}

/// Kills `daemon` once the outbox shows the move under way (or it has finished).
async fn kill_mid_move(daemon: &mut Daemon, c: &Client) {
    for _ in 0..2_000 {
        if !outbox(c).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    daemon.child.kill().await.expect("SIGKILL");
}

/// Every device was emailed once and locked once.
async fn assert_each_fired_once(c: &Client) {
    let mut per_device: HashMap<String, usize> = HashMap::new();
    let mut skip = 0;
    loop {
        let url = format!("{}/complyd/v1/outbox?$top=1000&$skip={skip}", c.base);
        let page = c
            .send(reqwest::Method::GET, &url, None)
            .await
            .expect(200)
            .json()["value"]
            .as_array()
            .cloned()
            .unwrap();
        for message in &page {
            let device = message["managedDeviceId"].as_str().unwrap().to_string();
            *per_device.entry(device).or_default() += 1;
        }
        if page.len() < 1000 {
            break;
        }
        skip += page.len();
    }
    assert_eq!(per_device.len(), DEVICE_COUNT, "every device emailed");
    assert!(
        per_device.values().all(|n| *n == 1),
        "an email sent twice: {:?}",
        per_device
            .iter()
            .filter(|(_, n)| **n > 1)
            .collect::<Vec<_>>()
    );
    let devices = c.list("beta", &format!("{DEVICES}?$top=999")).await;
    assert_eq!(devices.len(), DEVICE_COUNT);
    for device in &devices {
        let lock = action_result(device, "remoteLock").expect("every device locked");
        assert_eq!(lock["startDateTime"], "2031-04-03T00:00:00Z");
    }
    let shown = clock(c).await;
    assert_eq!(shown["now"], TARGET);
}

#[tokio::test]
async fn a_move_killed_halfway_and_finished_after_a_restart_fires_each_action_once() {
    let data = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(data.path(), Some(SECRET)).await;
    let c = daemon.client(&token());
    failing_fleet(&c).await;
    let moving = {
        let c = c.clone();
        tokio::spawn(async move { set_to_target(&c).await })
    };
    // On PostgreSQL a second instance moves the same clock at the same time.
    let second = match test_store(data.path()) {
        Some(_) => {
            let other = Daemon::start(data.path(), Some(SECRET)).await;
            let oc = other.client(&token());
            let answer = set_to_target(&oc).await.expect(200).json();
            Some((other, answer))
        }
        None => None,
    };
    kill_mid_move(&mut daemon, &c).await;
    let _ = moving.await;
    let mut fired = 0;
    if let Some((_, answer)) = &second {
        fired += answer["firedCount"].as_u64().unwrap() as usize;
    }
    let daemon = Daemon::start(data.path(), Some(SECRET)).await;
    let c = daemon.client(&token());
    let finished = set_to_target(&c).await.expect(200).json();
    fired += finished["firedCount"].as_u64().unwrap() as usize;
    assert!(fired <= 2 * DEVICE_COUNT, "fired {fired}");
    assert_each_fired_once(&c).await;
    // Nothing is left to fire.
    assert_eq!(advance(&c, "P1D").await["firedCount"], 0);
}
