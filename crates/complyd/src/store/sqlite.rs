//! The embedded store: SQLite in WAL mode, one writer thread that commits requests in groups,
//! and a small pool of reader connections.

use super::indexes::{sync_sqlite, ModelIndex};
use super::sql::{self, in_collection, Dialect, Param};
use super::writer::{self, Job};
use super::{Key, Query, Row, StoreError, WriteTx};
use odata::value::DateTimeOffset;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_entities.sql"),
    include_str!("migrations/0002_query_indexes.sql"),
    include_str!("migrations/0003_row_shape.sql"),
    include_str!("migrations/0004_key_index_by_id.sql"),
    include_str!("migrations/0005_model_indexes.sql"),
];
const READERS: usize = 4;
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// 2 KiB pages: a create dirties one leaf page in each of the four indexes of a device status
/// that are ordered by parent first, and every dirty page goes to the WAL whole. Measured against
/// 4 KiB on 200,000 statuses: 20% more creates per second, the same reads, a 14% larger file.
/// (1 KiB: 30% more creates, but slower filtered pages and a 45% larger file.)
const PAGE_SIZE: i64 = 2048;
/// SQLite VM steps a read may run on an async worker before it moves to a blocking thread
/// (about a millisecond); the budget is checked every [`STEPS_PER_CHECK`] steps.
const INLINE_BUDGET_STEPS: u64 = 200_000;
const STEPS_PER_CHECK: i32 = 1_000;
pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// See [`INLINE_BUDGET_STEPS`].
    inline_budget_steps: u64,
    /// Dropped with the store, which tells the checkpoint thread to stop.
    _alive: Arc<()>,
    /// The database file, and which file it was when opened (see [`SqliteStore::ping`]).
    path: PathBuf,
    file_id: Option<FileId>,
}

/// A file's device and inode: the same path may come to name another file.
type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|_| (0, 0))
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict
            }
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull => {
                StoreError::Full(e.to_string())
            }
            other => StoreError::Backend(other.to_string()),
        }
    }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Takes effect only when the database file is created (before WAL mode is set).
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 8 MiB of page cache per connection (negative = KiB); temporary b-trees in memory; a reset
    // WAL is cut back to 64 MiB rather than keeping its largest size.
    conn.pragma_update(None, "cache_size", -8192)?;
    conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES as i64)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    register_functions(&conn)?;
    // Plans never depend on bound values, so a cached statement is not re-prepared when a
    // parameter changes (SQLite otherwise re-plans when a value could select a partial index).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    // One cached statement per collection and operation, and the query shapes in use.
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// `dto_ticks(text)`: a DateTimeOffset's instant; `dto_part(text, part)`: one of its fields in
/// its own offset. Indexes use the first, so every connection must have both.
fn register_functions(conn: &Connection) -> Result<(), StoreError> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    // Evaluated for every index entry written: reads the text in place.
    conn.create_scalar_function("dto_ticks", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(DateTimeOffset::parse)
                .map(|t| t.utc_ticks),
            _ => None,
        })
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

/// The reader an async worker thread tries first, so that each worker tends to keep its own
/// connection (and that connection's page cache). Computed once per thread.
fn thread_slot() -> usize {
    thread_local! {
        static SLOT: usize = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            std::thread::current().id().hash(&mut hasher);
            hasher.finish() as usize
        };
    }
    SLOT.with(|slot| *slot)
}

fn to_sql(p: &Param) -> SqlValue {
    match p {
        Param::Null => SqlValue::Null,
        Param::Int(n) => SqlValue::Integer(*n),
        Param::Real(r) => SqlValue::Real(*r),
        Param::Bool(b) => SqlValue::Integer(i64::from(*b)),
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

/// Applies each migration in its own IMMEDIATE transaction, reading the schema version under
/// the write lock: processes starting together on one folder migrate once.
/// Returns how many it applied.
fn migrate(conn: &mut Connection) -> Result<usize, StoreError> {
    let mut applied = 0;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current <= index {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index + 1)?;
            applied += 1;
        }
        tx.commit()?;
    }
    Ok(applied)
}

