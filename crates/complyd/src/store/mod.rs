//! Storage: one [`Store`] for every entity type. Entities are rows keyed by tenant, collection
//! path, parent keys and id; bodies are JSON. SQL lives only below this module.
//!
//! The server holds an `Arc<dyn Store>` chosen by [`open`]: SQLite ([`SqliteStore`]) or
//! PostgreSQL ([`PgStore`]), wrapped by [`observed`] when `/metrics` is on. The service's unit
//! tests use the in-memory fake in `memory`. SQL text is built in `sql` (both dialects) and never
//! leaves this module; what leaves it is rows, counts and [`SortValue`]s.

pub mod counts;
mod future;
mod generated;
pub mod indexes;
mod json_members;
#[cfg(test)]
pub mod memory;
mod observed;
pub mod packing;
mod postgres;
mod ready;
pub mod schedule;
pub mod slots;
mod sql;
mod sqlite;
pub mod tables;
mod writer;
mod written;

pub use future::StoreFuture;
pub use observed::observed;
pub use postgres::PgStore;
pub use ready::{Derived, ReadyBody};

/// Relays this instance's changes to the other instances of a shared PostgreSQL store.
pub fn relay_changes(
    url: &str,
    changes: std::sync::Arc<crate::common::Changes>,
) -> Result<(), StoreError> {
    let config = postgres::config(url)?;
    postgres::relay::start(config, changes).map_err(|e| StoreError::Backend(e.to_string()))
}
pub use schedule::DueItem;
pub use sqlite::SqliteStore;
pub use writer::{GroupNotes, JobFn};
pub use written::WriteMark;

use std::fmt;
use std::sync::Arc;

/// Where an entity lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub tenant: String,
    /// Navigation names from the root, joined by `/` (`deviceCompliancePolicies/assignments`).
    pub collection: String,
    /// Keys of the containing entities, joined by `/`; empty at the root.
    pub parent: String,
    pub id: String,
}

impl Key {
    pub fn new(tenant: &str, collection: &str, parent: &str, id: &str) -> Self {
        Self {
            tenant: tenant.to_string(),
            collection: collection.to_string(),
            parent: parent.to_string(),
            id: id.to_string(),
        }
    }

    /// The `parent` value of this entity's own children.
    pub fn child_parent(&self) -> String {
        child_path(&self.parent, &self.id)
    }
}

/// The `parent` value of the children of the entity `id` whose own parent value is `parent`.
pub fn child_path(parent: &str, id: &str) -> String {
    if parent.is_empty() {
        id.to_string()
    } else {
        format!("{parent}/{id}")
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub key: Key,
    pub type_name: String,
    /// JSON object text.
    pub body: String,
    /// The body is in the canonical stored shape (see the service); older rows may not be.
    pub canonical: bool,
    pub seq: i64,
}

/// A page (or count) of one collection under one parent.
#[derive(Debug, Clone)]
pub struct Query {
    pub tenant: String,
    pub collection: String,
    pub parent: String,
    pub filter: Option<odata::query::bind::Condition>,
    /// Sort keys; `true` is descending. `seq` always breaks ties.
    pub order: Vec<(odata::query::bind::Operand, bool)>,
    /// Continue after this row.
    pub cursor: Option<Cursor>,
    pub skip: usize,
    pub limit: usize,
    /// Only the members linked to one entity (a linked navigation).
    pub related: Option<Related>,
}

/// The members of a collection linked to `anchor` by the link rows of one link set: rows of the
/// collection `links` whose `parent` is the owner's id and whose `id` is the member's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub links: String,
    pub anchor: String,
    /// `false`: the anchor's members; `true`: the owners that have the anchor as a member.
    pub inverse: bool,
    /// Every level (members of members …), the anchor itself left out; cycles end the walk.
    pub transitive: bool,
}

impl Query {
    pub fn all(tenant: &str, collection: &str, parent: &str) -> Self {
        Self {
            tenant: tenant.into(),
            collection: collection.into(),
            parent: parent.into(),
            filter: None,
            order: Vec::new(),
            cursor: None,
            skip: 0,
            limit: usize::MAX >> 1,
            related: None,
        }
    }
}

/// The value of one sort key of a row, as the store compares it.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
}

/// Where a page continues: after the row with these sort-key values (in `Query::order`'s order)
/// and this `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub values: Vec<SortValue>,
    pub seq: i64,
}

