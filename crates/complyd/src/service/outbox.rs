//! The tenant's outbox: every message complyd would have sent (a template's test message now;
//! the compliance engine's notifications later), stored as rows of a collection no Graph path
//! reaches, and listed at `GET /complyd/v1/outbox` for tests and operators.

use super::audit;
use super::invoke::Invocation;
use super::locate::Location;
use super::{not_found, parse_body, Reply, Service};
use crate::error::ApiError;
use crate::store::{Key, Query, StoreError, WriteTx};
use odata::value::DateTimeOffset;
use serde_json::{json, Map, Value};

/// The collection of the outbox's messages (not in the model, so no Graph path reaches it; a
/// leading `_` cannot start a model name).
pub const OUTBOX: &str = "_outbox";
const MESSAGE_TYPE: &str = "complyd.outboxMessage";
/// The properties the outbox is filtered by (`?kind=…`), each an exact match.
pub const OUTBOX_FILTERS: &[&str] = &[
    "kind",
    "managedDeviceId",
    "deviceCompliancePolicyId",
    "notificationMessageTemplateId",
    "locale",
];
/// The most filters one read takes (each parameter once).
const MAX_FILTERS: usize = 5;
/// The most messages one read of the outbox answers.
pub const OUTBOX_PAGE_LIMIT: usize = 1000;

/// Appends `message` to `tenant`'s outbox inside a write (the engine's notifications will too).
/// Its id is time-ordered, so the outbox reads oldest first. When the server has an SMTP relay
/// (`--smtp`), the service's store queues the message's mail in the same write
/// (`deliveries::mailing`): callers need not do anything for it.
pub fn append(tx: &mut dyn WriteTx, tenant: &str, message: &Value) -> Result<(), StoreError> {
    let key = Key {
        tenant: tenant.to_string(),
        collection: OUTBOX.to_string(),
        parent: String::new(),
        id: uuid::Uuid::now_v7().to_string(),
    };
    tx.insert(&key, MESSAGE_TYPE, &message.to_string())
}

impl Service {
    /// `sendTestMessage`: the template's default localized message (else its first), addressed
    /// to the caller, recorded in the outbox (and queued as a `testMessage` event for the tenant's
    /// webhook) in the same write as its audit event.
    pub(super) async fn send_test_message(
        &self,
        invocation: Invocation,
    ) -> Result<Reply, ApiError> {
        let Invocation { call, audit, .. } = invocation;
        let template_key = Location::of(&call.tenant, &call.path).key(&call.tenant);
        let template = self
            .store
            .get(&template_key)
            .await?
            .ok_or_else(|| not_found(&template_key))?;
        let template = parse_body(&template.body)?;
        let messages_at = format!("{}/localizedNotificationMessages", template_key.collection);
        let query = Query::all(&call.tenant, &messages_at, &template_key.child_parent());
        let mut messages = Vec::new();
        for (row, _) in self.store.query(query).await? {
            messages.push(parse_body(&row.body)?);
        }
        let chosen = messages
            .iter()
            .find(|m| m.get("isDefault") == Some(&Value::Bool(true)))
            .or(messages.first())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "The notification message template has no localized message to send; create one first.",
                )
            })?;
        let recipient = call
            .caller
            .user_principal_name
            .clone()
            .or_else(|| call.caller.app_id.clone())
            .unwrap_or_default();
        let message = json!({
            "kind": "testMessage",
            "sentDateTime": DateTimeOffset::now().to_utc_string(),
            "notificationMessageTemplateId": template_key.id,
            "templateDisplayName": template.get("displayName"),
            "brandingOptions": template.get("brandingOptions"),
            "locale": chosen.get("locale"),
            "subject": chosen.get("subject"),
            "messageTemplate": chosen.get("messageTemplate"),
            "recipients": [recipient],
        });
        let (model, tenant) = (self.model, call.tenant.clone());
        self.store
            .write(move |tx| {
                if !tx.exists(&template_key)? {
                    return Err(not_found(&template_key));
                }
                let mut message = message.clone();
                message["sentDateTime"] = Value::String(super::time::now_text(tx, &tenant)?);
                append(tx, &tenant, &message)?;
                // People testing their automation get it on the tenant's webhook too.
                super::enqueue_event(tx, &tenant, &message)?;
                let sent = Map::from_iter([("testMessage".to_string(), message)]);
                let after: Map<String, Value> = template.clone().into_iter().chain(sent).collect();
                audit::record(
                    &audit,
                    model,
                    tx,
                    &template_key.id,
                    Some(&template),
                    Some(&after),
                )?;
                Ok::<_, ApiError>(())
            })
            .await?;
        Ok(Reply::NoContent)
    }

    /// The tenant's outbox, oldest first: at most `top` messages after the first `skip`, of those
    /// whose properties equal `filters` (names of [`OUTBOX_FILTERS`]).
    pub async fn outbox(
        &self,
        tenant: &str,
        skip: usize,
        top: usize,
        filters: &[(String, String)],
    ) -> Result<Vec<Value>, ApiError> {
        if filters.len() > MAX_FILTERS {
            return Err(ApiError::bad_request(format!(
                "The outbox takes at most {MAX_FILTERS} filters (the limit)."
            )));
        }
        let mut query = Query::all(tenant, OUTBOX, "");
        if !filters.is_empty() {
            query.filter = Some(odata::query::bind::Condition::And(
                filters
                    .iter()
                    .map(|(name, value)| super::engine::property_eq(name, value))
                    .collect(),
            ));
        }
        query.skip = skip;
        query.limit = top.min(OUTBOX_PAGE_LIMIT);
        let rows = self.store.query(query).await?;
        rows.iter()
            .map(|(row, _)| {
                let mut body = parse_body(&row.body)?;
                body.insert("id".into(), Value::String(row.key.id.clone()));
                Ok(Value::Object(body))
            })
            .collect()
    }
}
