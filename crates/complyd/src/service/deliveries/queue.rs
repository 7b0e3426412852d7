//! The rows of a delivery and their changes, each inside a write: enqueued with what caused it,
//! claimed before an attempt, finished (or rescheduled) after it.

use super::{backoff, now_ms, time_text, Kind, Outcome, DELIVERY_PARTITION, LEASE, MAX_ATTEMPTS};
use crate::error::ApiError;
use crate::service::parse_body;
use crate::store::{Key, Row, StoreError, WriteTx};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The collection of pending deliveries in [`DELIVERY_PARTITION`].
const DUE: &str = "_due";
const RECORD_TYPE: &str = "complyd.delivery";
const DUE_TYPE: &str = "complyd.dueDelivery";

pub fn due_key(id: &str) -> Key {
    Key {
        tenant: DELIVERY_PARTITION.into(),
        collection: DUE.into(),
        parent: String::new(),
        id: id.to_string(),
    }
}

/// A page of every tenant's pending deliveries starts here.
pub fn due_query() -> crate::store::Query {
    crate::store::Query::all(DELIVERY_PARTITION, DUE, "")
}

pub fn record_key(tenant: &str, kind: Kind, id: &str) -> Key {
    Key {
        tenant: tenant.to_string(),
        collection: kind.collection().into(),
        parent: String::new(),
        id: id.to_string(),
    }
}

/// If `tenant` has a webhook, queues `event` for it inside the caller's write (the same
/// transaction as what fired it: rolled back with it, committed with it). No webhook: nothing is
/// written. The receiver gets `{"id", "tenant", "createdDateTime", "event"}` (see `webhook`).
pub fn enqueue_event(tx: &mut dyn WriteTx, tenant: &str, event: &Value) -> Result<(), ApiError> {
    if tx.get(&super::config::config_key(tenant))?.is_none() {
        return Ok(());
    }
    enqueue(tx, tenant, Kind::Webhook, "event", event.clone())?;
    Ok(())
}

/// A new pending delivery of `content` (kept under `field` in its record); answers its id.
pub fn enqueue(
    tx: &mut dyn WriteTx,
    tenant: &str,
    kind: Kind,
    field: &str,
    content: Value,
) -> Result<String, StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let mut record = new_record(now, "pending");
    record.insert("nextAttemptDateTime".into(), json!(time_text(now)));
    record.insert(field.into(), content);
    tx.insert(
        &record_key(tenant, kind, &id),
        RECORD_TYPE,
        &Value::Object(record).to_string(),
    )?;
    let due = json!({ "tenant": tenant, "kind": kind.as_str(), "notBefore": now,
                      "claimedUntil": 0, "claim": null });
    tx.insert(&due_key(&id), DUE_TYPE, &due.to_string())?;
    Ok(id)
}

/// A delivery that cannot be attempted at all, kept as `failed` with why (never dropped silently).
pub fn record_failed(
    tx: &mut dyn WriteTx,
    tenant: &str,
    kind: Kind,
    field: &str,
    content: Value,
    error: &str,
) -> Result<(), StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = now_ms();
    let mut record = new_record(now, "failed");
    record.insert("finishedDateTime".into(), json!(time_text(now)));
    record.insert("lastError".into(), json!(error));
    record.insert(field.into(), content);
    tx.insert(
        &record_key(tenant, kind, &id),
        RECORD_TYPE,
        &Value::Object(record).to_string(),
    )
}

fn new_record(now: i64, state: &str) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("state".into(), json!(state));
    record.insert("attempts".into(), json!(0));
    record.insert("createdDateTime".into(), json!(time_text(now)));
    for name in [
        "lastAttemptDateTime",
        "nextAttemptDateTime",
        "finishedDateTime",
        "lastError",
    ] {
        record.insert(name.into(), Value::Null);
    }
    record
}

/// A pending delivery's row in [`DELIVERY_PARTITION`], as read.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: String,
    pub tenant: String,
    pub kind: Kind,
    pub not_before: i64,
    pub claimed_until: i64,
    pub claim: Option<String>,
}

