//! Each tenant's clock: real time moved by an offset, or frozen at an instant. Kept as a hidden
//! row of the tenant (none while the clock is plain real time), read inside the write that
//! stamps with it, so every instance of a shared store sees one clock.

use crate::error::ApiError;
use crate::service::parse_body;
use crate::store::{Key, Row, WriteTx};
use odata::value::DateTimeOffset;
use serde_json::{json, Map, Value};

const CLOCKS: &str = "_clock";
const CLOCK_TYPE: &str = "complyd.clock";

pub fn key(tenant: &str) -> Key {
    Key {
        tenant: tenant.to_string(),
        collection: CLOCKS.to_string(),
        parent: String::new(),
        id: "clock".to_string(),
    }
}

/// The system clock, in Unix milliseconds.
pub fn real_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `ms` as a `DateTimeOffset` in UTC.
pub fn text(ms: i64) -> String {
    DateTimeOffset::from_unix_millis(ms).to_utc_string()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantClock {
    /// Added to real time while the clock runs.
    pub offset_ms: i64,
    /// The instant the clock stands at while frozen.
    pub frozen_at: Option<i64>,
    /// The tenant's devices check in on the live cadence as the clock moves.
    pub simulate_check_ins: bool,
}

impl TenantClock {
    pub fn read(tx: &mut dyn WriteTx, tenant: &str) -> Result<Self, ApiError> {
        Self::from_row(tx.get(&key(tenant))?)
    }

    pub fn from_row(row: Option<Row>) -> Result<Self, ApiError> {
        let Some(row) = row else {
            return Ok(Self::default());
        };
        let body = parse_body(&row.body)?;
        Ok(Self {
            offset_ms: body.get("offsetMs").and_then(Value::as_i64).unwrap_or(0),
            frozen_at: body.get("frozenAtMs").and_then(Value::as_i64),
            simulate_check_ins: body.get("simulateCheckIns") == Some(&Value::Bool(true)),
        })
    }

    /// The tenant's now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.frozen_at
            .unwrap_or_else(|| real_ms().saturating_add(self.offset_ms))
    }

    /// Stands the clock at `at` (running on from there unless frozen).
    pub fn move_to(&mut self, at: i64) {
        match self.frozen_at {
            Some(_) => self.frozen_at = Some(at),
            None => self.offset_ms = at.saturating_sub(real_ms()),
        }
    }

    /// Freezes the clock at its now, or lets it run on from where it stands.
    pub fn freeze(&mut self, frozen: bool) {
        match (frozen, self.frozen_at) {
            (true, None) => self.frozen_at = Some(self.now_ms()),
            (false, Some(at)) => {
                self.frozen_at = None;
                self.offset_ms = at.saturating_sub(real_ms());
            }
            _ => {}
        }
    }

    /// Stores the clock (a plain real-time clock as no row).
    pub fn write(&self, tx: &mut dyn WriteTx, tenant: &str) -> Result<(), ApiError> {
        let key = key(tenant);
        if *self == Self::default() {
            tx.delete_tree(&key)?;
            return Ok(());
        }
        let mut body = Map::new();
        body.insert("offsetMs".into(), json!(self.offset_ms));
        if let Some(at) = self.frozen_at {
            body.insert("frozenAtMs".into(), json!(at));
        }
        if self.simulate_check_ins {
            body.insert("simulateCheckIns".into(), json!(true));
        }
        let text = Value::Object(body).to_string();
        if !tx.update(&key, &text)? {
            tx.insert(&key, CLOCK_TYPE, &text)?;
        }
        Ok(())
    }

    /// What `GET /complyd/v1/clock` shows of it.
    pub fn to_json(&self) -> Value {
        json!({
            "now": text(self.now_ms()),
            "frozen": self.frozen_at.is_some(),
            "simulateCheckIns": self.simulate_check_ins,
            "offsetSeconds": if self.frozen_at.is_some() { Value::Null } else { json!(self.offset_ms / 1000) },
        })
    }
}

/// The tenant's now inside a write, in Unix milliseconds.
pub fn now_ms(tx: &mut dyn WriteTx, tenant: &str) -> Result<i64, ApiError> {
    Ok(TenantClock::read(tx, tenant)?.now_ms())
}

/// The tenant's now inside a write, as `DateTimeOffset` text.
pub fn now_text(tx: &mut dyn WriteTx, tenant: &str) -> Result<String, ApiError> {
    Ok(text(now_ms(tx, tenant)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_stands_and_a_running_one_keeps_its_offset() {
        let mut clock = TenantClock::default();
        clock.freeze(true);
        let at = clock.frozen_at.unwrap_or_default();
        clock.move_to(at + 3_600_000);
        assert_eq!(clock.now_ms(), at + 3_600_000);
        clock.freeze(false);
        let now = clock.now_ms();
        assert!(now >= at + 3_600_000 && now < at + 3_700_000, "{now}");
        assert!(clock.offset_ms > 3_500_000);
    }
}
