//! The embedded store: SQLite in WAL mode, one writer thread that commits requests in groups,
//! and a small pool of reader connections.

use super::sql::{self, Param, Sql};
use super::{Key, Query, Row, StoreError, WriteTx};
use odata::value::DateTimeOffset;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_entities.sql"),
    include_str!("migrations/0002_query_indexes.sql"),
    include_str!("migrations/0003_row_shape.sql"),
];
const READERS: usize = 4;
/// The most write jobs one transaction commits together.
const GROUP_LIMIT: usize = 256;

type JobFn = Box<dyn FnOnce(&mut dyn WriteTx) -> bool + Send>;

struct Job {
    run: JobFn,
    committed: oneshot::Sender<Result<(), String>>,
}

pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Dropped with the store, which tells the checkpoint thread to stop.
    _alive: Arc<()>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict
            }
            other => StoreError::Backend(other.to_string()),
        }
    }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 16 MiB of page cache per connection (negative = KiB); temporary b-trees in memory.
    conn.pragma_update(None, "cache_size", -16384)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    register_functions(&conn)?;
    // One cached statement per collection and operation, and the query shapes in use.
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// `dto_ticks(text)`: a DateTimeOffset's instant; `dto_part(text, part)`: one of its fields in
/// its own offset. Indexes use the first, so every connection must have both.
fn register_functions(conn: &Connection) -> Result<(), StoreError> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("dto_ticks", 1, flags, |ctx| {
        let text: Option<String> = ctx.get(0).unwrap_or(None);
        Ok(text
            .and_then(|t| DateTimeOffset::parse(&t))
            .map(|t| t.utc_ticks))
    })?;
    conn.create_scalar_function("dto_part", 2, flags, |ctx| {
        let text: Option<String> = ctx.get(0).unwrap_or(None);
        let part: String = ctx.get(1).unwrap_or_default();
        let index = ["year", "month", "day", "hour", "minute", "second"]
            .iter()
            .position(|p| *p == part);
        Ok(text
            .and_then(|t| DateTimeOffset::parse(&t))
            .zip(index)
            .map(|(t, i)| t.local_parts()[i]))
    })?;
    Ok(())
}

fn to_sql(p: &Param) -> SqlValue {
    match p {
        Param::Null => SqlValue::Null,
        Param::Int(n) => SqlValue::Integer(*n),
        Param::Real(r) => SqlValue::Real(*r),
        Param::Text(t) => SqlValue::Text(t.clone()),
    }
}

fn from_sql(v: ValueRef<'_>) -> Param {
    match v {
        ValueRef::Null | ValueRef::Blob(_) => Param::Null,
        ValueRef::Integer(n) => Param::Int(n),
        ValueRef::Real(r) => Param::Real(r),
        ValueRef::Text(t) => Param::Text(String::from_utf8_lossy(t).into_owned()),
    }
}

/// `WHERE` for one collection of one parent, plus the bound filter.
fn scope_sql(sql: &mut Sql, q: &Query) -> Result<String, StoreError> {
    if !sql::is_plain(&q.collection) {
        return Err(StoreError::Backend(format!(
            "collection path '{}' is not plain",
            q.collection
        )));
    }
    let (tenant, parent) = (
        sql.param(Param::Text(q.tenant.clone())),
        sql.param(Param::Text(q.parent.clone())),
    );
    let mut text = format!(
        "tenant = {tenant} AND collection = '{}' AND parent = {parent}",
        q.collection
    );
    if let Some(filter) = &q.filter {
        text.push_str(" AND ");
        text.push_str(&sql::condition(sql, filter));
    }
    Ok(text)
}