/// Members of `collection` grouped by the text of one top-level `property`, under one `parent`
/// or (`None`) across every parent.
#[derive(Debug, Clone, Copy)]
pub struct CountBy<'a> {
    pub tenant: &'a str,
    pub collection: &'a str,
    pub parent: Option<&'a str>,
    pub property: &'a str,
}

/// One row of a page and the values of its sort keys (for the next page's cursor).
pub type PageRow = (Row, Vec<SortValue>);

/// [`CountBy`] with its own strings, for a read that outlives the caller's borrows.
#[derive(Debug, Clone)]
pub struct GroupsOf {
    pub tenant: String,
    pub collection: String,
    pub parent: Option<String>,
    pub property: String,
}

impl GroupsOf {
    pub fn as_count_by(&self) -> CountBy<'_> {
        CountBy {
            tenant: &self.tenant,
            collection: &self.collection,
            parent: self.parent.as_deref(),
            property: &self.property,
        }
    }
}

/// One read of [`Store::read_together`], as the single-read call of the same name answers it.
#[derive(Debug, Clone)]
pub enum Read {
    Get(Key),
    Query(Query),
    CountMatching(Query),
    CountBy(GroupsOf),
}

/// What one [`Read`] found.
#[derive(Debug, Clone)]
pub enum Found {
    Row(Option<Row>),
    Page(Vec<PageRow>),
    Count(u64),
    Groups(Vec<(String, u64)>),
}

impl Found {
    fn mismatch(&self, wanted: &str) -> StoreError {
        StoreError::Backend(format!(
            "a read together answered {self:?} where {wanted} was asked"
        ))
    }
    pub fn into_row(self) -> Result<Option<Row>, StoreError> {
        match self {
            Self::Row(row) => Ok(row),
            other => Err(other.mismatch("a row")),
        }
    }
    pub fn into_page(self) -> Result<Vec<PageRow>, StoreError> {
        match self {
            Self::Page(rows) => Ok(rows),
            other => Err(other.mismatch("a page")),
        }
    }
    pub fn into_count(self) -> Result<u64, StoreError> {
        match self {
            Self::Count(n) => Ok(n),
            other => Err(other.mismatch("a count")),
        }
    }
    pub fn into_groups(self) -> Result<Vec<(String, u64)>, StoreError> {
        match self {
            Self::Groups(groups) => Ok(groups),
            other => Err(other.mismatch("groups")),
        }
    }
}

/// The answers of a [`Store::read_together`], taken in the order of its reads.
pub struct Answers(std::vec::IntoIter<Found>);

impl Answers {
    pub fn new(found: Vec<Found>) -> Self {
        Self(found.into_iter())
    }
    /// The next read's answer.
    pub fn take(&mut self) -> Result<Found, StoreError> {
        self.0
            .next()
            .ok_or_else(|| StoreError::Backend("a read together answered too few reads".into()))
    }
}

