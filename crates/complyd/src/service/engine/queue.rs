//! Re-evaluation after a change that can move many devices at once (a policy, its assignments or
//! actions, a filter, a group's members, the tenant's settings): a durable queue.
//!
//! Every write goes through [`watched`]: the first time a job changes a row of one of
//! [`CHANGES_THAT_MATTER`], it marks the tenant in the same transaction (one row per tenant, with
//! a fresh stamp at every change: a stamp never recurs, even after the mark was cleared), unless
//! a job before it in the same group commit marked it and kept its changes. So a change that was
//! answered has its mark, and a crash cannot lose it. The worker (`reevaluations` in lib.rs, calling [`Service::reevaluate_marked`])
//! evaluates every device of a marked tenant in batches, each its own write, then removes the mark
//! if no change came meanwhile (else it goes round again). A mark made only of changes that
//! matter through a policy (group members, filters) is cleared without a round while the tenant
//! has none. The worker lets a burst of changes pause first (at most a few seconds), so a restore
//! or a fuzzer's stream of writes is evaluated in few rounds.
//! `settle` does not wait. Why not in the change's own transaction: one policy can apply to 100,000 devices,
//! and a write that long would hold every other write of the server behind it.
//! Check-ins and new devices are evaluated in their own write (`checkin`, `add_device`).

use super::tenant::DIRECTORY;
use crate::error::ApiError;
use crate::service::{parse_body, Service};
use crate::store::{
    CountBy, Found, GroupNotes, JobFn, Key, PageRow, Query, Read, ReadyBody, Row, Store,
    StoreError, StoreFuture, WriteTx,
};
use serde_json::{json, Value};
use std::sync::Arc;

/// The collections whose rows decide what a device is evaluated against.
pub const CHANGES_THAT_MATTER: &[&str] = &[
    "deviceCompliancePolicies",
    "deviceCompliancePolicies/assignments",
    "deviceCompliancePolicies/scheduledActionsForRule",
    "deviceCompliancePolicies/scheduledActionsForRule/scheduledActionConfigurations",
    "assignmentFilters",
    "deviceManagement",
    "directoryObjects/members",
];

/// Of those, the changes that matter only through a policy: who is in which group, and the
/// filters assignments name. A tenant without policies evaluates no device differently after
/// them, so a mark made of these alone is cleared without a round while the tenant has none.
const MATTER_THROUGH_POLICIES: &[&str] = &["assignmentFilters", "directoryObjects/members"];

/// Where the marks live: a partition of their own, one row per tenant (not exported: an import
/// marks every tenant it loads).
pub const MARKS_TENANT: &str = "_engine";
const MARKS: &str = "_reevaluate";
/// The worker lets a tenant's changes settle this long before a round (a burst of changes, as a
/// restore or a test makes, is evaluated once)…
const QUIET_MS: i64 = 300;
/// …but never holds a round back longer than this after the first change.
const MAX_DELAY_MS: i64 = 3_000;

/// The engine's own row of `tenant` in `collection` (a mark, a generation, a directory stamp).
fn tenant_row(collection: &str, tenant: &str) -> Key {
    Key {
        tenant: MARKS_TENANT.into(),
        collection: collection.into(),
        parent: String::new(),
        id: tenant.to_string(),
    }
}

fn mark_key(tenant: &str) -> Key {
    tenant_row(MARKS, tenant)
}

