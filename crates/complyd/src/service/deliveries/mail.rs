//! Mail for every outbox message, when the server has an SMTP relay.
//!
//! How the relay reaches `outbox::append`: the service's store is wrapped ([`mailing`], only when
//! `--smtp` is given) so that every insert into a tenant's `_outbox`, whoever makes it, queues its
//! mail in the same write. `append`'s signature and callers stay as they are, and the engine's
//! notifications are mailed without knowing about mail.

use super::queue::{enqueue, record_failed};
use super::smtp::SmtpRelay;
use super::Kind;
use crate::service::OUTBOX;
use crate::store::{
    CountBy, Found, GroupNotes, JobFn, Key, PageRow, Query, Read, ReadyBody, Row, Store,
    StoreError, StoreFuture, WriteTx,
};
use serde_json::{json, Value};
use std::sync::Arc;

/// The most recipients (to and cc) one mail goes to.
pub const MAX_RECIPIENTS: usize = 100;

/// `store`, queueing a mail through `relay` for each outbox message written through it.
pub fn mailing(store: Arc<dyn Store>, relay: SmtpRelay) -> Arc<dyn Store> {
    Arc::new(Mailing {
        inner: store,
        relay: Arc::new(relay),
    })
}

/// A plain mail address: `local@domain`, printable ASCII without spaces, brackets or separators,
/// at most 254 characters (what SMTP's `<…>` can carry without quoting).
pub fn valid_address(text: &str) -> bool {
    let allowed = |c: char| c.is_ascii_graphic() && !"<>()[],;:\\\"".contains(c);
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !local.contains('@')
        && text.chars().all(allowed)
}

/// The mail of the outbox message `message` (its `recipients` and `cc`, `subject`, and `body` or
/// else `messageTemplate`), queued in `tx`; kept as failed when no recipient has an address.
fn queue_mail(
    tx: &mut dyn WriteTx,
    relay: &SmtpRelay,
    key: &Key,
    message: &str,
) -> Result<(), StoreError> {
    let message: Value = serde_json::from_str(message).unwrap_or(Value::Null);
    let names = |field: &str| -> Vec<String> {
        message
            .get(field)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (to, cc) = (names("recipients"), names("cc"));
    let unusable: Vec<&String> = to.iter().chain(&cc).filter(|a| !valid_address(a)).collect();
    let keep = |list: &[String]| -> Vec<String> {
        list.iter().filter(|a| valid_address(a)).cloned().collect()
    };
    let (mut to, mut cc) = (keep(&to), keep(&cc));
    to.truncate(MAX_RECIPIENTS);
    cc.truncate(MAX_RECIPIENTS - to.len());
    let text = |field: &str| message.get(field).and_then(Value::as_str);
    let mail = json!({
        "outboxMessageId": key.id,
        "from": relay.sender(&key.tenant),
        "to": to,
        "cc": cc,
        "subject": text("subject").unwrap_or_default(),
        "body": text("body").or(text("messageTemplate")).unwrap_or_default(),
    });
    if to.is_empty() && cc.is_empty() {
        let shown: Vec<&str> = unusable.iter().take(5).map(|a| a.as_str()).collect();
        let why = format!(
            "The message names no recipient with a mail address (it names: {}).",
            if shown.is_empty() {
                "none".into()
            } else {
                shown.join(", ")
            }
        );
        return record_failed(tx, &key.tenant, Kind::Mail, "mail", mail, &why);
    }
    enqueue(tx, &key.tenant, Kind::Mail, "mail", mail).map(|_| ())
}

struct Mailing {
    inner: Arc<dyn Store>,
    relay: Arc<SmtpRelay>,
}

struct MailingTx<'a> {
    inner: &'a mut dyn WriteTx,
    relay: &'a SmtpRelay,
}

impl MailingTx<'_> {
    /// A new message in a tenant's outbox is queued for the relay.
    fn after_insert(&mut self, key: &Key, body: &str) -> Result<(), StoreError> {
        if key.collection == OUTBOX && !key.tenant.starts_with('_') {
            queue_mail(self.inner, self.relay, key, body)?;
        }
        Ok(())
    }
}

