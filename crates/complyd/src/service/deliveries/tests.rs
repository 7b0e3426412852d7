//! The queue's rows through their life, on the in-memory store: enqueued with the write that
//! caused them (or not at all), claimed once, rescheduled, finished.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::config::config_key;
use super::queue::{self, due_key, record_key};
use super::*;
use crate::error::ApiError;
use crate::store::memory::MemoryStore;
use crate::store::{Row, Store};
use serde_json::{json, Value};
use std::sync::Arc;

const TENANT: &str = "t1";

async fn configure(store: &dyn Store) {
    let key = config_key(TENANT);
    store
        .write(move |tx| {
            tx.insert(
                &key,
                "complyd.webhook",
                r#"{"url":"http://127.0.0.1:9/","secret":null}"#,
            )
        })
        .await
        .unwrap();
}

fn rows_of(store: &MemoryStore, collection: &str) -> Vec<Row> {
    store
        .rows()
        .into_iter()
        .filter(|r| r.key.collection == collection)
        .collect()
}

fn body(row: &Row) -> Value {
    serde_json::from_str(&row.body).unwrap()
}

async fn enqueue_one(store: &dyn Store) -> String {
    store
        .write(|tx| {
            enqueue_event(tx, TENANT, &json!({"kind": "x"}))?;
            let rows = tx.members(TENANT, Kind::Webhook.collection(), "", 100)?;
            Ok::<_, ApiError>(rows.last().map(|r| r.key.id.clone()).unwrap_or_default())
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn an_event_is_queued_only_with_a_webhook_and_only_if_its_write_commits() {
    let memory = MemoryStore::new();
    let store: &dyn Store = &memory;
    store
        .write(|tx| enqueue_event(tx, TENANT, &json!({"kind": "x"})))
        .await
        .unwrap();
    assert!(rows_of(&memory, Kind::Webhook.collection()).is_empty());
    assert!(rows_of(&memory, "_due").is_empty());
    configure(store).await;
    // The firing write fails after queueing: nothing of it stays.
    let failed = store
        .write(|tx| {
            enqueue_event(tx, TENANT, &json!({"kind": "x"}))?;
            Err::<(), _>(ApiError::bad_request("the firing failed"))
        })
        .await;
    assert!(failed.is_err());
    assert!(rows_of(&memory, Kind::Webhook.collection()).is_empty());
    assert!(rows_of(&memory, "_due").is_empty());
    let id = enqueue_one(store).await;
    let records = rows_of(&memory, Kind::Webhook.collection());
    assert_eq!(records.len(), 1);
    assert_eq!(body(&records[0])["state"], "pending");
    assert_eq!(body(&records[0])["event"], json!({"kind": "x"}));
    let due = rows_of(&memory, "_due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].key.tenant, DELIVERY_PARTITION);
    assert_eq!(due[0].key.id, id);
    assert_eq!(body(&due[0])["tenant"], TENANT);
}

#[tokio::test]
async fn a_delivery_is_claimed_once_and_retried_after_its_backoff() {
    let memory = MemoryStore::new();
    let store: &dyn Store = &memory;
    configure(store).await;
    let id = enqueue_one(store).await;
    let ids = vec![id.clone()];
    let claims = store
        .write(move |tx| queue::claim(tx, ids, false))
        .await
        .unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].attempt, 1);
    assert_eq!(
        claims[0].target.as_ref().map(|t| t.url.as_str()),
        Some("http://127.0.0.1:9/")
    );
    // A second claim (another instance's) finds it held.
    let ids = vec![id.clone()];
    let again = store
        .write(move |tx| queue::claim(tx, ids, false))
        .await
        .unwrap();
    assert!(again.is_empty());
    let outcomes = vec![(claims[0].clone(), Outcome::Retry("503".into()))];
    let finished = store
        .write(move |tx| queue::settle(tx, outcomes, std::time::Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(finished.is_empty());
    let record = store
        .get(&record_key(TENANT, Kind::Webhook, &id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body(&record)["state"], "pending");
    assert_eq!(body(&record)["attempts"], 1);
    assert_eq!(body(&record)["lastError"], "503");
    assert!(body(&record)["nextAttemptDateTime"].is_string());
    // Waiting its backoff: not claimed yet.
    let ids = vec![id.clone()];
    let waiting = store
        .write(move |tx| queue::claim(tx, ids, false))
        .await
        .unwrap();
    assert!(waiting.is_empty());
    // An outcome from a claim that is no longer held changes nothing.
    let stale = vec![(claims[0].clone(), Outcome::Delivered(None))];
    store
        .write(move |tx| queue::settle(tx, stale, std::time::Duration::from_secs(60)))
        .await
        .unwrap();
    let record = store
        .get(&record_key(TENANT, Kind::Webhook, &id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body(&record)["state"], "pending");
}

#[tokio::test]
async fn a_delivery_finishes_delivered_or_failed_and_leaves_the_queue() {
    let memory = MemoryStore::new();
    let store: &dyn Store = &memory;
    configure(store).await;
    for (outcome, state, error) in [
        (Outcome::Delivered(None), "delivered", Value::Null),
        (Outcome::Fail("400".into()), "failed", json!("400")),
    ] {
        let id = enqueue_one(store).await;
        let ids = vec![id.clone()];
        let claims = store
            .write(move |tx| queue::claim(tx, ids, false))
            .await
            .unwrap();
        let outcomes = vec![(claims[0].clone(), outcome)];
        let finished = store
            .write(move |tx| queue::settle(tx, outcomes, std::time::Duration::ZERO))
            .await
            .unwrap();
        assert_eq!(finished, vec![(TENANT.to_string(), Kind::Webhook)]);
        let record = store
            .get(&record_key(TENANT, Kind::Webhook, &id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(body(&record)["state"], state);
        assert_eq!(body(&record)["lastError"], error);
        assert!(body(&record)["finishedDateTime"].is_string());
        assert!(store.get(&due_key(&id)).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn the_last_retry_fails_the_delivery_and_a_removed_webhook_fails_it_at_its_turn() {
    let memory = MemoryStore::new();
    let store: &dyn Store = &memory;
    configure(store).await;
    let id = enqueue_one(store).await;
    for attempt in 1..=MAX_ATTEMPTS {
        let ids = vec![id.clone()];
        let claims = store
            .write(move |tx| queue::claim(tx, ids, false))
            .await
            .unwrap();
        assert_eq!(claims.len(), 1, "attempt {attempt}");
        assert_eq!(claims[0].attempt, attempt);
        let outcomes = vec![(claims[0].clone(), Outcome::Retry("503".into()))];
        store
            .write(move |tx| queue::settle(tx, outcomes, std::time::Duration::ZERO))
            .await
            .unwrap();
    }
    let record = store
        .get(&record_key(TENANT, Kind::Webhook, &id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body(&record)["state"], "failed");
    assert_eq!(body(&record)["attempts"], MAX_ATTEMPTS);
    assert!(body(&record)["lastError"]
        .as_str()
        .unwrap()
        .contains("gave up after 10 attempts"));
    assert!(store.get(&due_key(&id)).await.unwrap().is_none());

    let id = enqueue_one(store).await;
    let key = config_key(TENANT);
    store.write(move |tx| tx.delete_tree(&key)).await.unwrap();
    let ids = vec![id.clone()];
    let claims = store
        .write(move |tx| queue::claim(tx, ids, false))
        .await
        .unwrap();
    assert!(claims.is_empty());
    let record = store
        .get(&record_key(TENANT, Kind::Webhook, &id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body(&record)["state"], "failed");
    assert!(body(&record)["lastError"]
        .as_str()
        .unwrap()
        .contains("removed"));
}

#[tokio::test]
async fn a_reset_tenants_pending_delivery_leaves_the_queue_unsent() {
    let memory = MemoryStore::new();
    let store: &dyn Store = &memory;
    configure(store).await;
    let id = enqueue_one(store).await;
    store.write(|tx| tx.delete_tenant(TENANT)).await.unwrap();
    let ids = vec![id.clone()];
    let claims = store
        .write(move |tx| queue::claim(tx, ids, false))
        .await
        .unwrap();
    assert!(claims.is_empty());
    assert!(store.get(&due_key(&id)).await.unwrap().is_none());
}

#[tokio::test]
async fn an_outbox_message_is_mailed_through_a_relay_store_only() {
    let relay = SmtpRelay::parse("smtp://127.0.0.1:2525").unwrap();
    let memory = Arc::new(MemoryStore::new());
    let store = mailing(memory.clone(), relay);
    let message = json!({"subject": "S", "messageTemplate": "B",
                         "recipients": ["a@x.example", "app-id"], "cc": ["c@x.example"]});
    store
        .write(move |tx| crate::service::append_to_outbox(tx, TENANT, &message))
        .await
        .unwrap();
    let mails = rows_of(&memory, Kind::Mail.collection());
    assert_eq!(mails.len(), 1);
    let mail = &body(&mails[0])["mail"];
    assert_eq!(mail["to"], json!(["a@x.example"]));
    assert_eq!(mail["cc"], json!(["c@x.example"]));
    assert_eq!(mail["subject"], "S");
    assert_eq!(mail["body"], "B");
    assert_eq!(mail["from"], "complyd@t1.invalid");
    assert_eq!(rows_of(&memory, "_due").len(), 1);
    // No address at all: kept as failed, not queued.
    let message = json!({"subject": "S", "recipients": ["app-id"]});
    store
        .write(move |tx| crate::service::append_to_outbox(tx, TENANT, &message))
        .await
        .unwrap();
    let mails = rows_of(&memory, Kind::Mail.collection());
    assert_eq!(mails.len(), 2);
    assert_eq!(body(&mails[1])["state"], "failed");
    assert!(body(&mails[1])["lastError"]
        .as_str()
        .unwrap()
        .contains("app-id"));
    assert_eq!(rows_of(&memory, "_due").len(), 1);
    // The plain store mails nothing.
    let message = json!({"subject": "S", "recipients": ["a@x.example"]});
    let plain: &dyn Store = &*memory;
    plain
        .write(move |tx| crate::service::append_to_outbox(tx, TENANT, &message))
        .await
        .unwrap();
    assert_eq!(rows_of(&memory, Kind::Mail.collection()).len(), 2);
}

#[test]
fn the_backoff_doubles_up_to_its_cap() {
    let base = std::time::Duration::from_secs(1);
    let waits: Vec<u64> = (1..=10).map(|n| backoff(base, n).as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
    assert_eq!(backoff(base, u32::MAX), MAX_BACKOFF);
}

#[tokio::test]
async fn on_sqlite_a_rolled_back_firing_leaves_no_delivery_and_a_committed_one_stays() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = crate::store::SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    let store: &dyn Store = &sqlite;
    configure(store).await;
    let failed = store
        .write(|tx| {
            enqueue_event(tx, TENANT, &json!({"kind": "rolledBack"}))?;
            Err::<(), _>(ApiError::bad_request("the firing failed"))
        })
        .await;
    assert!(failed.is_err());
    let listed = |collection: &'static str, tenant: &'static str| async move {
        store
            .query(crate::store::Query::all(tenant, collection, ""))
            .await
            .unwrap()
            .len()
    };
    assert_eq!(listed(Kind::Webhook.collection(), TENANT).await, 0);
    assert_eq!(listed("_due", DELIVERY_PARTITION).await, 0);
    enqueue_one(store).await;
    assert_eq!(listed(Kind::Webhook.collection(), TENANT).await, 1);
    assert_eq!(listed("_due", DELIVERY_PARTITION).await, 1);
}
