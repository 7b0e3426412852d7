//! The schedule read without firing (`GET /complyd/v1/clock/schedule`): what a clock move would
//! fire, earliest first, up to the move's instant.

use super::actions::failing_iphone;
use super::*;

async fn schedule(c: &Client, query: &str) -> Resp {
    let url = format!("{}/complyd/v1/clock/schedule{query}", c.base);
    c.send(reqwest::Method::GET, &url, None).await
}

fn listed(answer: &Value) -> Vec<(String, String)> {
    answer["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let what = i["actionType"]
                .as_str()
                .unwrap_or(i["kind"].as_str().unwrap());
            (
                what.to_string(),
                i["dueDateTime"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_schedule_lists_what_a_move_would_fire_and_fires_nothing() {
    let server = Server::start().await;
    let (c, id) = failing_iphone(&server, |t| {
        vec![action("block", 0), email(24, t), action("remoteLock", 120)]
    })
    .await;
    let two_days = schedule(&c, "?advanceBy=P2D").await.expect(200).json();
    assert_eq!(two_days["now"], "2031-03-01T09:00:00Z");
    assert_eq!(two_days["until"], "2031-03-03T09:00:00Z");
    assert_eq!(
        listed(&two_days),
        [(
            "notification".to_string(),
            "2031-03-02T09:00:00Z".to_string()
        )]
    );
    assert_eq!(two_days["value"][0]["managedDeviceId"], id);
    let everything = listed(&schedule(&c, "").await.expect(200).json());
    let actions: Vec<&str> = everything.iter().map(|(what, _)| what.as_str()).collect();
    assert!(
        actions.starts_with(&["notification", "remoteLock"]),
        "{everything:?}"
    );
    let first = listed(&schedule(&c, "?$top=1").await.expect(200).json());
    assert_eq!(first.len(), 1);
    // Reading fired nothing: the clock stands, and the move fires what was listed.
    assert_eq!(clock(&c).await["now"], "2031-03-01T09:00:00Z");
    assert!(outbox(&c).await.is_empty());
    let moved = advance(&c, "P2D").await;
    assert_eq!(moved["firedCount"], 1, "{moved}");
    assert_eq!(moved["fired"][0]["actionType"], "notification");
    // A reader may look; bad parameters are 400s that say why.
    let reader = server.client_with(TokenRequest::delegated(TENANT, &[READ]));
    schedule(&reader, "?setTo=2031-04-01T00:00:00Z")
        .await
        .expect(200);
    for (query, why) in [
        ("?advanceBy=P1M", "months have no fixed length"),
        ("?$top=1001", "past the limit"),
        ("?until=x", "an unknown parameter"),
    ] {
        let refused = schedule(&c, query).await.expect_error(400, "BadRequest");
        assert!(!refused.error_message().is_empty(), "{why}");
    }
}

#[tokio::test]
async fn an_export_imported_into_a_new_store_keeps_the_schedule() {
    let server = Server::start().await;
    let (c, id) = failing_iphone(&server, |t| {
        vec![action("block", 0), email(24, t), action("remoteLock", 120)]
    })
    .await;
    move_clock(&c, &json!({"simulateCheckIns": true}))
        .await
        .expect(200);
    let before = listed(&schedule(&c, "").await.expect(200).json());
    assert_eq!(
        before.len(),
        4,
        "simulated check-ins, notification, remoteLock, stale check-in: {before:?}"
    );
    let source = server.stop().await;

    let file = source.path().join("tenant.ndjson");
    crate::stores::run(crate::stores::export(
        source.path(),
        test_store(source.path()),
        &file,
    ))
    .await;
    let target = tempfile::tempdir().unwrap();
    let mut import = crate::durability::complyd(&["import"], target.path());
    import.arg(&file);
    crate::stores::run(import).await;

    let server = Server::start_in(target, |_| {}).await;
    let c = admin(&server);
    crate::engine::settle(&c).await;
    assert_eq!(clock(&c).await["now"], "2031-03-01T09:00:00Z");
    assert_eq!(listed(&schedule(&c, "").await.expect(200).json()), before);
    // And it fires there: the notification a day on, and the check-in rounds every 8 hours.
    let moved = advance(&c, "P2D").await;
    let fired = moved["fired"].as_array().unwrap();
    let of = |kind: &str| {
        fired
            .iter()
            .filter(|f| f["actionType"] == kind || f["kind"] == kind)
            .collect::<Vec<_>>()
    };
    assert_eq!(of("notification").len(), 1, "{moved}");
    assert_eq!(of("notification")[0]["managedDeviceId"], id);
    assert_eq!(of("simulatedCheckIns").len(), 6, "{moved}");
}
