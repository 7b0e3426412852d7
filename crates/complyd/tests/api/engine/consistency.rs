//! A property test: after random check-ins, policy edits, assignment changes and group changes,
//! the maintained reports equal what the devices' policy states say, and evaluating everything
//! again from scratch changes nothing.

use super::*;
use std::collections::BTreeMap;

/// A small deterministic generator (the cases are the seeds).
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Everything the reports say, in a comparable form.
async fn reports(c: &Client, policies: &[String], devices: &[String]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for d in devices {
        let device = c
            .get("beta", &format!("{DEVICES}/{d}"))
            .await
            .expect(200)
            .json();
        out.insert(format!("verdict {d}"), device["complianceState"].clone());
        let mut states = c
            .list(
                "beta",
                &format!("{DEVICES}/{d}/deviceCompliancePolicyStates"),
            )
            .await;
        states.sort_by_key(|s| s["id"].as_str().unwrap_or_default().to_string());
        for s in states {
            let settings: Vec<Value> = s["settingStates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| json!([x["setting"], x["state"], x["currentValue"]]))
                .collect();
            out.insert(
                format!("state {d} {}", s["id"]),
                json!([s["state"], settings]),
            );
        }
    }
    for p in policies {
        let mut statuses: Vec<Value> = c
            .list("beta", &format!("{POLICIES}/{p}/deviceStatuses?$top=999"))
            .await
            .iter()
            .map(|s| json!([s["id"], s["status"]]))
            .collect();
        statuses.sort_by_key(|s| s.to_string());
        out.insert(format!("statuses {p}"), json!(statuses));
        let mut summaries: Vec<Value> = c
            .list(
                "beta",
                &format!("{POLICIES}/{p}/deviceSettingStateSummaries"),
            )
            .await
            .iter()
            .map(|s| {
                json!([
                    s["settingName"],
                    s["compliantDeviceCount"],
                    s["nonCompliantDeviceCount"],
                    s["errorDeviceCount"],
                    s["notApplicableDeviceCount"]
                ])
            })
            .collect();
        summaries.sort_by_key(|s| s.to_string());
        out.insert(format!("summaries {p}"), json!(summaries));
    }
    out
}

/// The per-policy setting counts, tallied from the devices' policy states.
fn tallied(reports: &BTreeMap<String, Value>, policy: &str) -> BTreeMap<String, [i64; 4]> {
    let mut counts: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for (key, value) in reports {
        if !(key.starts_with("state ") && key.ends_with(&format!("\"{policy}\""))) {
            continue;
        }
        for setting in value[1].as_array().unwrap() {
            let name = setting[0]
                .as_str()
                .unwrap()
                .rsplit('.')
                .next()
                .unwrap()
                .to_string();
            let slot = match setting[1].as_str().unwrap() {
                "compliant" => 0,
                "nonCompliant" => 1,
                "error" => 2,
                _ => 3,
            };
            counts.entry(name).or_default()[slot] += 1;
        }
    }
    counts
}

fn maintained(reports: &BTreeMap<String, Value>, policy: &str) -> BTreeMap<String, [i64; 4]> {
    reports[&format!("summaries {policy}")]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let n = |i: usize| s[i].as_i64().unwrap();
            (s[0].as_str().unwrap().to_string(), [n(1), n(2), n(3), n(4)])
        })
        .filter(|(_, counts)| counts.iter().any(|c| *c != 0))
        .collect()
}

#[tokio::test]
async fn maintained_reports_equal_a_recomputation() {
    let mut settings_seen = 0;
    for seed in 1..=4u64 {
        let server = Server::start().await;
        let c = admin(&server);
        let mut dice = Dice(seed);
        let group = c
            .post("v1.0", "groups", &json!({"displayName": "G", "mailEnabled": false, "mailNickname": "g", "securityEnabled": true}))
            .await
            .expect(201)
            .id();
        let policies = vec![
            assigned_policy(&c, &password_policy("A", 0), &[all_devices()]).await,
            assigned_policy(&c, &password_policy("B", 48), &[group_target(&group)]).await,
        ];
        let mut devices = Vec::new();
        let mut objects = Vec::new();
        for n in 0..5 {
            let id = c
                .post(
                    "beta",
                    DEVICES,
                    &windows_device(
                        &format!("D{n}"),
                        Some((&format!("u{}", n % 2), &format!("u{}@x.example", n % 2))),
                    ),
                )
                .await
                .expect(201)
                .id();
            let object = directory_object(&c, &id).await;
            devices.push(id);
            objects.push(object);
        }
        for _ in 0..14 {
            let d = dice.below(devices.len() as u64) as usize;
            match dice.below(5) {
                0 | 1 => {
                    let version = ["10.0.19044.1", "10.0.22631.2"][dice.below(2) as usize];
                    let report = json!({"passwordSet": dice.below(4) != 0, "passwordLength": dice.below(16),
                        "osVersion": version});
                    check_in(&c, &devices[d], &report).await.expect(200);
                }
                2 => {
                    let p = &policies[dice.below(2) as usize];
                    c.patch(
                        "beta",
                        &format!("{POLICIES}/{p}"),
                        &json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy",
                        "passwordMinimumLength": 4 + dice.below(10)}),
                    )
                    .await
                    .expect(200);
                }
                3 => {
                    let link = format!("groups/{group}/members/{}/$ref", objects[d]);
                    let added = c.post("v1.0", &format!("groups/{group}/members/$ref"),
                        &json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{}", objects[d])})).await;
                    if added.status == 400 {
                        c.delete("v1.0", &link).await.expect(204);
                    }
                }
                _ => {
                    let targets = match dice.below(3) {
                        0 => json!([{"target": all_devices()}]),
                        1 => json!([{"target": all_devices()}, {"target": excluded_group(&group)}]),
                        _ => json!([]),
                    };
                    c.post(
                        "beta",
                        &format!("{POLICIES}/{}/assign", policies[0]),
                        &json!({"assignments": targets}),
                    )
                    .await
                    .expect(200);
                }
            }
        }
        settle(&c).await;
        let before = reports(&c, &policies, &devices).await;
        for p in &policies {
            let tally = tallied(&before, p);
            settings_seen += tally.len();
            assert_eq!(
                maintained(&before, p),
                tally,
                "seed {seed}: policy {p}'s setting counts"
            );
        }
        // Every device evaluated again from scratch: nothing moves.
        secure_by_default(&c, false).await;
        let after = reports(&c, &policies, &devices).await;
        assert_eq!(
            before, after,
            "seed {seed}: a recomputation changed the reports"
        );
    }
    assert!(
        settings_seen > 0,
        "the random runs reached some setting states"
    );
}