/// The stamp of the mark's latest change (or of a generation or directory stamp).
pub fn stamp_of(row: &Row) -> String {
    parse_body(&row.body)
        .ok()
        .and_then(|b| b.get("stamp").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

/// Where each tenant's generation lives: a fresh stamp at each change that matters (a stamp never
/// recurs, even after a rolled-back write), so that an instance can tell whether what it read of
/// the tenant's policies is still current.
const GENERATIONS: &str = "_generation";

pub fn generation_key(tenant: &str) -> Key {
    tenant_row(GENERATIONS, tenant)
}

/// The tenant's generation as this transaction sees it (empty before any change).
pub fn generation(tx: &mut dyn WriteTx, tenant: &str) -> Result<String, StoreError> {
    stamp_at(tx, &generation_key(tenant))
}

/// The stamp of the row at `key` as this transaction sees it (empty when there is none).
fn stamp_at(tx: &mut dyn WriteTx, key: &Key) -> Result<String, StoreError> {
    Ok(tx.get(key)?.map(|row| stamp_of(&row)).unwrap_or_default())
}

/// Where each tenant's directory stamp lives: a fresh stamp at every write of a directory object
/// (a user, group or device; not a membership link), so that what a round read of the directory
/// devices before its write is used only while no such write came after it (`ahead.rs`).
const DIRECTORY_STAMPS: &str = "_directory";

pub fn directory_stamp_key(tenant: &str) -> Key {
    tenant_row(DIRECTORY_STAMPS, tenant)
}

/// The tenant's directory stamp as this transaction sees it (empty before any directory write).
pub fn directory_stamp(tx: &mut dyn WriteTx, tenant: &str) -> Result<String, StoreError> {
    stamp_at(tx, &directory_stamp_key(tenant))
}

fn restamp(tx: &mut dyn WriteTx, key: &Key) -> Result<(), StoreError> {
    let body = json!({ "stamp": uuid::Uuid::new_v4().to_string() }).to_string();
    if !tx.update(key, &body)? {
        tx.insert(key, "", &body)?;
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A mark: the stamp of its latest change, when the first and the last came (Unix ms), and
/// whether every change it holds matters only through a policy (`through_policies`; one that
/// matters otherwise makes the whole mark so). A round clears the mark only if its stamp is still
/// the one the round started from; a counter would not do, as it starts again after a clear and
/// a late round would take a new change for its own.
fn bump(tx: &mut dyn WriteTx, key: &Key, through_policies: bool) -> Result<(), StoreError> {
    let before = tx.get(key)?.and_then(|row| parse_body(&row.body).ok());
    let first = before
        .as_ref()
        .and_then(|b| b.get("first").and_then(Value::as_i64));
    let through_policies = through_policies
        && before
            .as_ref()
            .is_none_or(|b| b.get(THROUGH_POLICIES).and_then(Value::as_bool) == Some(true));
    let now = now_ms();
    let stamp = uuid::Uuid::new_v4().to_string();
    let body = json!({ "stamp": stamp, "first": first.unwrap_or(now), "last": now,
        THROUGH_POLICIES: through_policies })
    .to_string();
    if !tx.update(key, &body)? {
        tx.insert(key, "", &body)?;
    }
    Ok(())
}

/// Clears the mark if no change came since the one stamped `stamp`; a change that came meanwhile
/// keeps it for another round.
fn clear_unless_changed(tx: &mut dyn WriteTx, key: &Key, stamp: &str) -> Result<(), StoreError> {
    if tx.get(key)?.map(|r| stamp_of(&r)).as_deref() == Some(stamp) {
        tx.delete_tree(key)?;
    }
    Ok(())
}

/// Whether the worker takes this mark now: its changes have paused, or it has waited long enough.
fn due(row: &Row, now: i64) -> bool {
    let body = parse_body(&row.body).unwrap_or_default();
    let at = |name: &str| body.get(name).and_then(Value::as_i64).unwrap_or(0);
    now - at("last") >= QUIET_MS || now - at("first") >= MAX_DELAY_MS
}

/// The mark's property saying its changes matter only through a policy.
const THROUGH_POLICIES: &str = "onlyThroughPolicies";

/// Whether every change `mark` holds matters only through a policy.
fn only_through_policies(mark: &Row) -> bool {
    parse_body(&mark.body)
        .ok()
        .and_then(|b| b.get(THROUGH_POLICIES).and_then(Value::as_bool))
        == Some(true)
}

/// Marks `tenant` for re-evaluation and moves its generation on (inside the caller's transaction).
pub fn mark(tx: &mut dyn WriteTx, tenant: &str) -> Result<(), StoreError> {
    mark_for(tx, tenant, false)
}

fn mark_for(tx: &mut dyn WriteTx, tenant: &str, through_policies: bool) -> Result<(), StoreError> {
    bump(tx, &mark_key(tenant), through_policies)?;
    restamp(tx, &generation_key(tenant))
}

/// `store`, marking tenants whose writes change what devices are evaluated against.
pub fn watched(store: Arc<dyn Store>) -> Arc<dyn Store> {
    Arc::new(Watched { inner: store })
}

struct Watched {
    inner: Arc<dyn Store>,
}

struct Watching<'a> {
    inner: &'a mut dyn WriteTx,
    /// Tenants this job marked, each with whether only for changes that matter through a policy.
    marked: Vec<(String, bool)>,
    /// Tenants whose directory stamp this job moved.
    directory_stamped: Vec<String>,
}

/// The group note saying a job before in this transaction marked the tenant (and kept it);
/// `through_policies`: only for changes that matter through a policy.
fn marked_note(tenant: &str, through_policies: bool) -> String {
    if through_policies {
        format!("reevaluate through policies {tenant}")
    } else {
        format!("reevaluate {tenant}")
    }
}

impl Watching<'_> {
    fn touch(&mut self, tenant: &str, collection: &str) -> Result<(), StoreError> {
        if collection == DIRECTORY && !self.directory_stamped.iter().any(|t| t == tenant) {
            restamp(self.inner, &directory_stamp_key(tenant))?;
            self.directory_stamped.push(tenant.to_string());
        }
        let through = MATTER_THROUGH_POLICIES.contains(&collection);
        // A mark covers this change unless it was only for changes through a policy and this
        // one matters otherwise.
        let covers = |only_through: bool| !only_through || through;
        if tenant == MARKS_TENANT
            || !CHANGES_THAT_MATTER.contains(&collection)
            || self
                .marked
                .iter()
                .any(|(t, only_through)| t == tenant && covers(*only_through))
        {
            return Ok(());
        }
        let marked_in_group = self.inner.group_notes().is_some_and(|n| {
            n.has(&marked_note(tenant, false)) || (through && n.has(&marked_note(tenant, true)))
        });
        if marked_in_group {
            // One mark per transaction will do; the generation still moves at every job, as a
            // later job of the group may read the tenant's view and keep it for its generation.
            restamp(self.inner, &generation_key(tenant))?;
        } else {
            mark_for(self.inner, tenant, through)?;
        }
        self.marked.push((tenant.to_string(), through));
        Ok(())
    }

    /// Tells the jobs after this one (which kept its changes) which tenants it marked.
    fn publish(self) {
        if let Some(notes) = self.inner.group_notes() {
            for (tenant, through) in &self.marked {
                notes.add(marked_note(tenant, *through));
            }
        }
    }
}

impl WriteTx for Watching<'_> {
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
        self.touch(&key.tenant, &key.collection)?;
        self.inner.insert(key, type_name, body)
    }
    fn insert_ready(
        &mut self,
        key: &Key,
        type_name: &str,
        body: &ReadyBody,
    ) -> Result<(), StoreError> {
        self.touch(&key.tenant, &key.collection)?;
        self.inner.insert_ready(key, type_name, body)
    }
    fn update(&mut self, key: &Key, body: &str) -> Result<bool, StoreError> {
        let updated = self.inner.update(key, body)?;
        if updated {
            self.touch(&key.tenant, &key.collection)?;
        }
        Ok(updated)
    }
    fn delete_tree(&mut self, key: &Key) -> Result<bool, StoreError> {
        let deleted = self.inner.delete_tree(key)?;
        if deleted {
            self.touch(&key.tenant, &key.collection)?;
        }
        Ok(deleted)
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
        self.touch(tenant, collection)?;
        self.inner.clear_collection(tenant, collection, parent)
    }
    fn delete_everywhere(
        &mut self,
        tenant: &str,
        collection: &str,
        id: &str,
    ) -> Result<u64, StoreError> {
        let deleted = self.inner.delete_everywhere(tenant, collection, id)?;
        if deleted > 0 {
            self.touch(tenant, collection)?;
        }
        Ok(deleted)
    }
    fn query(&mut self, q: &Query) -> Result<Vec<PageRow>, StoreError> {
        self.inner.query(q)
    }
    fn hold(&mut self, name: &str) -> Result<(), StoreError> {
        self.inner.hold(name)
    }
    crate::store::schedule::forward_schedule!();
    fn delete_tenant(&mut self, tenant: &str) -> Result<u64, StoreError> {
        // Nothing of the tenant is left to evaluate: its mark goes with it, and what an instance
        // read of its policies is no longer current.
        self.inner.delete_tree(&mark_key(tenant))?;
        if let Some(notes) = self.inner.group_notes() {
            notes.remove(&marked_note(tenant, false));
            notes.remove(&marked_note(tenant, true));
        }
        restamp(self.inner, &generation_key(tenant))?;
        restamp(self.inner, &directory_stamp_key(tenant))?;
        self.inner.delete_tenant(tenant)
    }
}

