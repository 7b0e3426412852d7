//! Durable deliveries of what complyd sends out: every event the engine fires is POSTed to the
//! tenant's webhook (when one is configured), and with `--smtp` every outbox message is mailed to
//! a relay. A delivery is a row written in the same transaction as what caused it, so a rolled-back
//! write sends nothing and a committed one is never lost; a worker sends it later.
//!
//! Where the rows live:
//! - in the tenant's own partition (so a tenant's reset deletes them): its webhook's settings
//!   (`_webhook`, id `config`) and one record per delivery (`_webhookDeliveries`,
//!   `_mailDeliveries`) with its state (`pending`, `delivered`, `failed`), attempts and last error;
//! - in the partition [`DELIVERY_PARTITION`]: one row per pending delivery (`_due`, same id), with
//!   its tenant, when it may go next and who holds it. Any instance's worker lists them across
//!   tenants; one that finds its record gone (a reset tenant) deletes it.
//!
//! Instances sharing one PostgreSQL claim a delivery in a write before sending it (a lease of
//! [`LEASE`]): two instances never send it at once. An instance that stops while sending leaves the
//! claim to expire, and another sends again: delivery is at least once (receivers dedupe on the
//! delivery id). Retries back off exponentially on the real clock (not a tenant's clock).

mod config;
mod mail;
mod queue;
mod smtp;
mod webhook;
mod worker;

pub use mail::{mailing, valid_address};
pub use queue::enqueue_event;
pub use smtp::SmtpRelay;
pub use worker::SEND_BATCH as DELIVERY_BATCH;

use std::time::Duration;

/// The partition of the pending deliveries of every tenant (not a tenant's; refused a reset).
pub const DELIVERY_PARTITION: &str = "_deliveries";
/// The most deliveries one read of a tenant's list answers.
pub const DELIVERIES_PAGE_LIMIT: usize = 1000;
/// Attempts before a delivery that keeps failing is kept as `failed`.
pub const MAX_ATTEMPTS: u32 = 10;
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a claim holds a delivery: longer than any attempt may take.
pub const LEASE: Duration = Duration::from_secs(90);
/// How often the worker looks for due deliveries.
pub const POLL: Duration = Duration::from_millis(250);
/// Finished (delivered or failed) deliveries kept per tenant and kind; older ones are deleted.
pub const KEEP_FINISHED: usize = 1000;

/// How deliveries go out: `complyd serve`'s `--smtp`, `--smtp-from` and `--delivery-backoff-ms`.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The relay every outbox message is also mailed to; `None` mails nothing.
    pub smtp: Option<SmtpRelay>,
    /// The wait before the first retry; each next one doubles, up to [`MAX_BACKOFF`].
    pub backoff: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            smtp: None,
            backoff: Duration::from_secs(1),
        }
    }
}

/// What a deliveries worker needs: its settings and one HTTP client.
pub struct Deliveries {
    settings: DeliverySettings,
    http: reqwest::Client,
}

impl Deliveries {
    pub fn new(settings: DeliverySettings) -> Result<Self, String> {
        Ok(Self {
            settings,
            http: webhook::client().map_err(|e| format!("the webhook client: {e}"))?,
        })
    }

    pub fn settings(&self) -> &DeliverySettings {
        &self.settings
    }

    pub fn set(&mut self, settings: DeliverySettings) {
        self.settings = settings;
    }
}

/// What is delivered: a webhook's POST, or a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Webhook,
    Mail,
}

impl Kind {
    /// The tenant's collection of this kind's records.
    pub fn collection(self) -> &'static str {
        match self {
            Self::Webhook => "_webhookDeliveries",
            Self::Mail => "_mailDeliveries",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Mail => "mail",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "webhook" => Some(Self::Webhook),
            "mail" => Some(Self::Mail),
            _ => None,
        }
    }
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; a note on what went wrong nonetheless (recipients a relay refused).
    Delivered(Option<String>),
    /// Worth another attempt (no answer, a timeout, 5xx, 408, 429, SMTP 4xx).
    Retry(String),
    /// Refused for good (another 4xx, SMTP 5xx, a redirect).
    Fail(String),
}

/// Milliseconds since the Unix epoch, on the real clock.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The instant `ms` (Unix milliseconds) as the API shows times.
fn time_text(ms: i64) -> String {
    let mut at = odata::value::DateTimeOffset::from_unix_seconds(ms.div_euclid(1000));
    at.utc_ticks += ms.rem_euclid(1000) * 10_000;
    at.to_utc_string()
}

/// The wait before the attempt after `attempts` failed ones: `base`, doubled each time, capped.
fn backoff(base: Duration, attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(30);
    base.saturating_mul(1u32 << doublings).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests;
