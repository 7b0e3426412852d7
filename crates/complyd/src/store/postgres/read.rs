//! Reads: a pool of reader connections used from blocking tasks (the synchronous client must not
//! run on the async threads), the readiness probe's own connection, and every query. Columns are
//! read by name.

use super::connection::{boxed, connect, refs, sort_value, Conn};
use crate::store::slots::Layout;
use crate::store::sql::{self, in_collection, sort_column, Dialect, PlannedRead, Sql};
use crate::store::{Found, Key, PageRow, Query, Row, StoreError, StoreFuture};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub const READERS: usize = 4;

pub struct Pool {
    config: postgres::Config,
    readers: Vec<Mutex<Option<Conn>>>,
    next: AtomicUsize,
    /// Readers running a read now.
    busy: AtomicUsize,
    /// The readiness check's own connection, so that a busy pool does not fail it.
    probe: Mutex<Option<Conn>>,
}

/// Counts a reader as busy while it lives.
struct Busy<'a>(&'a AtomicUsize);

impl<'a> Busy<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pool {
    pub fn new(config: postgres::Config) -> Self {
        Self {
            config,
            readers: (0..READERS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            probe: Mutex::new(None),
        }
    }

    /// Readers in use now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    /// Runs `f` on a pooled connection in a blocking task; a failed connection is dropped.
    pub fn run<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        let this = self.clone();
        StoreFuture::pending(async move {
            tokio::task::spawn_blocking(move || this.run_here(f))
                .await
                .map_err(|e| StoreError::Backend(e.to_string()))?
        })
    }

    fn run_here<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let mut slot = self.readers[index]
            .lock()
            .map_err(|_| StoreError::Backend("reader poisoned".into()))?;
        let _busy = Busy::enter(&self.busy);
        if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
            *slot = Some(connect(&self.config)?);
        }
        let conn = slot
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("no connection".into()))?;
        let result = f(conn);
        if matches!(result, Err(StoreError::Unavailable(_))) {
            *slot = None;
        }
        result
    }

    /// PostgreSQL answers `SELECT 1` on the probe's connection (made anew after a failure). A
    /// check still waiting on a database that does not answer fails the next one at once,
    /// rather than queueing behind it.
    pub fn probe(self: &Arc<Self>) -> StoreFuture<'static, ()> {
        let this = self.clone();
        StoreFuture::pending(async move {
            tokio::task::spawn_blocking(move || this.probe_here())
                .await
                .map_err(|e| StoreError::Backend(e.to_string()))?
        })
    }

    fn probe_here(&self) -> Result<(), StoreError> {
        let mut slot = match self.probe.try_lock() {
            Ok(slot) => slot,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(StoreError::Unavailable(
                    "the previous check has not finished".into(),
                ))
            }
        };
        if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
            *slot = Some(connect(&self.config)?);
        }
        let conn = slot
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("no connection".into()))?;
        let result = conn
            .client
            .batch_execute("SELECT 1")
            .map_err(StoreError::from);
        if result.is_err() {
            *slot = None;
        }
        result
    }
}

impl Drop for Pool {
    /// A `postgres::Client` blocks while closing, which must not happen on an async thread:
    /// the pooled connections are closed on a thread of their own.
    fn drop(&mut self) {
        let readers = std::mem::take(&mut self.readers);
        let probe = self.probe.get_mut().ok().and_then(Option::take);
        let _ = std::thread::Builder::new()
            .name("complyd-pg-close".into())
            .spawn(move || drop((readers, probe)));
    }
}

/// A row selected with `seq, type_name, body, shape`, at `key`.
fn entity(r: &postgres::Row, key: Key) -> Result<Row, StoreError> {
    Ok(Row {
        seq: r.try_get("seq")?,
        key,
        type_name: r.try_get("type_name")?,
        body: r.try_get("body")?,
        canonical: r.try_get::<_, i32>("shape")? == 1,
    })
}

/// The entity at `key`; `for_update` locks its row until the transaction ends.
pub fn get(c: &mut Conn, key: &Key, for_update: bool) -> Result<Option<Row>, StoreError> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let text = in_collection(
        &format!("SELECT seq, type_name, body::text AS body, shape FROM entity WHERE tenant = $1 AND collection = {{C}} AND parent = $2 AND id = $3{lock}"),
        &key.collection,
    )?;
    let statement = c.statement(&text)?;
    let row = c
        .client
        .query_opt(&statement, &[&key.tenant, &key.parent, &key.id])?;
    row.map(|r| entity(&r, key.clone())).transpose()
}