/// Copies the WAL into the database file and empties it, waiting at most `patience` for the
/// readers of other processes.
fn truncate_wal(conn: &Connection, patience: std::time::Duration) -> Result<(), StoreError> {
    conn.busy_timeout(patience)?;
    let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if busy? != 0 {
        return Err(StoreError::Unavailable(
            "another process is reading; the WAL stays".into(),
        ));
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `complyd.db` in `dir` and brings its schema up to date, with
    /// the model's generated `indexes`.
    pub fn open(dir: &Path, indexes: &[ModelIndex]) -> Result<Arc<Self>, StoreError> {
        let path = dir.join("complyd.db");
        let mut writer_conn = open(&path)?;
        let changed = migrate(&mut writer_conn)? + sync_sqlite(&mut writer_conn, indexes)?;
        if changed > 0 {
            // A migration may rewrite whole indexes into the WAL; every later start would
            // otherwise read them back to rebuild the WAL index until a checkpoint caught up.
            truncate_wal(&writer_conn, BUSY_TIMEOUT)?;
        }
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
            .spawn(move || checkpoint_loop(checkpointer, weak))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let readers = (0..READERS)
            .map(|_| open(&path).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        let (tx, rx) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("complyd-writer".into())
            .spawn(move || write_loop(writer_conn, rx, wal))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Arc::new(Self {
            writer: tx,
            readers,
            next_reader: AtomicUsize::new(0),
            inline_budget_steps: INLINE_BUDGET_STEPS,
            _alive: alive,
            file_id: file_id(&path),
            path,
        }))
    }

    /// At a clean stop: leaves the log empty, so that the next start has nothing to recover and
    /// the data folder is one file. Committed writes are durable without it.
    pub async fn close(self: &Arc<Self>) -> Result<(), StoreError> {
        self.read(|conn| truncate_wal(conn, std::time::Duration::from_secs(2)))
            .await
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
        writer::submit(&self.writer, f).await
    }

    /// Writes waiting for the writer.
    pub fn queued_writes(&self) -> usize {
        writer::queued(&self.writer)
    }

    /// Whether the store can serve: the writer runs, the data folder still holds the database
    /// file this store has open (a deleted or replaced file keeps answering from the open
    /// handles, but nothing written now would be found after a restart), and a reader answers.
    pub async fn ping(self: &Arc<Self>) -> Result<(), StoreError> {
        if self.writer.is_closed() {
            return Err(StoreError::Unavailable("the writer has stopped".into()));
        }
        if file_id(&self.path) != self.file_id {
            return Err(StoreError::Unavailable(format!(
                "{} is no longer the database file this server opened",
                self.path.display()
            )));
        }
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(())
        })
        .await
    }

    /// Runs `f` on a blocking thread (a read that may take long).
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let first = this.next_reader.fetch_add(1, Ordering::Relaxed);
            f(&*this.reader(first)?)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    /// A free reader connection, trying from `first` on; when all are busy, waits for `first`.
    fn reader(&self, first: usize) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.free_reader(first).map(Ok).unwrap_or_else(|| {
            self.readers[first % self.readers.len()]
                .lock()
                .map_err(|_| StoreError::Backend("reader poisoned".into()))
        })
    }

    fn free_reader(&self, first: usize) -> Option<MutexGuard<'_, Connection>> {
        (0..self.readers.len())
            .map(|i| (first + i) % self.readers.len())
            .find_map(|i| self.readers[i].try_lock().ok())
    }

    /// A free reader for a read on the calling thread, which costs less than a hop to a
    /// blocking thread when the read is short.
    fn inline_reader(&self) -> Option<MutexGuard<'_, Connection>> {
        self.free_reader(thread_slot())
    }

    /// Runs a read on the calling thread when a reader is free and the read stays within
    /// [`INLINE_BUDGET_STEPS`]: a hop to a blocking thread costs more than a lookup or a
    /// page read through an index. A read that is over budget is abandoned and runs again on
    /// a blocking thread, so a long scan never holds up the async workers.
    async fn read_bounded<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl Fn(&Connection) -> Result<T, StoreError> + Send + Sync + 'static,
    ) -> Result<T, StoreError> {
        if let Some(conn) = self.inline_reader() {
            let exceeded = Arc::new(AtomicBool::new(false));
            let flag = exceeded.clone();
            let (mut steps, budget) = (0u64, self.inline_budget_steps);
            conn.progress_handler(
                STEPS_PER_CHECK,
                Some(move || {
                    steps += STEPS_PER_CHECK as u64;
                    let over = steps > budget;
                    if over {
                        flag.store(true, Ordering::Relaxed);
                    }
                    over
                }),
            );
            let result = f(&conn);
            conn.progress_handler(0, None::<fn() -> bool>);
            if !exceeded.load(Ordering::Relaxed) {
                return result;
            }
        }
        self.read(move |c| f(c)).await
    }

    /// A lookup by key, bounded by the key index: on the calling thread whenever a reader is free.
    pub async fn get(self: &Arc<Self>, key: &Key) -> Result<Option<Row>, StoreError> {
        if let Some(conn) = self.inline_reader() {
            return get(&conn, key);
        }
        let key = key.clone();
        self.read(move |c| get(c, &key)).await
    }

    /// The first of `keys` that does not exist (checking the ancestors of a contained path).
    pub async fn all_exist(self: &Arc<Self>, keys: Vec<Key>) -> Result<Option<Key>, StoreError> {
        if let Some(conn) = self.inline_reader() {
            return first_missing(&conn, keys);
        }
        self.read(move |c| first_missing(c, keys)).await
    }

    /// One page of a collection: filtered, ordered (then by `seq`), after a cursor. Each row comes
    /// with the values of its sort keys, for the next cursor.
    pub async fn query(self: &Arc<Self>, q: Query) -> Result<Vec<(Row, Vec<Param>)>, StoreError> {
        self.read_bounded(move |c| {
            let (sql, keys) = sql::page(Dialect::Sqlite, &q)?;
            let mut stmt = c.prepare_cached(&sql.text)?;
            let mut rows = stmt.query(params_from_iter(sql.params.iter().map(to_sql)))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let key = Key {
                    tenant: q.tenant.clone(),
                    collection: q.collection.clone(),
                    parent: q.parent.clone(),
                    id: r.get(1)?,
                };
                let row = Row {
                    seq: r.get(0)?,
                    key,
                    type_name: r.get(2)?,
                    body: r.get(3)?,
                    canonical: r.get::<_, i64>(4)? == 1,
                };
                let values = (0..keys)
                    .map(|i| r.get_ref(5 + i).map(from_sql))
                    .collect::<Result<_, _>>()?;
                out.push((row, values));
            }
            Ok(out)
        })
        .await
    }

    /// How many members of the collection match the query's filter.
    pub async fn count_matching(self: &Arc<Self>, q: Query) -> Result<u64, StoreError> {
        self.read_bounded(move |c| {
            let sql = sql::count(Dialect::Sqlite, &q)?;
            let n: i64 = c
                .prepare_cached(&sql.text)?
                .query_row(params_from_iter(sql.params.iter().map(to_sql)), |r| {
                    r.get(0)
                })?;
            Ok(n as u64)
        })
        .await
    }

    /// Every row of every tenant after `after_seq`, in `seq` order (export).
    pub async fn scan(
        self: &Arc<Self>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, tenant, collection, parent, id, type_name, body, shape FROM entity WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after_seq, limit as i64], |r| {
                Ok(Row {
                    seq: r.get(0)?,
                    key: Key { tenant: r.get(1)?, collection: r.get(2)?, parent: r.get(3)?, id: r.get(4)? },
                    type_name: r.get(5)?,
                    body: r.get(6)?,
                    canonical: r.get::<_, i64>(7)? == 1,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// The query plan SQLite picks for a page of `q` (for tests and diagnostics).
    pub async fn explain(self: &Arc<Self>, q: Query) -> Result<Vec<String>, StoreError> {
        self.read(move |c| {
            let (sql, _) = sql::page(Dialect::Sqlite, &q)?;
            let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))?;
            let rows = stmt.query_map(params_from_iter(sql.params.iter().map(to_sql)), |r| {
                r.get::<_, String>(3)
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    /// Members of `collection` grouped by the text of one top-level property; `parent` `None`
    /// counts across every parent.
    pub async fn count_by(
        self: &Arc<Self>,
        tenant: &str,
        collection: &str,
        parent: Option<&str>,
        property: &str,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let sql = sql::count_by(Dialect::Sqlite, tenant, collection, parent, property)?;
        self.read_bounded(move |conn| {
            let mut stmt = conn.prepare_cached(&sql.text)?;
            let rows = stmt.query_map(params_from_iter(sql.params.iter().map(to_sql)), |r| {
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

fn first_missing(conn: &Connection, keys: Vec<Key>) -> Result<Option<Key>, StoreError> {
    for key in keys {
        if !exists(conn, &key)? {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// Answered from the key index alone, without reading the row.
fn exists(conn: &Connection, key: &Key) -> Result<bool, StoreError> {
    let found = conn
        .prepare_cached(&in_collection(
            "SELECT 1 FROM entity WHERE tenant = ?1 AND collection = {C} AND parent = ?2 AND id = ?3",
            &key.collection,
        )?)?
        .exists(params![key.tenant, key.parent, key.id])?;
    Ok(found)
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

/// Checkpoints the WAL off the commit path, passively, every half second. Ends when the store is
/// dropped.
fn checkpoint_loop(conn: Connection, alive: std::sync::Weak<()>) {
    while alive.upgrade().is_some() {
        std::thread::sleep(std::time::Duration::from_millis(500));
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// Past this size the writer restarts the WAL between two groups (the background checkpoints
/// have copied most of it by then; under constant writes a passive checkpoint never resets it).
/// RESTART, not TRUNCATE: the next frames overwrite the file's first blocks instead of growing
/// an emptied file again block by block, and `journal_size_limit` trims what is past the limit.
const WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

fn write_loop(mut conn: Connection, rx: mpsc::Receiver<Job>, wal: std::path::PathBuf) {
    writer::run_writer(rx, |jobs| {
        let outcome = commit_group(&mut conn, jobs);
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_LIMIT_BYTES) {
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL restart failed");
            }
        }
        outcome
    });
}

fn commit_group(conn: &mut Connection, jobs: &mut [Job]) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock up front, where the busy handler applies; a deferred
    // transaction upgrading from a read can fail at once when the checkpointer is busy.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for job in jobs.iter_mut() {
        let savepoint_ok = tx
            .prepare_cached("SAVEPOINT job")
            .and_then(|mut st| st.execute([]))
            .is_ok();
        let ok = savepoint_ok && job.run_in(&mut SqliteTx { conn: &tx });
        if !ok {
            tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
        }
        tx.prepare_cached("RELEASE job")?.execute([])?;
    }
    tx.commit()?;
    Ok(())
}

struct SqliteTx<'c> {
    conn: &'c Connection,
}

impl WriteTx for SqliteTx<'_> {
    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError> {
        get(self.conn, key)
    }

    fn exists(&mut self, key: &Key) -> Result<bool, StoreError> {
        exists(self.conn, key)
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn status(i: usize) -> Key {
        Key {
            tenant: "t".into(),
            collection: "deviceCompliancePolicies/deviceStatuses".into(),
            parent: "p".into(),
            id: format!("s{i:04}"),
        }
    }

    /// A read over its inline budget is abandoned and run again on a blocking thread, with the
    /// same answer as a read that stays within it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_over_the_inline_budget_move_to_a_blocking_thread_with_the_same_answer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), &[]).unwrap();
        store
            .write(|tx| {
                (0..500).try_for_each(|i| tx.insert(&status(i), "x", &format!("{{\"n\":{i}}}")))
            })
            .await
            .unwrap();
        let query = || Query::all("t", "deviceCompliancePolicies/deviceStatuses", "p");
        let ids = |rows: Vec<(Row, Vec<Param>)>| -> Vec<String> {
            rows.into_iter().map(|(r, _)| r.key.id).collect()
        };
        let inline = ids(store.query(query()).await.unwrap());
        assert_eq!(inline.len(), 500);
        assert_eq!(store.count_matching(query()).await.unwrap(), 500);

        let mut tight = Arc::try_unwrap(store).ok().expect("one owner");
        tight.inline_budget_steps = 10;
        let tight = Arc::new(tight);
        assert_eq!(ids(tight.query(query()).await.unwrap()), inline);
        assert_eq!(tight.count_matching(query()).await.unwrap(), 500);
        // The abandoned attempt left no progress handler behind on the reader.
        assert_eq!(
            tight.get(&status(7)).await.unwrap().unwrap().body,
            "{\"n\":7}"
        );
    }

    /// A data folder written before the key index led with the id opens with its rows, finds
    /// them by key, and still refuses a second entity with a taken key.
    #[tokio::test]
    async fn a_folder_from_an_older_schema_keeps_its_rows_and_its_unique_keys() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut conn = open(&dir.path().join("complyd.db")).unwrap();
            for (version, sql) in MIGRATIONS[..3].iter().enumerate() {
                conn.execute_batch(sql).unwrap();
                conn.pragma_update(None, "user_version", version + 1)
                    .unwrap();
            }
            let tx = conn.transaction().unwrap();
            for i in 0..3 {
                let k = status(i);
                tx.execute(
                    "INSERT INTO entity (tenant, collection, parent, id, type_name, body) VALUES (?1, ?2, ?3, ?4, 'x', '{}')",
                    params![k.tenant, k.collection, k.parent, k.id],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        let store = SqliteStore::open(dir.path(), &[]).unwrap();
        assert!(store.get(&status(2)).await.unwrap().is_some());
        let taken = store
            .write(|tx| tx.insert(&status(1), "x", "{}"))
            .await
            .unwrap_err();
        assert!(matches!(taken, StoreError::Conflict), "{taken}");
        let reader = store.reader(0).unwrap();
        let (version, key_columns): (usize, String) = (
            reader
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap(),
            reader
                .query_row(
                    "SELECT group_concat(name) FROM pragma_index_info('entity_key')",
                    [],
                    |r| r.get(0),
                )
                .unwrap(),
        );
        assert_eq!(version, MIGRATIONS.len());
        assert_eq!(key_columns, "id,tenant,collection,parent");
    }
}
