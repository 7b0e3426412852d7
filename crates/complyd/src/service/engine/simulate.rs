//! Simulated check-ins (per tenant, `{"simulateCheckIns": true}` on the clock): as the clock
//! moves, every managed device checks in on the live service's cadence, reporting what it last
//! reported, so a month of simulated time leaves the reports a month of a real tenant would (last
//! sync and report times move; nothing goes stale; pending device actions are carried out).
//! One schedule item per tenant drives it; a round over many devices continues over several
//! writes, the item put back with where it stopped.

use super::plan::SIMULATE;
use super::tally::SharedTally;
use super::{actions, results, DeviceInput, Engine, TenantView};
use crate::error::ApiError;
use crate::store::{Cursor, DueItem, Query, WriteTx};
use serde_json::{json, Value};

/// Live devices check in about every 8 hours.
pub const CADENCE_MS: i64 = 8 * 3_600_000;
/// Devices one write checks in, at most.
const PER_WRITE: usize = 200;
const ITEM: &str = "simulate";

fn item(tenant: &str, at: i64, after_seq: Option<i64>) -> DueItem {
    DueItem {
        tenant: tenant.to_string(),
        id: ITEM.to_string(),
        at,
        device: String::new(),
        policy: ITEM.to_string(),
        kind: SIMULATE.to_string(),
        body: json!({ "afterSeq": after_seq }).to_string(),
    }
}

impl Engine {
    /// Starts simulated check-ins from `start` (the first round one cadence later), or stops them.
    pub fn simulate_check_ins(
        tx: &mut dyn WriteTx,
        tenant: &str,
        start: Option<i64>,
    ) -> Result<(), ApiError> {
        tx.due_cancel(tenant, "", Some(ITEM))?;
        if let Some(start) = start {
            tx.due_put(&item(tenant, start.saturating_add(CADENCE_MS), None))?;
        }
        Ok(())
    }

    /// One write of a round: the next devices check in at `now_ms`; answers how many.
    pub(super) fn simulated_round(
        &self,
        tx: &mut dyn WriteTx,
        view: &TenantView,
        due: &DueItem,
        now_ms: i64,
        tally: &SharedTally,
    ) -> Result<usize, ApiError> {
        let body = crate::service::parse_body(&due.body)?;
        let after = body.get("afterSeq").and_then(Value::as_i64);
        let mut query = Query::all(&due.tenant, results::DEVICES, "");
        query.limit = PER_WRITE;
        query.cursor = after.map(|seq| Cursor {
            values: Vec::new(),
            seq,
        });
        let page = tx.query(&query)?;
        let stamp = crate::service::time::text(now_ms);
        let mut checked = 0;
        for (row, _) in &page {
            let mut input = DeviceInput::load(tx, &due.tenant, &row.key.id)?;
            let state = input
                .device()
                .get("managementState")
                .and_then(Value::as_str)
                .unwrap_or("managed");
            // A device being wiped or retired no longer reports.
            if state.ends_with("Pending") {
                continue;
            }
            let device = input.device_mut();
            actions::complete_pending(device, &stamp);
            device.insert("lastSyncDateTime".into(), json!(stamp.clone()));
            self.evaluate_with(
                tx,
                view,
                &due.tenant,
                &row.key.id,
                now_ms / 1000,
                true,
                input,
                tally,
            )?;
            checked += 1;
        }
        let next = match page.last() {
            Some((last, _)) if page.len() == PER_WRITE => item(&due.tenant, due.at, Some(last.seq)),
            _ => item(&due.tenant, due.at.saturating_add(CADENCE_MS), None),
        };
        tx.due_put(&next)?;
        Ok(checked)
    }
}
