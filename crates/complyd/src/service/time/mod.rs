//! Time: each tenant's clock (`clock`), and moving it. Everything that falls due on the way (the
//! schedule the engine keeps: grace periods' ends, scheduled actions, check-in thresholds) fires
//! in order, each item in the write that takes it off the schedule, so a crash fires nothing
//! twice and loses nothing; instances sharing PostgreSQL skip the items another is firing.

mod clock;
mod duration;

pub use clock::{now_ms, now_text, real_ms, text, TenantClock};

use super::engine::Engine;
use super::Service;
use crate::error::ApiError;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The furthest one request moves a clock: 100 years.
pub const MAX_MOVE_MS: i64 = 100 * 365 * 86_400_000;
/// Items taken per write; a write also stops once it has fired for [`FIRE_FOR`].
const FIRE_BATCH: usize = 2_000;
const FIRE_FOR: Duration = Duration::from_millis(40);
/// Fired items an answer lists (its count covers them all).
pub const MAX_LISTED: usize = 1_000;

/// How a request moves a tenant's clock (`POST /complyd/v1/clock`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockMove {
    pub advance_by_ms: Option<i64>,
    pub set_to_ms: Option<i64>,
    pub freeze: Option<bool>,
    pub simulate_check_ins: Option<bool>,
}

impl ClockMove {
    /// `{"advanceBy": "P3D"}`, `{"setTo": "2027-01-01T00:00:00Z"}`, `{"freeze": true}`; freeze
    /// goes with either move.
    pub fn parse(body: &Value) -> Result<Self, ApiError> {
        let object = body.as_object().ok_or_else(|| {
            ApiError::bad_request("A clock move is a JSON object: advanceBy, setTo or freeze.")
        })?;
        let mut out = Self::default();
        for (name, value) in object {
            match name.as_str() {
                "advanceBy" => {
                    let text = value.as_str().ok_or_else(|| {
                        ApiError::bad_request(
                            "advanceBy takes an ISO 8601 duration such as \"P3D\".",
                        )
                    })?;
                    let ms = duration::parse_ms(text)
                        .map_err(|e| ApiError::bad_request(format!("advanceBy '{}' {e}.", echo(text))))?;
                    out.advance_by_ms = Some(ms);
                }
                "setTo" => {
                    let at = value
                        .as_str()
                        .and_then(odata::value::DateTimeOffset::parse)
                        .ok_or_else(|| {
                            ApiError::bad_request(
                                "setTo takes a DateTimeOffset such as \"2027-01-01T00:00:00Z\".",
                            )
                        })?;
                    out.set_to_ms = Some(at.to_unix_millis());
                }
                "freeze" => {
                    out.freeze = Some(
                        value
                            .as_bool()
                            .ok_or_else(|| ApiError::bad_request("freeze takes true or false."))?,
                    );
                }
                "simulateCheckIns" => {
                    out.simulate_check_ins = Some(value.as_bool().ok_or_else(|| {
                        ApiError::bad_request("simulateCheckIns takes true or false.")
                    })?);
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "A clock move has no property '{}' (advanceBy, setTo, freeze, simulateCheckIns).",
                        echo(other)
                    )))
                }
            }
        }
        if out.advance_by_ms.is_some() && out.set_to_ms.is_some() {
            return Err(ApiError::bad_request(
                "A clock move takes advanceBy or setTo, not both.",
            ));
        }
        if out == Self::default() {
            return Err(ApiError::bad_request(
                "A clock move names advanceBy, setTo, freeze or simulateCheckIns.",
            ));
        }
        if out.advance_by_ms.is_some_and(|ms| ms > MAX_MOVE_MS) {
            return Err(ApiError::bad_request(
                "advanceBy is at most 100 years (P36500D, the limit).",
            ));
        }
        Ok(out)
    }

    /// Where the clock goes from `now`: `None` when it stays (a freeze alone).
    fn target(&self, now: i64) -> Result<Option<i64>, ApiError> {
        let target = match (self.advance_by_ms, self.set_to_ms) {
            (Some(by), _) => now.saturating_add(by),
            (None, Some(to)) => to,
            (None, None) => return Ok(None),
        };
        if target < now {
            return Err(ApiError::bad_request(format!(
                "The clock never moves back: the tenant's time is {} and {} is before it.",
                text(now),
                text(target)
            )));
        }
        if target - now > MAX_MOVE_MS {
            return Err(ApiError::bad_request(
                "A clock moves at most 100 years in one request (the limit).",
            ));
        }
        Ok(Some(target))
    }
}