impl Due {
    pub fn of(row: &Row) -> Option<Self> {
        let body = parse_body(&row.body).ok()?;
        let int = |name: &str| body.get(name).and_then(Value::as_i64).unwrap_or(0);
        Some(Self {
            id: row.key.id.clone(),
            tenant: body.get("tenant")?.as_str()?.to_string(),
            kind: Kind::parse(body.get("kind")?.as_str()?)?,
            not_before: int("notBefore"),
            claimed_until: int("claimedUntil"),
            claim: body
                .get("claim")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// Whether an attempt may start now: its wait is over and no live claim holds it.
    pub fn is_due(&self, now: i64) -> bool {
        self.not_before <= now && self.claimed_until <= now
    }

    fn store(&self, tx: &mut dyn WriteTx) -> Result<(), StoreError> {
        let body = json!({ "tenant": self.tenant, "kind": self.kind.as_str(),
                           "notBefore": self.not_before, "claimedUntil": self.claimed_until,
                           "claim": self.claim });
        tx.update(&due_key(&self.id), &body.to_string())?;
        Ok(())
    }
}

/// Where a webhook's attempt goes: the tenant's settings when it was claimed.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub secret: Option<String>,
}

/// A delivery this instance holds for one attempt.
#[derive(Debug, Clone)]
pub struct Claim {
    pub due: Due,
    /// The attempt's number, from 1.
    pub attempt: u32,
    pub created: String,
    /// The record's event (webhook) or mail.
    pub content: Value,
    pub target: Option<Target>,
}

/// Claims those of `ids` that are still due (re-read here, under the write's lock, so that two
/// instances never claim one delivery), in id order. Mails are claimed only when `mails`.
pub fn claim(
    tx: &mut dyn WriteTx,
    mut ids: Vec<String>,
    mails: bool,
) -> Result<Vec<Claim>, StoreError> {
    ids.sort();
    let now = now_ms();
    let mut claims = Vec::new();
    for id in ids {
        let Some(mut due) = tx.get(&due_key(&id))?.as_ref().and_then(Due::of) else {
            continue;
        };
        if !due.is_due(now) || (due.kind == Kind::Mail && !mails) {
            continue;
        }
        let key = record_key(&due.tenant, due.kind, &id);
        let Some(mut record) = tx.get(&key)?.and_then(|r| parse_body(&r.body).ok()) else {
            // Its tenant was reset.
            tx.delete_tree(&due_key(&id))?;
            continue;
        };
        let attempts = record.get("attempts").and_then(Value::as_u64).unwrap_or(0) as u32;
        if record.get("state").and_then(Value::as_str) != Some("pending") {
            tx.delete_tree(&due_key(&id))?;
            continue;
        }
        if attempts >= MAX_ATTEMPTS {
            let why = format!(
                "No outcome is known of the last of {MAX_ATTEMPTS} attempts (the instance sending it stopped)."
            );
            finish(tx, &key, &mut record, "failed", Some(why), now)?;
            tx.delete_tree(&due_key(&id))?;
            continue;
        }
        let target = match due.kind {
            Kind::Webhook => match super::config::read(tx, &due.tenant)? {
                Some(config) => Some(config),
                None => {
                    let why = "The tenant's webhook was removed before this delivery went out.";
                    finish(tx, &key, &mut record, "failed", Some(why.into()), now)?;
                    tx.delete_tree(&due_key(&id))?;
                    continue;
                }
            },
            Kind::Mail => None,
        };
        due.claim = Some(uuid::Uuid::new_v4().to_string());
        due.claimed_until = now.saturating_add(LEASE.as_millis() as i64);
        due.store(tx)?;
        record.insert("attempts".into(), json!(attempts + 1));
        record.insert("lastAttemptDateTime".into(), json!(time_text(now)));
        record.insert("nextAttemptDateTime".into(), Value::Null);
        tx.update(&key, &Value::Object(record.clone()).to_string())?;
        let field = match due.kind {
            Kind::Webhook => "event",
            Kind::Mail => "mail",
        };
        claims.push(Claim {
            attempt: attempts + 1,
            created: record
                .get("createdDateTime")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            content: record.get(field).cloned().unwrap_or(Value::Null),
            target,
            due,
        });
    }
    Ok(claims)
}

/// Records each attempt's outcome: delivered and failed deliveries leave the queue, others wait
/// their backoff. A claim that is no longer this instance's (its lease ran out and another
/// instance took it) is left to its holder. Answers the tenants and kinds that finished some.
pub fn settle(
    tx: &mut dyn WriteTx,
    outcomes: Vec<(Claim, Outcome)>,
    base: Duration,
) -> Result<Vec<(String, Kind)>, StoreError> {
    let now = now_ms();
    let mut finished: Vec<(String, Kind)> = Vec::new();
    for (claim, outcome) in outcomes {
        let id = &claim.due.id;
        let current = tx.get(&due_key(id))?.as_ref().and_then(Due::of);
        if current.as_ref().and_then(|d| d.claim.as_ref()) != claim.due.claim.as_ref() {
            continue;
        }
        let key = record_key(&claim.due.tenant, claim.due.kind, id);
        let Some(mut record) = tx.get(&key)?.and_then(|r| parse_body(&r.body).ok()) else {
            tx.delete_tree(&due_key(id))?;
            continue;
        };
        let done = match outcome {
            Outcome::Delivered(note) => Some(("delivered", note)),
            Outcome::Fail(why) => Some(("failed", Some(why))),
            Outcome::Retry(why) if claim.attempt >= MAX_ATTEMPTS => Some((
                "failed",
                Some(format!("{why} (gave up after {MAX_ATTEMPTS} attempts)")),
            )),
            Outcome::Retry(why) => {
                let next = now.saturating_add(backoff(base, claim.attempt).as_millis() as i64);
                record.insert("lastError".into(), json!(why));
                record.insert("nextAttemptDateTime".into(), json!(time_text(next)));
                tx.update(&key, &Value::Object(record.clone()).to_string())?;
                let mut due = claim.due.clone();
                (due.not_before, due.claimed_until, due.claim) = (next, 0, None);
                due.store(tx)?;
                None
            }
        };
        if let Some((state, note)) = done {
            finish(tx, &key, &mut record, state, note, now)?;
            tx.delete_tree(&due_key(id))?;
            let touched = (claim.due.tenant.clone(), claim.due.kind);
            if !finished.contains(&touched) {
                finished.push(touched);
            }
        }
    }
    Ok(finished)
}

fn finish(
    tx: &mut dyn WriteTx,
    key: &Key,
    record: &mut Map<String, Value>,
    state: &str,
    error: Option<String>,
    now: i64,
) -> Result<(), StoreError> {
    record.insert("state".into(), json!(state));
    record.insert("finishedDateTime".into(), json!(time_text(now)));
    record.insert("nextAttemptDateTime".into(), Value::Null);
    record.insert("lastError".into(), json!(error));
    tx.update(key, &Value::Object(record.clone()).to_string())?;
    Ok(())
}