impl WriteTx for MailingTx<'_> {
    fn group_notes(&mut self) -> Option<&mut GroupNotes> {
        self.inner.group_notes()
    }
    fn unwritten_since(&mut self, mark: crate::store::WriteMark, keys: &[&Key]) -> bool {
        self.inner.unwritten_since(mark, keys)
    }
    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError> {
        self.inner.get(key)
    }
    fn exists(&mut self, key: &Key) -> Result<bool, StoreError> {
        self.inner.exists(key)
    }
    fn insert(&mut self, key: &Key, type_name: &str, body: &str) -> Result<(), StoreError> {
        self.inner.insert(key, type_name, body)?;
        self.after_insert(key, body)
    }
    fn insert_ready(
        &mut self,
        key: &Key,
        type_name: &str,
        body: &ReadyBody,
    ) -> Result<(), StoreError> {
        self.inner.insert_ready(key, type_name, body)?;
        self.after_insert(key, body.text())
    }
    fn update(&mut self, key: &Key, body: &str) -> Result<bool, StoreError> {
        self.inner.update(key, body)
    }
    fn delete_tree(&mut self, key: &Key) -> Result<bool, StoreError> {
        self.inner.delete_tree(key)
    }
    fn members(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.inner.members(tenant, collection, parent, limit)
    }
    fn clear_collection(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
    ) -> Result<(), StoreError> {
        self.inner.clear_collection(tenant, collection, parent)
    }
    fn delete_everywhere(
        &mut self,
        tenant: &str,
        collection: &str,
        id: &str,
    ) -> Result<u64, StoreError> {
        self.inner.delete_everywhere(tenant, collection, id)
    }
    fn query(&mut self, q: &Query) -> Result<Vec<PageRow>, StoreError> {
        self.inner.query(q)
    }
    fn delete_tenant(&mut self, tenant: &str) -> Result<u64, StoreError> {
        self.inner.delete_tenant(tenant)
    }
    fn hold(&mut self, name: &str) -> Result<(), StoreError> {
        self.inner.hold(name)
    }
    crate::store::schedule::forward_schedule!();
}

impl Store for Mailing {
    fn submit(&self, job: JobFn) -> StoreFuture<'_, ()> {
        let relay = Arc::clone(&self.relay);
        self.inner.submit(Box::new(move |tx| {
            let mut mailing = MailingTx {
                inner: tx,
                relay: &relay,
            };
            job(&mut mailing)
        }))
    }
    fn get<'a>(&'a self, key: &'a Key) -> StoreFuture<'a, Option<Row>> {
        self.inner.get(key)
    }
    fn ready(&self, collection: &str, text: String) -> ReadyBody {
        self.inner.ready(collection, text)
    }
    fn all_exist(&self, keys: Vec<Key>) -> StoreFuture<'_, Option<Key>> {
        self.inner.all_exist(keys)
    }
    fn query(&self, q: Query) -> StoreFuture<'_, Vec<PageRow>> {
        self.inner.query(q)
    }
    fn count_matching(&self, q: Query) -> StoreFuture<'_, u64> {
        self.inner.count_matching(q)
    }
    fn count_by<'a>(&'a self, groups: CountBy<'a>) -> StoreFuture<'a, Vec<(String, u64)>> {
        self.inner.count_by(groups)
    }
    fn read_together(&self, reads: Vec<Read>) -> StoreFuture<'_, Vec<Found>> {
        self.inner.read_together(reads)
    }
    fn scan(&self, after_seq: i64, limit: usize) -> StoreFuture<'_, Vec<Row>> {
        self.inner.scan(after_seq, limit)
    }
    fn explain(&self, q: Query) -> StoreFuture<'_, Vec<String>> {
        self.inner.explain(q)
    }
    fn ping(&self) -> StoreFuture<'_, ()> {
        self.inner.ping()
    }
    fn close(&self) -> StoreFuture<'_, ()> {
        self.inner.close()
    }
    fn queued_writes(&self) -> usize {
        self.inner.queued_writes()
    }
    fn pool_use(&self) -> Option<(usize, usize)> {
        self.inner.pool_use()
    }
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }
    fn write_mark(&self) -> Option<crate::store::WriteMark> {
        self.inner.write_mark()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_addresses_are_mailed() {
        for good in ["a@b", "first.last+tag@example.com"] {
            assert!(valid_address(good), "{good}");
        }
        let long = format!("{}@x", "a".repeat(253));
        for bad in [
            "",
            "nobody",
            "@x",
            "a@",
            "a b@x",
            "a@x>\r\nRCPT TO:<evil@x",
            "<a@x>",
            "a@b@c",
            "ünï@x",
            long.as_str(),
        ] {
            assert!(!valid_address(bad), "{bad}");
        }
    }
}