/// Client text as an error message repeats it: at most [`duration::MAX_TEXT`] characters.
fn echo(text: &str) -> String {
    match text.char_indices().nth(duration::MAX_TEXT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// What firing up to a time did.
#[derive(Debug, Default)]
pub struct Firing {
    /// The first [`MAX_LISTED`] items fired, in order.
    pub listed: Vec<Value>,
    pub count: usize,
    /// The clock at the end, and the earliest item still scheduled.
    pub clock: TenantClock,
    pub next_due: Option<i64>,
    /// The hour of tenant time the verdict trend was last sampled in, and when the last item fired.
    sampled_hour: Option<i64>,
    last_fired_at: Option<i64>,
}

/// What one write of a firing did.
struct Batch {
    fired: Vec<Value>,
    /// The tenant time the last item fired at.
    last_at: i64,
    /// The move's target, once known.
    target: Option<i64>,
    /// At the end of a move: the clock and the earliest item left.
    end: Option<(TenantClock, Option<i64>)>,
}

/// Where one batch fires up to.
#[derive(Debug, Clone, Copy)]
enum Until {
    /// The clock's own now (it does not move).
    Now,
    /// A move, the target not yet known (the first batch checks it against the clock).
    Move(ClockMove),
    /// Up to this instant, where the clock then stands.
    At(i64),
}

impl Service {
    /// The tenant's now as committed (outside a write), in Unix milliseconds.
    pub async fn tenant_now_ms(&self, tenant: &str) -> Result<i64, ApiError> {
        let row = self.store.get(&clock::key(tenant)).await?;
        Ok(TenantClock::from_row(row)?.now_ms())
    }

    /// `GET /complyd/v1/clock`: the tenant's now, whether it is frozen, and what is scheduled.
    pub async fn clock(&self, tenant: &str) -> Result<Value, ApiError> {
        let tenant = tenant.to_string();
        let (clock, pending, next) = self
            .store
            .write(move |tx| {
                let clock = TenantClock::read(tx, &tenant)?;
                let (pending, next) = tx.due_pending(&tenant)?;
                Ok::<_, ApiError>((clock, pending, next))
            })
            .await?;
        Ok(Value::Object(describe(&clock, Some(pending), next)))
    }

    /// `POST /complyd/v1/clock`: moves the tenant's clock, firing in order everything that falls
    /// due on the way; answers the clock and what fired. Changes waiting to be evaluated are
    /// evaluated first, at the time they were made.
    pub async fn move_clock(&self, tenant: &str, wanted: ClockMove) -> Result<Value, ApiError> {
        self.settle(tenant).await?;
        // The trend's point before the move, so the move's steps start from it.
        self.sample_verdicts(tenant, None).await?;
        let firing = self.fire_until(tenant, Until::Move(wanted)).await?;
        let mut out = describe(&firing.clock, None, firing.next_due);
        out.insert("firedCount".into(), json!(firing.count));
        out.insert("fired".into(), Value::Array(firing.listed));
        Ok(Value::Object(out))
    }

    /// Fires, for every tenant, what is due at its clock's now (a running clock fires on its
    /// own; a frozen one fires what a check-in made due at once). Returns how many fired.
    pub async fn fire_due(&self) -> Result<usize, ApiError> {
        let mut after = String::new();
        let mut fired = 0;
        loop {
            let from = after.clone();
            let next = self
                .store
                .write(move |tx| {
                    let Some((tenant, first)) = tx.due_next(&from)? else {
                        return Ok::<_, ApiError>(None);
                    };
                    let now = now_ms(tx, &tenant)?;
                    Ok(Some((tenant, first <= now)))
                })
                .await?;
            let Some((tenant, due)) = next else {
                return Ok(fired);
            };
            if due {
                fired += self.fire_until(&tenant, Until::Now).await?.count;
            }
            after = tenant;
        }
    }

    /// Fires the tenant's items due by `until` in batches, each its own write, earliest first.
    async fn fire_until(&self, tenant: &str, until: Until) -> Result<Firing, ApiError> {
        let mut firing = Firing::default();
        let mut until = until;
        loop {
            let (engine, tenant_id) = (Arc::clone(&self.engine), tenant.to_string());
            let batch = self
                .store
                .write(move |tx| fire_batch(tx, &engine, &tenant_id, until))
                .await?;
            if let Some(target) = batch.target {
                until = Until::At(target);
            }
            if let Some((clock, next_due)) = batch.end {
                (firing.clock, firing.next_due) = (clock, next_due);
                // The counts the last items left (their hour may have been sampled before them).
                if let Some(at) = firing.last_fired_at {
                    self.sample_verdicts(tenant, Some(at)).await?;
                }
                return Ok(firing);
            }
            if !batch.fired.is_empty() {
                firing.last_fired_at = Some(batch.last_at);
            }
            // A point of the verdict trend for each hour of tenant time something fired in.
            let hour = batch.last_at.div_euclid(super::verdicts::BUCKET_MS);
            if !batch.fired.is_empty() && firing.sampled_hour != Some(hour) {
                self.sample_verdicts(tenant, Some(batch.last_at)).await?;
                firing.sampled_hour = Some(hour);
            }
            firing.count += batch.fired.len();
            let room = MAX_LISTED.saturating_sub(firing.listed.len());
            firing.listed.extend(batch.fired.into_iter().take(room));
        }
    }
}

/// After an import (which carries the clock but not the schedule): a tenant whose clock simulates
/// check-ins has its next round put back, one cadence from the clock's now.
pub fn resume_after_import(
    tx: &mut dyn crate::store::WriteTx,
    tenant: &str,
) -> Result<(), ApiError> {
    let clock = TenantClock::read(tx, tenant)?;
    if clock.simulate_check_ins {
        Engine::simulate_check_ins(tx, tenant, Some(clock.now_ms()))?;
    }
    Ok(())
}

/// One write of a firing: takes the items due, earliest first, and fires each at its time (or
/// the clock's now, if later). The clock stays where it is until a batch finds nothing left due:
/// that one moves it to the target (so a move cut short by a crash is finished by asking again,
/// and no other firing sees the clock ahead of what has fired).
fn fire_batch(
    tx: &mut dyn crate::store::WriteTx,
    engine: &Engine,
    tenant: &str,
    until: Until,
) -> Result<Batch, ApiError> {
    Engine::hold_tenant(tx, tenant)?;
    let mut clock = TenantClock::read(tx, tenant)?;
    if let Until::Move(wanted) = until {
        if let Some(frozen) = wanted.freeze {
            clock.freeze(frozen);
            clock.write(tx, tenant)?;
        }
        if let Some(simulate) = wanted.simulate_check_ins {
            clock.simulate_check_ins = simulate;
            clock.write(tx, tenant)?;
            Engine::simulate_check_ins(tx, tenant, simulate.then(|| clock.now_ms()))?;
        }
    }
    let start = clock.now_ms();
    let target = match until {
        Until::Now => None,
        Until::Move(wanted) => wanted.target(start)?,
        Until::At(at) => Some(at),
    };
    let limit = target.unwrap_or(start);
    let view = engine.view(tx, tenant)?;
    let tally = super::engine::SharedTally::default();
    let started = Instant::now();
    let mut fired = Vec::new();
    let mut at = start;
    // One item at a time: firing one may schedule another before the next (a round of simulated
    // check-ins continues at the same time), and the earliest always fires first.
    while fired.len() < FIRE_BATCH && started.elapsed() < FIRE_FOR {
        let Some(item) = tx.due_take(tenant, limit, 1)?.pop() else {
            break;
        };
        at = at.max(item.at);
        // Off the schedule first: firing may put the item back.
        tx.due_done(tenant, &item.id)?;
        let done = engine.fire(tx, &view, &item, at, &tally)?;
        // What happened to a device goes to the tenant's webhook, in the same write.
        if matches!(done["outcome"].as_str(), Some("fired" | "evaluated")) {
            super::enqueue_event(tx, tenant, &done)?;
        }
        fired.push(done);
    }
    tally.into_inner().flush(tx, engine.model, tenant)?;
    let mut end = None;
    if fired.is_empty() {
        if let Some(target) = target.filter(|t| *t > start) {
            clock.move_to(target);
            clock.write(tx, tenant)?;
        }
        end = Some((clock, tx.due_first(tenant)?));
    }
    Ok(Batch {
        fired,
        last_at: at,
        target,
        end,
    })
}

/// The clock as an answer shows it, with how many items are scheduled (when counted) and the
/// earliest.
fn describe(clock: &TenantClock, pending: Option<u64>, next: Option<i64>) -> Map<String, Value> {
    let mut out: Map<String, Value> = clock.to_json().as_object().cloned().unwrap_or_default();
    if let Some(pending) = pending {
        out.insert("pendingCount".into(), json!(pending));
    }
    out.insert("nextDueDateTime".into(), json!(next.map(text)));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn long_client_text_is_cut_where_a_message_repeats_it() {
        let long = "x".repeat(100_000);
        let refused = ClockMove::parse(&json!({ long.clone(): 1 }))
            .unwrap_err()
            .to_string();
        assert!(refused.len() < 300, "{} bytes", refused.len());
        let refused = ClockMove::parse(&json!({ "advanceBy": format!("P{long}D") }))
            .unwrap_err()
            .to_string();
        assert!(refused.contains("longer than 64") && refused.len() < 300);
        assert_eq!(echo("P3D"), "P3D");
    }
}