impl Store for Watched {
    fn submit(&self, job: JobFn) -> StoreFuture<'_, ()> {
        self.inner.submit(Box::new(move |tx| {
            let mut watching = Watching {
                inner: tx,
                marked: Vec::new(),
                directory_stamped: Vec::new(),
            };
            let kept = job(&mut watching);
            if kept {
                watching.publish();
            }
            kept
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

impl Service {
    /// Whether the tenant has a change waiting to be evaluated.
    pub async fn reevaluation_pending(&self, tenant: &str) -> Result<bool, ApiError> {
        Ok(self.store.get(&mark_key(tenant)).await?.is_some())
    }

    /// Evaluates the marked tenants whose changes have paused; returns how many devices it
    /// evaluated. One round per tenant: changes that came meanwhile wait for the next pass.
    pub async fn reevaluate_marked(&self) -> Result<usize, ApiError> {
        let mut evaluated = 0;
        let mut query = Query::all(MARKS_TENANT, MARKS, "");
        query.limit = 100;
        let now = now_ms();
        for (row, _) in self.store.query(query).await? {
            if due(&row, now) {
                evaluated += self.round(&row.key.id.clone(), row).await?;
            }
        }
        Ok(evaluated)
    }

    /// Evaluates `tenant`'s devices until it is no longer marked; returns how many it evaluated.
    pub async fn settle(&self, tenant: &str) -> Result<usize, ApiError> {
        let mut evaluated = 0;
        while let Some(row) = self.store.get(&mark_key(tenant)).await? {
            evaluated += self.round(tenant, row).await?;
        }
        Ok(evaluated)
    }

    /// One round: every device evaluated, then the mark cleared if no change came meanwhile. A
    /// mark of changes that matter only through a policy is cleared without one while the
    /// tenant has no policy (a policy made since moves the mark on, so it stays for a round).
    async fn round(&self, tenant: &str, mark: Row) -> Result<usize, ApiError> {
        tracing::debug!(tenant, "a round starts");
        let stamp = stamp_of(&mark);
        let evaluated = if only_through_policies(&mark) && !self.has_policies(tenant).await? {
            0
        } else {
            let (generation, view) =
                super::snapshot::read(Arc::clone(&self.store), self.engine.model, tenant).await?;
            tracing::debug!(tenant, "a round read the tenant's view");
            self.engine.keep_view(tenant, generation, view);
            self.reevaluate_tenant(tenant).await?
        };
        let key = mark_key(tenant);
        self.store
            .write(move |tx| Ok::<_, ApiError>(clear_unless_changed(tx, &key, &stamp)?))
            .await?;
        Ok(evaluated)
    }

    async fn has_policies(&self, tenant: &str) -> Result<bool, ApiError> {
        let mut query = Query::all(tenant, super::tenant::POLICIES, "");
        query.limit = 1;
        Ok(!self.store.query(query).await?.is_empty())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    async fn mark_row(store: &dyn Store) -> Option<Row> {
        store.get(&mark_key("t")).await.unwrap()
    }

    async fn stamp(store: &dyn Store) -> Option<String> {
        mark_row(store).await.map(|row| stamp_of(&row))
    }

    async fn clear(store: &dyn Store, stamp: String) {
        store
            .write(move |tx| clear_unless_changed(tx, &mark_key("t"), &stamp))
            .await
            .unwrap();
    }

    /// A round that started from a change must not clear a later one, even when the mark was
    /// cleared and made again in between (a counter would start again at the same number).
    #[tokio::test]
    async fn a_late_round_does_not_clear_a_later_change() {
        let memory = MemoryStore::new();
        let store: &dyn Store = &memory;
        store.write(|tx| mark(tx, "t")).await.unwrap();
        let late_round = stamp(store).await.unwrap();
        // Another round cleared that change; then a new change came.
        clear(store, late_round.clone()).await;
        assert_eq!(stamp(store).await, None);
        store.write(|tx| mark(tx, "t")).await.unwrap();
        let new_change = stamp(store).await.unwrap();
        assert_ne!(new_change, late_round);
        // The late round finishes: the new change keeps its mark, for its own round to clear.
        clear(store, late_round).await;
        assert_eq!(stamp(store).await, Some(new_change.clone()));
        clear(store, new_change).await;
        assert_eq!(stamp(store).await, None);
    }

    fn row_of(collection: &str, id: &str) -> Key {
        Key {
            tenant: "t".into(),
            collection: collection.into(),
            parent: String::new(),
            id: id.into(),
        }
    }

    async fn only_through(store: &dyn Store) -> Option<bool> {
        mark_row(store).await.map(|row| only_through_policies(&row))
    }

    /// A mark made of membership or filter changes alone says so; a change that matters
    /// otherwise makes the whole mark so, and a later membership change does not undo that.
    #[tokio::test]
    async fn a_mark_is_only_through_policies_while_every_change_it_holds_is() {
        let store = watched(Arc::new(MemoryStore::new()));
        let write = |collection: &'static str, id: &'static str| {
            let store = Arc::clone(&store);
            async move {
                store
                    .write(move |tx| tx.insert(&row_of(collection, id), "", "{}"))
                    .await
                    .unwrap()
            }
        };
        write("directoryObjects/members", "m1").await;
        assert_eq!(only_through(store.as_ref()).await, Some(true));
        write("assignmentFilters", "f1").await;
        assert_eq!(only_through(store.as_ref()).await, Some(true));
        write("deviceManagement", "t").await;
        assert_eq!(only_through(store.as_ref()).await, Some(false));
        write("directoryObjects/members", "m2").await;
        assert_eq!(only_through(store.as_ref()).await, Some(false));
        // Cleared, the next mark starts again from its own change.
        let stamp = stamp(store.as_ref()).await.unwrap();
        clear(store.as_ref(), stamp).await;
        write("directoryObjects/members", "m3").await;
        assert_eq!(only_through(store.as_ref()).await, Some(true));
        write("deviceCompliancePolicies", "p1").await;
        assert_eq!(only_through(store.as_ref()).await, Some(false));
    }

    fn policy(id: &str) -> Key {
        row_of("deviceCompliancePolicies", id)
    }

    /// A policy written through the watched store, and the mark's and the generation's stamps
    /// the job saw after it (or a refusal after writing, when `refuse`).
    fn write_policy(
        store: &Arc<dyn Store>,
        id: &'static str,
        refuse: bool,
    ) -> tokio::task::JoinHandle<Result<(Option<String>, String), StoreError>> {
        let store = Arc::clone(store);
        tokio::spawn(async move {
            store
                .write(move |tx| {
                    tx.insert(&policy(id), "", "{}")?;
                    if refuse {
                        return Err(StoreError::Backend("refused".into()));
                    }
                    let mark = tx.get(&mark_key("t"))?.map(|row| stamp_of(&row));
                    Ok((mark, generation(tx, "t")?))
                })
                .await
        })
    }

    /// In one group commit the first job that keeps its change marks the tenant and the jobs
    /// after it only move the generation; a job that was refused leaves no note behind, so the
    /// next one marks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_mark_per_group_from_a_job_that_kept_its_change() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite =
            crate::store::SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
        let store = watched(Arc::new(sqlite));
        // Holds the writer so that the next three jobs queue up and run as one group.
        let holder =
            crate::store::hold_writer(Arc::clone(&store), std::time::Duration::from_millis(300))
                .await;
        let refused = write_policy(&store, "a", true);
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let first = write_policy(&store, "b", false);
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let second = write_policy(&store, "c", false);
        holder.await.unwrap().unwrap();
        assert!(refused.await.unwrap().is_err());
        let (first_mark, first_generation) = first.await.unwrap().unwrap();
        let (second_mark, second_generation) = second.await.unwrap().unwrap();
        assert!(first_mark.is_some(), "the job after a refused one marks");
        assert_eq!(
            second_mark, first_mark,
            "the group's second job keeps the mark"
        );
        assert_ne!(
            second_generation, first_generation,
            "but moves the generation"
        );
        assert_eq!(stamp(store.as_ref()).await, first_mark);
        assert!(store.get(&policy("a")).await.unwrap().is_none());
        assert_eq!(
            store
                .get(&generation_key("t"))
                .await
                .unwrap()
                .map(|r| stamp_of(&r)),
            Some(second_generation)
        );
    }
}