/// `template` with `{C}` replaced by the collection path as a SQL literal. Collection paths come
/// from the model (never from a client) and are checked to be plain. A literal, not a parameter:
/// SQLite re-prepares a statement whenever a parameter decides whether a partial index applies.
fn in_collection(template: &str, collection: &str) -> Result<String, StoreError> {
    if !sql::is_plain(collection) {
        return Err(StoreError::Backend(format!(
            "collection path '{collection}' is not plain"
        )));
    }
    Ok(template.replace("{C}", &format!("'{collection}'")))
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `complyd.db` in `dir` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Arc<Self>, StoreError> {
        let path = dir.join("complyd.db");
        let mut writer_conn = open(&path)?;
        migrate(&mut writer_conn)?;
        // Checkpoints run on their own thread, not inside a commit.
        writer_conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let alive = Arc::new(());
        let (checkpointer, weak, wal) = (
            open(&path)?,
            Arc::downgrade(&alive),
            dir.join("complyd.db-wal"),
        );
        std::thread::Builder::new()
            .name("complyd-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, wal, weak))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let readers = (0..READERS)
            .map(|_| open(&path).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        let (tx, rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("complyd-writer".into())
            .spawn(move || write_loop(writer_conn, rx))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Arc::new(Self {
            writer: tx,
            readers,
            next_reader: AtomicUsize::new(0),
            _alive: alive,
        }))
    }

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
        let slot: Arc<Mutex<Option<Result<T, E>>>> = Arc::new(Mutex::new(None));
        let result_slot = slot.clone();
        let run: JobFn = Box::new(move |tx| {
            let result = f(tx);
            let ok = result.is_ok();
            if let Ok(mut guard) = result_slot.lock() {
                *guard = Some(result);
            }
            ok
        });
        let (committed, done) = oneshot::channel();
        let closed = || E::from(StoreError::Backend("the writer has stopped".into()));
        self.writer
            .send(Job { run, committed })
            .await
            .map_err(|_| closed())?;
        done.await
            .map_err(|_| closed())?
            .map_err(|m| E::from(StoreError::Backend(m)))?;
        let result = slot.lock().ok().and_then(|mut g| g.take());
        result.unwrap_or_else(|| Err(closed()))
    }

    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let index = this.next_reader.fetch_add(1, Ordering::Relaxed) % this.readers.len();
            let conn = this.readers[index]
                .lock()
                .map_err(|_| StoreError::Backend("reader poisoned".into()))?;
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    /// Runs a short read (a lookup by key) on the calling thread: a hop to a blocking thread
    /// costs more than the lookup. Each thread prefers its own connection.
    fn read_now<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::thread::current().id().hash(&mut hasher);
        let preferred = hasher.finish() as usize % self.readers.len();
        let free = (0..self.readers.len())
            .map(|i| (preferred + i) % self.readers.len())
            .find_map(|i| self.readers[i].try_lock().ok());
        let conn = match free {
            Some(conn) => conn,
            None => self.readers[preferred]
                .lock()
                .map_err(|_| StoreError::Backend("reader poisoned".into()))?,
        };
        f(&conn)
    }

    pub async fn get(self: &Arc<Self>, key: &Key) -> Result<Option<Row>, StoreError> {
        self.read_now(|c| get(c, key))
    }

    /// The first of `keys` that does not exist (checking the ancestors of a contained path).
    pub async fn all_exist(self: &Arc<Self>, keys: Vec<Key>) -> Result<Option<Key>, StoreError> {
        self.read_now(|c| {
            for key in keys {
                if get(c, &key)?.is_none() {
                    return Ok(Some(key));
                }
            }
            Ok(None)
        })
    }

    /// One page of a collection: filtered, ordered (then by `seq`), after a cursor. Each row comes
    /// with the values of its sort keys, for the next cursor.
    pub async fn query(self: &Arc<Self>, q: Query) -> Result<Vec<(Row, Vec<Param>)>, StoreError> {
        self.read(move |c| {
            let mut sql = Sql::default();
            let mut where_sql = scope_sql(&mut sql, &q)?;
            let keys: Vec<(String, bool)> =
                q.order.iter().map(|(o, desc)| (sql::comparable(&mut sql, o, true), *desc)).collect();
            if let Some((values, seq)) = &q.cursor {
                where_sql.push_str(" AND ");
                where_sql.push_str(&sql::after_cursor(&mut sql, &keys, values, *seq));
            }
            let mut order: Vec<String> = keys
                .iter()
                .map(|(k, desc)| format!("{k} {}", if *desc { "DESC NULLS LAST" } else { "ASC NULLS FIRST" }))
                .collect();
            order.push("seq ASC".into());
            let extra: String = keys.iter().map(|(k, _)| format!(", {k}")).collect();
            let limit = sql.param(Param::Int(q.limit as i64));
            let offset = sql.param(Param::Int(q.skip as i64));
            sql.text = format!(
                "SELECT seq, id, type_name, body, shape{extra} FROM entity WHERE {where_sql} ORDER BY {} LIMIT {limit} OFFSET {offset}",
                order.join(", ")
            );
            let mut stmt = c.prepare_cached(&sql.text)?;
            let params: Vec<SqlValue> = sql.params.iter().map(to_sql).collect();
            let mut rows = stmt.query(params_from_iter(params))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let row = Row {
                    seq: r.get(0)?,
                    key: Key { tenant: q.tenant.clone(), collection: q.collection.clone(), parent: q.parent.clone(), id: r.get(1)? },
                    type_name: r.get(2)?,
                    body: r.get(3)?,
                    canonical: r.get::<_, i64>(4)? == 1,
                };
                let values = (0..keys.len()).map(|i| r.get_ref(5 + i).map(from_sql)).collect::<Result<_, _>>()?;
                out.push((row, values));
            }
            Ok(out)
        })
        .await
    }

    /// How many members of the collection match the query's filter.
    pub async fn count_matching(self: &Arc<Self>, q: Query) -> Result<u64, StoreError> {
        self.read(move |c| {
            let mut sql = Sql::default();
            let where_sql = scope_sql(&mut sql, &q)?;
            let text = format!("SELECT count(*) FROM entity WHERE {where_sql}");
            let params: Vec<SqlValue> = sql.params.iter().map(to_sql).collect();
            let n: i64 = c
                .prepare_cached(&text)?
                .query_row(params_from_iter(params), |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    /// The query plan SQLite picks for a query (for tests and diagnostics).
    pub async fn explain(self: &Arc<Self>, q: Query) -> Result<Vec<String>, StoreError> {
        self.read(move |c| {
            let mut sql = Sql::default();
            let where_sql = scope_sql(&mut sql, &q)?;
            let text = format!("EXPLAIN QUERY PLAN SELECT seq, body FROM entity WHERE {where_sql} ORDER BY seq LIMIT 100");
            let params: Vec<SqlValue> = sql.params.iter().map(to_sql).collect();
            let mut stmt = c.prepare(&text)?;
            let rows = stmt.query_map(params_from_iter(params), |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Members of `collection` grouped by the string value of one top-level property; `parent`
    /// `None` counts across every parent.
    pub async fn count_by(
        self: &Arc<Self>,
        tenant: &str,
        collection: &str,
        parent: Option<&str>,
        property: &str,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let (t, c, p) = (
            tenant.to_string(),
            collection.to_string(),
            parent.map(str::to_string),
        );
        if !sql::is_plain(&c) || !sql::is_plain(property) {
            return Err(StoreError::Backend("count_by needs plain names".into()));
        }
        // Literal collection and path, so the planner can use the partial expression indexes.
        let text = format!(
            "SELECT json_extract(body, '$.{property}'), count(*) FROM entity
             WHERE tenant = ?1 AND collection = '{c}' AND (?2 IS NULL OR parent = ?2) GROUP BY 1"
        );
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&text)?;
            let rows = stmt.query_map(params![t, p], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    r.get::<_, i64>(1)? as u64,
                ))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}

fn get(conn: &Connection, key: &Key) -> Result<Option<Row>, StoreError> {
    let mut stmt = conn.prepare_cached(
        &in_collection(
            "SELECT seq, type_name, body, shape FROM entity WHERE tenant = ?1 AND collection = {C} AND parent = ?2 AND id = ?3",
            &key.collection,
        )?,
    )?;
    let row = stmt
        .query_row(params![key.tenant, key.parent, key.id], |r| {
            Ok(Row {
                seq: r.get(0)?,
                key: key.clone(),
                type_name: r.get(1)?,
                body: r.get(2)?,
                canonical: r.get::<_, i64>(3)? == 1,
            })
        })
        .optional()?;
    Ok(row)
}

/// Takes a first job, then whatever else is already queued, and commits them in one transaction.
/// Each job runs inside its own savepoint so that one refused request leaves the others intact.
/// Checkpoints the WAL off the commit path: passively every half second, and with RESTART when
/// the log has grown past `WAL_RESTART_BYTES` (which briefly waits for readers). Ends when the
/// store is dropped.
fn checkpoint_loop(conn: Connection, wal: std::path::PathBuf, alive: std::sync::Weak<()>) {
    const WAL_RESTART_BYTES: u64 = 256 * 1024 * 1024;
    while alive.upgrade().is_some() {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let large = std::fs::metadata(&wal)
            .map(|m| m.len() > WAL_RESTART_BYTES)
            .unwrap_or(false);
        let mode = if large { "RESTART" } else { "PASSIVE" };
        if let Err(e) = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

fn write_loop(mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < GROUP_LIMIT {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let outcome = commit_group(&mut conn, &mut jobs);
        for job in jobs {
            let _ = job.committed.send(outcome.clone());
        }
    }
}

fn commit_group(conn: &mut Connection, jobs: &mut [Job]) -> Result<(), String> {
    // IMMEDIATE takes the write lock up front, where the busy handler applies; a deferred
    // transaction upgrading from a read can fail at once when the checkpointer is busy.
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    for job in jobs.iter_mut() {
        let run = std::mem::replace(&mut job.run, Box::new(|_| true));
        let savepoint_ok = tx
            .prepare_cached("SAVEPOINT job")
            .and_then(|mut st| st.execute([]))
            .is_ok();
        let mut ops = SqliteTx { conn: &tx };
        // A panicking job is refused like a failing one; the writer thread lives on.
        let ok = savepoint_ok
            && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&mut ops)))
                .unwrap_or(false);
        if !ok {
            tx.prepare_cached("ROLLBACK TO job")
                .and_then(|mut st| st.execute([]))
                .map_err(|e| e.to_string())?;
        }
        tx.prepare_cached("RELEASE job")
            .and_then(|mut st| st.execute([]))
            .map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())
}

struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl WriteTx for SqliteTx<'_> {
    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError> {
        get(self.conn, key)
    }

    fn insert(&mut self, key: &Key, type_name: &str, body: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO entity (tenant, collection, parent, id, type_name, body, shape) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)",
            )?
            .execute(params![key.tenant, key.collection, key.parent, key.id, type_name, body])?;
        Ok(())
    }

    fn update(&mut self, key: &Key, body: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached(&in_collection(
                "UPDATE entity SET body = ?4, shape = 1 WHERE tenant = ?1 AND collection = {C} AND parent = ?2 AND id = ?3",
                &key.collection,
            )?)?
            .execute(params![key.tenant, key.parent, key.id, body])?;
        Ok(n > 0)
    }

    fn delete_tree(&mut self, key: &Key) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached(&in_collection(
                "DELETE FROM entity WHERE tenant = ?1 AND collection = {C} AND parent = ?2 AND id = ?3",
                &key.collection,
            )?)?
            .execute(params![key.tenant, key.parent, key.id])?;
        if n > 0 {
            delete_descendants(self.conn, &key.tenant, &key.collection, &key.child_parent())?;
        }
        Ok(n > 0)
    }

    fn clear_collection(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
    ) -> Result<(), StoreError> {
        let ids: Vec<String> = self
            .conn
            .prepare_cached(&in_collection(
                "SELECT id FROM entity WHERE tenant = ?1 AND collection = {C} AND parent = ?2",
                collection,
            )?)?
            .query_map(params![tenant, parent], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        self.conn
            .prepare_cached(&in_collection(
                "DELETE FROM entity WHERE tenant = ?1 AND collection = {C} AND parent = ?2",
                collection,
            )?)?
            .execute(params![tenant, parent])?;
        for id in ids {
            let key = Key {
                tenant: tenant.into(),
                collection: collection.into(),
                parent: parent.into(),
                id,
            };
            delete_descendants(self.conn, tenant, collection, &key.child_parent())?;
        }
        Ok(())
    }
}

/// Rows in collections below `collection` whose parent path is `path` or lies under it.
/// The ranges `[x/, x0)` select every string that starts with `x/` ('0' follows '/').
fn delete_descendants(
    conn: &Connection,
    tenant: &str,
    collection: &str,
    path: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(&in_collection(
        "DELETE FROM entity WHERE tenant = ?1
           AND collection >= {C} || '/' AND collection < {C} || '0'
           AND (parent = ?2 OR (parent >= ?2 || '/' AND parent < ?2 || '0'))",
        collection,
    )?)?
    .execute(params![tenant, path])?;
    Ok(())
}
