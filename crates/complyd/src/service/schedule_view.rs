//! The tenant's schedule read as a list (`GET /complyd/v1/clock/schedule`): what falls due up to
//! an instant, earliest first, without firing it. The console previews a clock move with it.

use super::time::{now_ms, text, ClockMove};
use super::Service;
use crate::error::ApiError;
use crate::store::DueItem;
use serde_json::{json, Map, Value};

/// Items listed at most.
pub const SCHEDULE_PAGE_LIMIT: usize = 1000;

/// One item as the list shows it: what the clock's answer says of a fired one, before firing.
fn describe(item: &DueItem) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!(item.kind));
    out.insert("dueDateTime".into(), json!(text(item.at)));
    if !item.device.is_empty() {
        out.insert("managedDeviceId".into(), json!(item.device));
    }
    if !item.policy.is_empty() {
        out.insert("deviceCompliancePolicyId".into(), json!(item.policy));
    }
    let body: Value = serde_json::from_str(&item.body).unwrap_or(Value::Null);
    if let Some(action) = body.get("actionType").and_then(Value::as_str) {
        out.insert("actionType".into(), json!(action));
    }
    Value::Object(out)
}

impl Service {
    /// What `tenant`'s clock would fire if it moved as `until` says (a `ClockMove`'s
    /// `advanceBy` or `setTo`; `None`: everything on the schedule), earliest first, at most
    /// `limit`; with the instant it stops at.
    pub async fn schedule(
        &self,
        tenant: &str,
        until: Option<ClockMove>,
        limit: usize,
    ) -> Result<Value, ApiError> {
        let tenant = tenant.to_string();
        self.store
            .write(move |tx| {
                let now = now_ms(tx, &tenant)?;
                let target = match &until {
                    Some(ClockMove {
                        set_to_ms: Some(at),
                        ..
                    }) => Some(*at),
                    Some(ClockMove {
                        advance_by_ms: Some(by),
                        ..
                    }) => Some(now.saturating_add(*by)),
                    _ => None,
                };
                // Read inside a write (on PostgreSQL items being fired elsewhere are skipped);
                // nothing is taken off: only firing removes an item.
                let items = tx.due_take(&tenant, target.unwrap_or(i64::MAX), limit)?;
                Ok::<_, ApiError>(json!({
                    "now": text(now),
                    "until": target.map(text),
                    "value": items.iter().map(describe).collect::<Vec<_>>(),
                }))
            })
            .await
    }
}
