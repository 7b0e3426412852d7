//! The scenarios of the facts page: grace running out, an email on day 1 and a lock on day 5,
//! a device fixed on day 2, two instances of one action, actions disabled, the check-in
//! threshold, and the retire list.

use super::*;
use crate::engine::{all_devices, assigned_policy, check_in, password_policy, windows_device};

/// A frozen tenant with the policy assigned to every device and a failing iPhone of a German
/// user; answers (client, device id, template id).
pub(super) async fn failing_iphone(
    server: &Server,
    actions: impl Fn(&str) -> Vec<Value>,
) -> (Client, String) {
    let c = admin(server);
    freeze_at(&c, "2031-03-01T09:00:00Z").await;
    let template = template(&c).await;
    let owner = user(&c, "Greta", "de-DE").await;
    assigned_policy(
        &c,
        &ios_policy("Passcode", &actions(&template)),
        &[all_devices()],
    )
    .await;
    let id = c
        .post("beta", DEVICES, &iphone("IPHONE-1", &owner))
        .await
        .expect(201)
        .id();
    let verdict = check_in(&c, &id, &failing()).await.expect(200).json();
    assert_eq!(verdict["complianceState"], "noncompliant");
    (c, id)
}

fn fired_kinds(answer: &Value) -> Vec<String> {
    answer["fired"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "fired")
        .map(|f| f["actionType"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn the_grace_period_runs_out_and_every_report_follows() {
    let server = Server::start().await;
    let c = admin(&server);
    freeze_at(&c, "2031-01-10T00:00:00Z").await;
    let policy = assigned_policy(&c, &password_policy("Three days", 72), &[all_devices()]).await;
    let id = c
        .post("beta", DEVICES, &windows_device("LAPTOP-9", None))
        .await
        .expect(201)
        .id();
    let verdict = check_in(&c, &id, &json!({"passwordSet": false, "passwordLength": 0}))
        .await
        .expect(200)
        .json();
    assert_eq!(verdict["complianceState"], "inGracePeriod");
    assert_eq!(
        verdict["complianceGracePeriodExpirationDateTime"],
        "2031-01-13T00:00:00Z"
    );
    assert_eq!(clock(&c).await["nextDueDateTime"], "2031-01-13T00:00:00Z");

    let early = advance(&c, "P2DT23H").await;
    assert_eq!(early["firedCount"], 0);
    assert_eq!(device(&c, &id).await["complianceState"], "inGracePeriod");

    let ran_out = advance(&c, "PT1H").await;
    assert_eq!(ran_out["firedCount"], 1, "{ran_out}");
    assert_eq!(ran_out["fired"][0]["kind"], "grace");
    assert_eq!(ran_out["fired"][0]["complianceState"], "noncompliant");
    let stored = device(&c, &id).await;
    assert_eq!(stored["complianceState"], "noncompliant");
    assert_eq!(
        stored["complianceGracePeriodExpirationDateTime"],
        "9999-12-31T23:59:59Z"
    );
    let statuses = c
        .list("beta", &format!("{POLICIES}/{policy}/deviceStatuses"))
        .await;
    assert_eq!(statuses[0]["status"], "nonCompliant");
    let overview = c
        .get("beta", &format!("{POLICIES}/{policy}/deviceStatusOverview"))
        .await
        .json();
    assert_eq!(overview["failedCount"], 1, "{overview}");
    assert_eq!(overview["pendingCount"], 0, "{overview}");
    let summary = c
        .get(
            "beta",
            "deviceManagement/deviceCompliancePolicyDeviceStateSummary",
        )
        .await
        .json();
    assert_eq!(summary["inGracePeriodCount"], 0);
    assert_eq!(summary["nonCompliantDeviceCount"], 1);
}

#[tokio::test]
async fn an_email_on_day_one_and_a_lock_on_day_five_for_a_device_that_stays_noncompliant() {
    let server = Server::start().await;
    let (c, id) = failing_iphone(&server, |t| {
        vec![action("block", 0), email(24, t), action("remoteLock", 120)]
    })
    .await;
    assert!(outbox(&c).await.is_empty(), "nothing is due yet");
    let day1 = advance(&c, "P1D").await;
    assert_eq!(fired_kinds(&day1), ["notification"]);
    let mail = outbox(&c).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["kind"], "noncomplianceNotification");
    assert_eq!(mail[0]["locale"], "de-de", "the user's language");
    assert_eq!(mail[0]["subject"], "Bitte IPHONE-1 reparieren");
    assert_eq!(mail[0]["messageTemplate"], "Hallo Greta");
    assert_eq!(mail[0]["recipients"], json!(["greta@contoso.test"]));
    assert_eq!(mail[0]["sentDateTime"], "2031-03-02T09:00:00Z");
    assert_eq!(mail[0]["managedDeviceId"], id);
    assert!(action_result(&device(&c, &id).await, "remoteLock").is_none());

    let day5 = advance(&c, "P4D").await;
    assert_eq!(fired_kinds(&day5), ["remoteLock"]);
    let locked = action_result(&device(&c, &id).await, "remoteLock").unwrap();
    assert_eq!(locked["actionState"], "pending");
    assert_eq!(locked["startDateTime"], "2031-03-06T09:00:00Z");
    // The device carries it out at its next check-in.
    check_in(&c, &id, &failing()).await.expect(200);
    let done = action_result(&device(&c, &id).await, "remoteLock").unwrap();
    assert_eq!(done["actionState"], "done");
    // Each instance fires once.
    let later = advance(&c, "P20D").await;
    assert!(fired_kinds(&later).is_empty(), "{later}");
    assert_eq!(outbox(&c).await.len(), 1);
}

#[tokio::test]
async fn a_device_fixed_on_day_two_is_never_locked_and_a_later_failure_starts_over() {
    let server = Server::start().await;
    let (c, id) = failing_iphone(&server, |t| {
        vec![action("block", 0), email(24, t), action("remoteLock", 120)]
    })
    .await;
    advance(&c, "P2D").await;
    assert_eq!(outbox(&c).await.len(), 1);
    let fixed = check_in(&c, &id, &passing()).await.expect(200).json();
    assert_eq!(fixed["complianceState"], "compliant");
    let later = advance(&c, "P10D").await;
    assert!(fired_kinds(&later).is_empty(), "{later}");
    assert!(action_result(&device(&c, &id).await, "remoteLock").is_none());

    // Failing again on day 12: the schedule counts from then.
    check_in(&c, &id, &failing()).await.expect(200);
    assert!(fired_kinds(&advance(&c, "PT23H").await).is_empty());
    assert_eq!(fired_kinds(&advance(&c, "PT1H").await), ["notification"]);
    assert_eq!(outbox(&c).await.len(), 2);
    assert_eq!(fired_kinds(&advance(&c, "P4D").await), ["remoteLock"]);
}

#[tokio::test]
async fn two_instances_of_one_action_each_fire_once() {
    let server = Server::start().await;
    let (c, id) = failing_iphone(&server, |t| {
        vec![action("block", 0), email(24, t), email(24, t), email(72, t)]
    })
    .await;
    let day1 = advance(&c, "P1D").await;
    assert_eq!(fired_kinds(&day1), ["notification", "notification"]);
    let day3 = advance(&c, "P2D").await;
    assert_eq!(fired_kinds(&day3), ["notification"]);
    assert_eq!(outbox(&c).await.len(), 3);
    assert!(fired_kinds(&advance(&c, "P30D").await).is_empty());
    // The outbox filters by what a message is about, and pages.
    let listed = |query: String| {
        let c = c.clone();
        async move {
            let url = format!("{}/complyd/v1/outbox?{query}", c.base);
            c.send(reqwest::Method::GET, &url, None).await
        }
    };
    let mine = listed(format!(
        "kind=noncomplianceNotification&managedDeviceId={id}"
    ))
    .await;
    assert_eq!(
        mine.expect(200).json()["value"].as_array().unwrap().len(),
        3
    );
    let paged = listed(format!("managedDeviceId={id}&$skip=1&$top=1")).await;
    assert_eq!(
        paged.expect(200).json()["value"].as_array().unwrap().len(),
        1
    );
    let none = listed("managedDeviceId=someone-else".into()).await;
    assert!(none.expect(200).json()["value"]
        .as_array()
        .unwrap()
        .is_empty());
    let bad = listed("recipientsCount=1".into())
        .await
        .expect_error(400, "BadRequest");
    assert!(bad.text.contains("recipientsCount"), "{}", bad.text);
}

#[tokio::test]
async fn scheduled_actions_disabled_fire_nothing() {
    let server = Server::start().await;
    let (c, id) = failing_iphone(&server, |t| {
        vec![action("block", 0), email(24, t), action("remoteLock", 48)]
    })
    .await;
    c.patch(
        "beta",
        "deviceManagement",
        &json!({"settings": {"isScheduledActionEnabled": false}}),
    )
    .await
    .expect(200);
    let answer = advance(&c, "P3D").await;
    assert!(fired_kinds(&answer).is_empty(), "{answer}");
    let skipped: Vec<&Value> = answer["fired"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "skipped")
        .collect();
    assert_eq!(skipped.len(), 2, "{answer}");
    assert!(skipped[0]["reason"]
        .as_str()
        .unwrap()
        .contains("isScheduledActionEnabled"));
    assert!(outbox(&c).await.is_empty());
    assert!(action_result(&device(&c, &id).await, "remoteLock").is_none());
}

#[tokio::test]
async fn a_device_that_stops_checking_in_becomes_noncompliant_after_the_threshold() {
    let server = Server::start().await;
    let c = admin(&server);
    freeze_at(&c, "2031-05-01T00:00:00Z").await;
    c.patch(
        "beta",
        "deviceManagement",
        &json!({"settings": {"deviceComplianceCheckinThresholdDays": 7}}),
    )
    .await
    .expect(200);
    assigned_policy(&c, &password_policy("Seven days", 0), &[all_devices()]).await;
    let id = c
        .post("beta", DEVICES, &windows_device("QUIET", None))
        .await
        .expect(201)
        .id();
    let ok = check_in(&c, &id, &crate::engine::good_report())
        .await
        .expect(200)
        .json();
    assert_eq!(ok["complianceState"], "compliant");
    advance(&c, "P6D").await;
    assert_eq!(device(&c, &id).await["complianceState"], "compliant");
    let stale = advance(&c, "P1D").await;
    assert_eq!(stale["fired"][0]["kind"], "checkIn", "{stale}");
    assert_eq!(device(&c, &id).await["complianceState"], "noncompliant");
    // Reporting again makes it compliant and starts the count again.
    check_in(&c, &id, &crate::engine::good_report())
        .await
        .expect(200);
    assert_eq!(device(&c, &id).await["complianceState"], "compliant");
}

#[tokio::test]
async fn a_retire_action_lists_the_device_until_cancelled_and_confirming_retires_it() {
    let server = Server::start().await;
    let (c, id) = failing_iphone(&server, |_| vec![action("block", 0), action("retire", 48)]).await;
    let list = format!("{POLICIES}/getDevicesScheduledToRetire()");
    assert!(c.list("beta", &list).await.is_empty());
    assert_eq!(fired_kinds(&advance(&c, "P2D").await), ["retire"]);
    let listed = c.list("beta", &list).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["managedDeviceId"], id);
    assert_eq!(listed[0]["managedDeviceName"], "IPHONE-1");
    assert_eq!(listed[0]["retireAfterDateTime"], "2031-03-03T09:00:00Z");
    let set = format!("{POLICIES}/setScheduledRetireState");
    c.post(
        "beta",
        &set,
        &json!({"state": "cancelRetire", "managedDeviceIds": [id]}),
    )
    .await
    .expect(204);
    assert!(c.list("beta", &list).await.is_empty());
    c.post(
        "beta",
        &set,
        &json!({"state": "confirmRetire", "managedDeviceIds": [id]}),
    )
    .await
    .expect(204);
    let retired = device(&c, &id).await;
    assert_eq!(retired["managementState"], "retirePending");
    assert_eq!(
        action_result(&retired, "retire").unwrap()["actionState"],
        "pending"
    );
}

#[tokio::test]
async fn a_device_that_complies_again_leaves_the_retire_list() {
    let server = Server::start().await;
    let (c, id) = failing_iphone(&server, |_| vec![action("block", 0), action("retire", 24)]).await;
    advance(&c, "P1D").await;
    let list = format!("{POLICIES}/getDevicesScheduledToRetire()");
    assert_eq!(c.list("beta", &list).await.len(), 1);
    check_in(&c, &id, &passing()).await.expect(200);
    assert!(c.list("beta", &list).await.is_empty());
}

#[tokio::test]
async fn actions_a_platform_lacks_are_not_scheduled() {
    let server = Server::start().await;
    let c = admin(&server);
    move_clock(&c, &json!({"freeze": true})).await.expect(200);
    let mut policy = password_policy("Windows lock", 0);
    policy["scheduledActionsForRule"][0]["scheduledActionConfigurations"] = json!([
        action("block", 0),
        action("remoteLock", 1),
        action("pushNotification", 1)
    ]);
    assigned_policy(&c, &policy, &[all_devices()]).await;
    let id = c
        .post("beta", DEVICES, &windows_device("NO-LOCK", None))
        .await
        .expect(201)
        .id();
    check_in(&c, &id, &json!({"passwordSet": false, "passwordLength": 0}))
        .await
        .expect(200);
    let answer = advance(&c, "P1D").await;
    assert!(fired_kinds(&answer).is_empty(), "{answer}");
    assert!(device(&c, &id).await["deviceActionResults"]
        .as_array()
        .is_none_or(|r| r.is_empty()));
}

#[tokio::test]
async fn a_running_clock_fires_what_falls_due_without_a_request() {
    let server = Server::start().await;
    let c = admin(&server);
    let template = template(&c).await;
    let owner = user(&c, "Rhea", "en-US").await;
    let policy = ios_policy("At once", &[action("block", 0), email(0, &template)]);
    assigned_policy(&c, &policy, &[all_devices()]).await;
    let id = c
        .post("beta", DEVICES, &iphone("IPHONE-NOW", &owner))
        .await
        .expect(201)
        .id();
    check_in(&c, &id, &failing()).await.expect(200);
    let mut mail = Vec::new();
    for _ in 0..100 {
        mail = outbox(&c).await;
        if !mail.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(mail.len(), 1, "the email was sent by the server's own tick");
    assert_eq!(mail[0]["locale"], "en-us");
    assert_eq!(mail[0]["subject"], "Fix IPHONE-NOW");
    assert_eq!(
        mail[0]["messageTemplate"],
        "Hello Rhea, IPHONE-NOW (iOS 17.4) is not compliant."
    );
    assert_eq!(clock(&c).await["frozen"], false);
}

#[tokio::test]
async fn simulated_check_ins_keep_devices_reporting_as_the_clock_moves() {
    let server = Server::start().await;
    let (c, id) = failing_iphone(&server, |_| {
        vec![action("block", 0), action("remoteLock", 24)]
    })
    .await;
    c.patch(
        "beta",
        "deviceManagement",
        &json!({"settings": {"deviceComplianceCheckinThresholdDays": 7}}),
    )
    .await
    .expect(200);
    let on = move_clock(&c, &json!({"simulateCheckIns": true}))
        .await
        .expect(200)
        .json();
    assert_eq!(on["simulateCheckIns"], true);
    assert_eq!(
        on["nextDueDateTime"], "2031-03-01T17:00:00Z",
        "one cadence (8 h) on"
    );
    let moved = advance(&c, "P10D").await;
    let rounds = moved["fired"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "simulatedCheckIns")
        .count();
    assert_eq!(rounds, 30, "three check-ins a day for ten days");
    let stored = device(&c, &id).await;
    assert_eq!(stored["lastSyncDateTime"], "2031-03-11T09:00:00Z");
    assert_eq!(
        stored["complianceState"], "noncompliant",
        "still failing, not stale"
    );
    // The lock fired on day 1 was carried out at the next simulated check-in.
    let lock = action_result(&stored, "remoteLock").unwrap();
    assert_eq!(lock["actionState"], "done");
    assert_eq!(
        lock["lastUpdatedDateTime"], "2031-03-02T09:00:00Z",
        "the round at the same time"
    );
    let off = move_clock(&c, &json!({"simulateCheckIns": false}))
        .await
        .expect(200)
        .json();
    assert_eq!(off["simulateCheckIns"], false);
    assert!(advance(&c, "P1D").await["fired"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["kind"] != "simulatedCheckIns"));
}