#[derive(Debug, Clone)]
pub enum StoreError {
    /// The key is taken.
    Conflict,
    /// The database cannot be reached now; the request may be retried.
    Unavailable(String),
    /// A concurrent write (another instance's, on a shared database) held what this one needed,
    /// and the database gave up on this one (a deadlock): nothing was written; retry.
    Contended(String),
    /// The disk (or the database's quota) is full: nothing was written; reads still work, and
    /// writes succeed again once space is freed.
    Full(String),
    /// The database failed; the message is for logs, not for clients.
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict => f.write_str("an entity with this key exists"),
            Self::Backend(m) => write!(f, "storage failure: {m}"),
            Self::Unavailable(m) => write!(f, "storage unavailable: {m}"),
            Self::Contended(m) => write!(f, "storage contended: {m}"),
            Self::Full(m) => write!(f, "storage full: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The operations available inside one write transaction.
pub trait WriteTx {
    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError>;
    /// Whether the entity exists, guarded like `get` against a concurrent delete.
    fn exists(&mut self, key: &Key) -> Result<bool, StoreError> {
        Ok(self.get(key)?.is_some())
    }
    fn insert(&mut self, key: &Key, type_name: &str, body: &str) -> Result<(), StoreError>;
    /// [`WriteTx::insert`] of a body readied by `Store::ready`, using what was derived from it.
    fn insert_ready(
        &mut self,
        key: &Key,
        type_name: &str,
        body: &ReadyBody,
    ) -> Result<(), StoreError> {
        self.insert(key, type_name, body.text())
    }
    /// False when no such entity exists.
    fn update(&mut self, key: &Key, body: &str) -> Result<bool, StoreError>;
    /// Deletes the entity and everything it contains; false when no such entity exists.
    fn delete_tree(&mut self, key: &Key) -> Result<bool, StoreError>;
    /// The members of one collection under one parent, in insertion order, at most `limit`
    /// (rules over a collection's members are checked inside the write that changes them).
    fn members(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError>;
    /// Deletes every member of one contained collection, with everything they contain.
    fn clear_collection(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
    ) -> Result<(), StoreError>;
    /// Deletes the rows of `collection` with this `id` under any parent (the links to an
    /// entity); how many there were.
    fn delete_everywhere(
        &mut self,
        tenant: &str,
        collection: &str,
        id: &str,
    ) -> Result<u64, StoreError>;
    /// A page of a collection, as `Store::query` reads it, inside the transaction.
    fn query(&mut self, q: &Query) -> Result<Vec<PageRow>, StoreError>;
    /// Deletes every row of `tenant` (`DELETE /complyd/v1/tenant`); how many there were.
    fn delete_tenant(&mut self, tenant: &str) -> Result<u64, StoreError>;
    /// The notes of the group commit this job runs in, when the store groups jobs in one
    /// transaction (a wrapper passes its inner transaction's on).
    fn group_notes(&mut self) -> Option<&mut GroupNotes> {
        None
    }
    /// True when no write after `mark` (taken by `Store::write_mark` before a read) touched any
    /// of `keys`; false when one did or the store cannot tell (then read them).
    fn unwritten_since(&mut self, mark: WriteMark, keys: &[&Key]) -> bool {
        let _ = (mark, keys);
        false
    }
    /// Holds `name` until the transaction ends: writers on other instances that take the same name
    /// wait (the engine's maintained counts of a tenant). A store with one writer needs nothing.
    fn hold(&mut self, name: &str) -> Result<(), StoreError> {
        let _ = name;
        Ok(())
    }

    /// Puts `item` on its tenant's schedule (replacing an item with its id).
    fn due_put(&mut self, item: &DueItem) -> Result<(), StoreError>;
    /// Takes off the schedule every item of `device` (of one policy, or `Some("")` for the
    /// device's own, or `None` for all); how many there were.
    fn due_cancel(
        &mut self,
        tenant: &str,
        device: &str,
        policy: Option<&str>,
    ) -> Result<u64, StoreError>;
    /// The tenant's items due at `until` or before, earliest first, at most `limit`; on a shared
    /// store, items another instance is firing are skipped (and these are held until the end of
    /// the transaction).
    fn due_take(
        &mut self,
        tenant: &str,
        until: i64,
        limit: usize,
    ) -> Result<Vec<DueItem>, StoreError>;
    /// Removes a fired item.
    fn due_done(&mut self, tenant: &str, id: &str) -> Result<(), StoreError>;
    /// The first tenant after `after` (in key order) with items, and its earliest item's time.
    fn due_next(&mut self, after: &str) -> Result<Option<(String, i64)>, StoreError>;
    /// The earliest time on the tenant's schedule.
    fn due_first(&mut self, tenant: &str) -> Result<Option<i64>, StoreError>;
    /// How many items the tenant's schedule holds, and the earliest time among them.
    fn due_pending(&mut self, tenant: &str) -> Result<(u64, Option<i64>), StoreError>;
}

/// What every backend answers, with the same results; only where the data lives differs.
///
/// Object-safe, so that the server picks a backend at start-up and the service holds an
/// `Arc<dyn Store>`: each call returns a [`StoreFuture`], which is ready at once (no allocation)
/// when the backend answered on the calling thread, and boxed otherwise.
pub trait Store: Send + Sync {
    /// Runs `job` inside a write transaction; resolves once it is committed (or refused). A job
    /// that returns `false` has everything it did rolled back, and nothing else. Callers use the
    /// typed `write` on `dyn Store`, which builds the job.
    fn submit(&self, job: JobFn) -> StoreFuture<'_, ()>;

    /// The entity at `key`, if there is one.
    fn get<'a>(&'a self, key: &'a Key) -> StoreFuture<'a, Option<Row>>;

    /// The first of `keys` that does not exist (checking the ancestors of a contained path).
    fn all_exist(&self, keys: Vec<Key>) -> StoreFuture<'_, Option<Key>>;

    /// One page of a collection: filtered, ordered (then by `seq`), after a cursor. Each row comes
    /// with the values of its sort keys, for the next cursor.
    fn query(&self, q: Query) -> StoreFuture<'_, Vec<PageRow>>;

    /// How many members of the collection match the query's filter.
    fn count_matching(&self, q: Query) -> StoreFuture<'_, u64>;

    /// How many members each group of `groups` has.
    fn count_by<'a>(&'a self, groups: CountBy<'a>) -> StoreFuture<'a, Vec<(String, u64)>>;

    /// Several reads that see one committed state (a write is seen by all or none of them),
    /// answered in their order.
    fn read_together(&self, reads: Vec<Read>) -> StoreFuture<'_, Vec<Found>>;

    /// Every row of every tenant after `after_seq`, in `seq` order, at most `limit` (export).
    fn scan(&self, after_seq: i64, limit: usize) -> StoreFuture<'_, Vec<Row>>;

    /// The plan the database picks for a page of `q`, one line per step.
    fn explain(&self, q: Query) -> StoreFuture<'_, Vec<String>>;

    /// `text`, a new body of `collection`, with what this store keeps beside it made now, off
    /// the writer (for [`WriteTx::insert_ready`]). A store that derives nothing keeps the text.
    fn ready(&self, collection: &str, text: String) -> ReadyBody {
        let _ = collection;
        ReadyBody::plain(text)
    }

    /// Whether the store answers: its writer runs and the database answers a trivial query.
    /// The caller bounds the wait.
    fn ping(&self) -> StoreFuture<'_, ()>;

    /// At a clean stop, after the last request (SQLite empties its log).
    fn close(&self) -> StoreFuture<'_, ()> {
        StoreFuture::ready(Ok(()))
    }

    /// Writes waiting for the writer.
    fn queued_writes(&self) -> usize;

    /// A reader pool worth showing in `/metrics` (PostgreSQL's): connections in use, and its size.
    fn pool_use(&self) -> Option<(usize, usize)> {
        None
    }

    /// Whether several servers may share this store (then the token secret lives in it).
    fn is_shared(&self) -> bool {
        false
    }

    /// Taken before reads that a later write checks with `WriteTx::unwritten_since`; `None`
    /// when the store keeps no log of its writes.
    fn write_mark(&self) -> Option<WriteMark> {
        None
    }
}

impl dyn Store + '_ {
    /// Runs `f` inside a write transaction; returns once its result is committed (or refused).
    /// An `Err` from `f` rolls back everything `f` did and nothing else.
    pub async fn write<T, E>(
        &self,
        f: impl FnOnce(&mut dyn WriteTx) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (job, slot) = writer::typed_job(f);
        self.submit(job).await?;
        writer::take(&slot)
    }
}

/// For tests: takes `store`'s writer for `hold` and returns once it has it, so that the jobs
/// submitted next queue up behind it and run as one group. Await the handle after them.
#[cfg(test)]
pub async fn hold_writer(
    store: Arc<dyn Store>,
    hold: std::time::Duration,
) -> tokio::task::JoinHandle<Result<(), StoreError>> {
    let (started_tx, started) = std::sync::mpsc::channel();
    let holder = tokio::spawn(async move {
        store
            .write(move |_tx| {
                let _ = started_tx.send(());
                std::thread::sleep(hold);
                Ok::<_, StoreError>(())
            })
            .await
    });
    let _ = started.recv();
    holder
}

/// `postgres://…` opens PostgreSQL; anything else is the SQLite database in `data_dir`. With
/// the indexes of the Intune model.
pub async fn open(
    url: Option<&str>,
    data_dir: &std::path::Path,
) -> Result<Arc<dyn Store>, StoreError> {
    let model = odata::Model::intune().map_err(StoreError::Backend)?;
    open_for(model, url, data_dir).await
}

/// `open`, with the indexes `model` declares (created if missing; generated ones it no longer
/// declares dropped).
pub async fn open_for(
    model: &odata::Model,
    url: Option<&str>,
    data_dir: &std::path::Path,
) -> Result<Arc<dyn Store>, StoreError> {
    let (indexes, slots) = indexes::declared(model)?;
    let counts = counts::declared(model, &slots)?;
    match url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let url = url.to_string();
            let store = tokio::task::spawn_blocking(move || PgStore::open(&url, &indexes, &counts))
                .await
                .map_err(|e| StoreError::Backend(e.to_string()))??;
            Ok(Arc::new(store))
        }
        Some(other) => Err(StoreError::Backend(format!(
            "unsupported store '{other}': use postgres://…, or omit it for SQLite"
        ))),
        None => Ok(Arc::new(SqliteStore::open(
            data_dir, &indexes, slots, &counts,
        )?)),
    }
}