/// The members of one collection under one parent, oldest first, at most `limit`, locked until
/// the transaction ends.
pub fn members(
    c: &mut Conn,
    tenant: &str,
    collection: &str,
    parent: &str,
    limit: usize,
) -> Result<Vec<Row>, StoreError> {
    let text = in_collection(
        "SELECT id, seq, type_name, body::text AS body, shape FROM entity WHERE tenant = $1 AND collection = {C} AND parent = $2 ORDER BY seq LIMIT $3 FOR UPDATE",
        collection,
    )?;
    let statement = c.statement(&text)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    c.client
        .query(&statement, &[&tenant, &parent, &limit])?
        .iter()
        .map(|r| {
            let key = Key {
                tenant: tenant.to_string(),
                collection: collection.to_string(),
                parent: parent.to_string(),
                id: r.try_get("id")?,
            };
            entity(r, key)
        })
        .collect()
}

pub fn first_missing(c: &mut Conn, keys: Vec<Key>) -> Result<Option<Key>, StoreError> {
    for key in keys {
        if get(c, &key, false)?.is_none() {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// Where a sort-key column is in `statement`, by name.
fn column(statement: &postgres::Statement, name: &str) -> Result<usize, StoreError> {
    statement
        .columns()
        .iter()
        .position(|c| c.name() == name)
        .ok_or_else(|| StoreError::Backend(format!("no column '{name}' in a page")))
}

/// `reads` in one read-only REPEATABLE READ transaction (one snapshot), ended before the
/// connection goes back to the pool, whatever happened.
pub fn together(c: &mut Conn, reads: &[PlannedRead]) -> Result<Vec<Found>, StoreError> {
    c.client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    let found = reads
        .iter()
        .map(|read| {
            Ok(match read {
                PlannedRead::Get(key) => Found::Row(get(c, key, false)?),
                PlannedRead::Query(q) => Found::Page(page(c, q)?),
                PlannedRead::Count(q) => Found::Count(count(c, q)?),
                PlannedRead::CountBy(sql) => Found::Groups(count_by(c, sql)?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>();
    let end = if found.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = c.client.batch_execute(end);
    let found = found?;
    ended?;
    Ok(found)
}

pub fn page(c: &mut Conn, q: &Query) -> Result<Vec<PageRow>, StoreError> {
    let (sql, sort_keys) = sql::page(Dialect::Postgres, q, Layout::default())?;
    let statement = c.statement(&sql.text)?;
    let sort: Vec<usize> = (0..sort_keys)
        .map(|i| column(&statement, &sort_column(i)))
        .collect::<Result<_, _>>()?;
    let params = boxed(&sql.params);
    let rows = c.client.query(&statement, &refs(&params))?;
    rows.iter()
        .map(|r| {
            let key = Key {
                tenant: q.tenant.clone(),
                collection: q.collection.clone(),
                parent: q.parent.clone(),
                id: r.try_get("id")?,
            };
            let values = sort.iter().map(|&i| sort_value(r, i)).collect();
            Ok((entity(r, key)?, values))
        })
        .collect()
}

pub fn count(c: &mut Conn, q: &Query) -> Result<u64, StoreError> {
    let sql = sql::count(Dialect::Postgres, q, Layout::default())?;
    let statement = c.statement(&sql.text)?;
    let params = boxed(&sql.params);
    let n: i64 = c
        .client
        .query_one(&statement, &refs(&params))?
        .try_get("n")?;
    Ok(n as u64)
}

pub fn count_by(c: &mut Conn, sql: &Sql) -> Result<Vec<(String, u64)>, StoreError> {
    let statement = c.statement(&sql.text)?;
    let params = boxed(&sql.params);
    let rows = c.client.query(&statement, &refs(&params))?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<_, Option<String>>("value")?.unwrap_or_default(),
                r.try_get::<_, i64>("n")? as u64,
            ))
        })
        .collect()
}

/// Every row of every tenant after `after_seq`, in `seq` order (export).
pub fn scan(c: &mut Conn, after_seq: i64, limit: usize) -> Result<Vec<Row>, StoreError> {
    let statement = c.statement(
        "SELECT seq, tenant, collection, parent, id, type_name, body::text AS body, shape FROM entity WHERE seq > $1 ORDER BY seq LIMIT $2",
    )?;
    let rows = c.client.query(&statement, &[&after_seq, &(limit as i64)])?;
    rows.iter()
        .map(|r| {
            let key = Key {
                tenant: r.try_get("tenant")?,
                collection: r.try_get("collection")?,
                parent: r.try_get("parent")?,
                id: r.try_get("id")?,
            };
            entity(r, key)
        })
        .collect()
}

/// The plan PostgreSQL picks for a page of `q` (for tests and diagnostics).
pub fn explain(c: &mut Conn, q: &Query) -> Result<Vec<String>, StoreError> {
    let (sql, _) = sql::page(Dialect::Postgres, q, Layout::default())?;
    let params = boxed(&sql.params);
    let rows = c
        .client
        .query(&format!("EXPLAIN {}", sql.text), &refs(&params))?;
    rows.iter()
        .map(|r| Ok(r.try_get::<_, String>("QUERY PLAN")?))
        .collect()
}
