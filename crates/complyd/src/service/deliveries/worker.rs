//! The worker's pass (`deliveries` in lib.rs calls it every [`super::POLL`]): find due
//! deliveries, claim them in one write, attempt them at once, record the outcomes in another
//! write, and keep each tenant's finished deliveries to [`KEEP_FINISHED`].

use super::queue::{self, Claim, Due};
use super::smtp::{self, Letter};
use super::{now_ms, webhook, Kind, Outcome, KEEP_FINISHED};
use crate::error::ApiError;
use crate::service::{parse_body, Service};
use crate::store::{CountBy, Cursor, Query};
use serde_json::Value;

/// The most deliveries one pass attempts (at once).
pub const SEND_BATCH: usize = 16;
/// Pending deliveries read per page, and the most pages one pass reads.
const SCAN_PAGE: usize = 500;
const SCAN_PAGES: usize = 10;
/// The most finished deliveries one clean-up deletes.
const PRUNE_LIMIT: usize = 1000;

impl Service {
    /// Attempts the deliveries that are due (at most [`SEND_BATCH`]); answers how many.
    pub async fn deliver_due(&self) -> Result<usize, ApiError> {
        let mails = self.deliveries.settings().smtp.is_some();
        let ids = self.due_ids(mails).await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let claims = self
            .store
            .write(move |tx| Ok::<_, ApiError>(queue::claim(tx, ids, mails)?))
            .await?;
        let attempted = claims.len();
        let attempts = claims.into_iter().map(|claim| async move {
            let outcome = self.attempt(&claim).await;
            (claim, outcome)
        });
        let outcomes = futures_util::future::join_all(attempts).await;
        for (claim, outcome) in &outcomes {
            if let Outcome::Retry(why) | Outcome::Fail(why) = outcome {
                tracing::info!(delivery = %claim.due.id, tenant = %claim.due.tenant,
                               attempt = claim.attempt, "delivery attempt failed: {why}");
            }
        }
        let base = self.deliveries.settings().backoff;
        let finished = self
            .store
            .write(move |tx| Ok::<_, ApiError>(queue::settle(tx, outcomes, base)?))
            .await?;
        for (tenant, kind) in finished {
            self.prune(&tenant, kind).await?;
        }
        Ok(attempted)
    }

    /// Ids of pending deliveries whose wait is over and that no live claim holds, oldest first.
    async fn due_ids(&self, mails: bool) -> Result<Vec<String>, ApiError> {
        let now = now_ms();
        let mut ids = Vec::new();
        let mut cursor = None;
        for _ in 0..SCAN_PAGES {
            let mut query = queue::due_query();
            query.limit = SCAN_PAGE;
            query.cursor = cursor.take();
            let page = self.store.query(query).await?;
            for (row, _) in &page {
                let due = Due::of(row);
                let sendable = due
                    .as_ref()
                    .is_some_and(|d| d.is_due(now) && (d.kind == Kind::Webhook || mails));
                if sendable {
                    ids.push(row.key.id.clone());
                    if ids.len() == SEND_BATCH {
                        return Ok(ids);
                    }
                }
            }
            match page.last() {
                Some((last, values)) if page.len() == SCAN_PAGE => {
                    cursor = Some(Cursor {
                        values: values.clone(),
                        seq: last.seq,
                    });
                }
                _ => break,
            }
        }
        Ok(ids)
    }

    async fn attempt(&self, claim: &Claim) -> Outcome {
        let (id, tenant) = (&claim.due.id, &claim.due.tenant);
        match (
            claim.due.kind,
            &claim.target,
            &self.deliveries.settings().smtp,
        ) {
            (Kind::Webhook, Some(target), _) => {
                let body = webhook::body(id, tenant, &claim.created, &claim.content);
                let secret = target.secret.as_deref();
                webhook::post(
                    &self.deliveries.http,
                    &target.url,
                    secret,
                    id,
                    claim.attempt,
                    body,
                )
                .await
            }
            (Kind::Mail, _, Some(relay)) => {
                smtp::send(relay, id, tenant, &Letter::of(&claim.content)).await
            }
            // Not claimed so.
            _ => Outcome::Retry("This instance cannot send it.".into()),
        }
    }

    /// Deletes `tenant`'s oldest finished deliveries of `kind` past [`KEEP_FINISHED`].
    async fn prune(&self, tenant: &str, kind: Kind) -> Result<(), ApiError> {
        let counts = self
            .store
            .count_by(CountBy {
                tenant,
                collection: kind.collection(),
                parent: Some(""),
                property: "state",
            })
            .await?;
        let finished: u64 = counts
            .iter()
            .filter(|(state, _)| state != "pending")
            .map(|(_, n)| n)
            .sum();
        let excess = (finished as usize)
            .saturating_sub(KEEP_FINISHED)
            .min(PRUNE_LIMIT);
        if excess == 0 {
            return Ok(());
        }
        let mut old = Vec::new();
        let mut cursor = None;
        for _ in 0..SCAN_PAGES {
            let mut query = Query::all(tenant, kind.collection(), "");
            query.limit = SCAN_PAGE;
            query.cursor = cursor.take();
            let page = self.store.query(query).await?;
            for (row, _) in &page {
                let state = parse_body(&row.body)
                    .ok()
                    .and_then(|b| b.get("state").and_then(Value::as_str).map(str::to_string));
                if state.as_deref() != Some("pending") && old.len() < excess {
                    old.push(row.key.clone());
                }
            }
            match page.last() {
                Some((last, values)) if page.len() == SCAN_PAGE && old.len() < excess => {
                    cursor = Some(Cursor {
                        values: values.clone(),
                        seq: last.seq,
                    });
                }
                _ => break,
            }
        }
        self.store
            .write(move |tx| {
                for key in &old {
                    tx.delete_tree(key)?;
                }
                Ok::<_, ApiError>(())
            })
            .await
    }
}
