//! The shared store: PostgreSQL, for several stateless complyd instances. The same shape as the
//! SQLite store — one writer thread committing groups, a pool of readers — over the synchronous
//! `postgres` client, which runs only on threads of its own (the writer, or blocking tasks).
//! A lost connection is answered with `Unavailable` (503) and re-established on the next use.

use super::indexes::{sync_postgres, ModelIndex};
use super::sql::{self, in_collection, Dialect, Param};
use super::writer::{self, Job};
use super::{Key, Query, Row, StoreError, WriteTx};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/0001_entities.sql"),
    // The same statements as SQLite's.
    include_str!("migrations/0004_key_index_by_id.sql"),
    include_str!("migrations/0005_model_indexes.sql"),
];
const READERS: usize = 4;
/// Held while migrating, so that instances starting together migrate once.
const MIGRATION_LOCK: i64 = 0x0063_6f6d_706c_7964;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            return StoreError::Conflict;
        }
        if e.is_closed() || e.as_db_error().is_none() {
            return StoreError::Unavailable(e.to_string());
        }
        match e.code() {
            Some(c) if c.code().starts_with("08") || c.code().starts_with("57P") => {
                StoreError::Unavailable(e.to_string())
            }
            // Class 53: insufficient resources (disk full, out of memory, too many connections
            // are 53100, 53200, 53300); only a full disk is the client's 507.
            Some(c) if *c == SqlState::DISK_FULL => StoreError::Full(e.to_string()),
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

/// A connection and the statements prepared on it.
struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    fn statement(&mut self, text: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(text) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(text)?;
        if self.statements.len() > 512 {
            self.statements.clear();
        }
        self.statements.insert(text.to_string(), s.clone());
        Ok(s)
    }
}

fn connect(config: &postgres::Config) -> Result<Conn, StoreError> {
    let client = config
        .connect(NoTls)
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(Conn {
        client,
        statements: HashMap::new(),
    })
}

fn boxed(params: &[Param]) -> Vec<Box<dyn ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync> {
            match p {
                Param::Null => Box::new(None::<String>),
                Param::Bool(b) => Box::new(*b),
                Param::Int(n) => Box::new(*n),
                Param::Real(r) => Box::new(*r),
                Param::Text(t) => Box::new(t.clone()),
            }
        })
        .collect()
}

fn refs(params: &[Box<dyn ToSql + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref()).collect()
}

/// A sort-key column as a driver-independent value.
fn param_at(row: &postgres::Row, i: usize) -> Param {
    if let Ok(v) = row.try_get::<_, Option<i64>>(i) {
        return v.map_or(Param::Null, Param::Int);
    }
    if let Ok(v) = row.try_get::<_, Option<String>>(i) {
        return v.map_or(Param::Null, Param::Text);
    }
    if let Ok(v) = row.try_get::<_, Option<bool>>(i) {
        return v.map_or(Param::Null, Param::Bool);
    }
    if let Ok(v) = row.try_get::<_, Option<f64>>(i) {
        return v.map_or(Param::Null, Param::Real);
    }
    Param::Null
}

pub struct PgStore {
    config: postgres::Config,
    writer: mpsc::Sender<Job>,
    readers: Vec<Mutex<Option<Conn>>>,
    next_reader: AtomicUsize,
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

/// Parses a `postgres://` URL with short timeouts, so that an unreachable database fails fast.
pub fn config(url: &str) -> Result<postgres::Config, StoreError> {
    let mut config: postgres::Config = url
        .parse()
        .map_err(|e: postgres::Error| StoreError::Backend(format!("bad store URL: {e}")))?;
    config.connect_timeout(Duration::from_secs(3));
    config.keepalives(true);
    config.application_name("complyd");
    Ok(config)
}

/// Brings the schema, and the model's generated `indexes`, up to date under an advisory lock.
pub fn migrate(config: &postgres::Config, indexes: &[ModelIndex]) -> Result<usize, StoreError> {
    let mut conn = connect(config)?;
    let client = &mut conn.client;
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let result = (|| -> Result<usize, StoreError> {
        client.batch_execute(
            "CREATE TABLE IF NOT EXISTS complyd_schema (version INTEGER PRIMARY KEY)",
        )?;
        let current: i32 = client
            .query_one("SELECT COALESCE(max(version), 0) FROM complyd_schema", &[])?
            .get(0);
        let mut applied = 0;
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
            let mut tx = client.transaction()?;
            tx.batch_execute(migration)?;
            tx.execute(
                "INSERT INTO complyd_schema (version) VALUES ($1)",
                &[&(index as i32 + 1)],
            )?;
            tx.commit()?;
            applied += 1;
        }
        Ok(applied + sync_postgres(client, indexes)?)
    })();
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
    result
}

impl PgStore {
    /// Connects (migrating first, with the model's generated `indexes`) and starts the writer.
    /// Blocking: call it off the async threads.
    pub fn open(url: &str, indexes: &[ModelIndex]) -> Result<Arc<Self>, StoreError> {
        let config = config(url)?;
        migrate(&config, indexes)?;
        let (tx, rx) = mpsc::channel(4096);
        let writer_config = config.clone();
        std::thread::Builder::new()
            .name("complyd-pg-writer".into())
            .spawn(move || write_loop(writer_config, rx))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Arc::new(Self {
            config,
            writer: tx,
            readers: (0..READERS).map(|_| Mutex::new(None)).collect(),
            next_reader: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            probe: Mutex::new(None),
        }))
    }

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

    /// Runs `f` on a pooled connection in a blocking task; a failed connection is dropped.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let index = this.next_reader.fetch_add(1, Ordering::Relaxed) % this.readers.len();
            let mut slot = this.readers[index]
                .lock()
                .map_err(|_| StoreError::Backend("reader poisoned".into()))?;
            let _busy = Busy::enter(&this.busy);
            if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
                *slot = Some(connect(&this.config)?);
            }
            let conn = slot
                .as_mut()
                .ok_or_else(|| StoreError::Unavailable("no connection".into()))?;
            let result = f(conn);
            if matches!(result, Err(StoreError::Unavailable(_))) {
                *slot = None;
            }
            result
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    /// Writes waiting for the writer.
    pub fn queued_writes(&self) -> usize {
        writer::queued(&self.writer)
    }

    /// Reader connections in use, and the pool's size.
    pub fn pool_use(&self) -> (usize, usize) {
        (self.busy.load(Ordering::Relaxed), READERS)
    }

    /// Whether the store can serve: the writer runs and PostgreSQL answers `SELECT 1` on the
    /// probe's connection (made anew after a failure). A check still waiting on a database that
    /// does not answer fails the next one at once, rather than queueing behind it.
    pub async fn ping(self: &Arc<Self>) -> Result<(), StoreError> {
        if self.writer.is_closed() {
            return Err(StoreError::Unavailable("the writer has stopped".into()));
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut slot = match this.probe.try_lock() {
                Ok(slot) => slot,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {
                    return Err(StoreError::Unavailable(
                        "the previous check has not finished".into(),
                    ))
                }
            };
            if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
                *slot = Some(connect(&this.config)?);
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
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    pub async fn get(self: &Arc<Self>, key: &Key) -> Result<Option<Row>, StoreError> {
        let key = key.clone();
        self.read(move |c| get(c, &key, false)).await
    }

    pub async fn all_exist(self: &Arc<Self>, keys: Vec<Key>) -> Result<Option<Key>, StoreError> {
        self.read(move |c| {
            for key in keys {
                if get(c, &key, false)?.is_none() {
                    return Ok(Some(key));
                }
            }
            Ok(None)
        })
        .await
    }

    pub async fn query(self: &Arc<Self>, q: Query) -> Result<Vec<(Row, Vec<Param>)>, StoreError> {
        self.read(move |c| {
            let (sql, keys) = sql::page(Dialect::Postgres, &q)?;
            let statement = c.statement(&sql.text)?;
            let params = boxed(&sql.params);
            let rows = c.client.query(&statement, &refs(&params))?;
            rows.iter()
                .map(|r| {
                    let key = Key {
                        tenant: q.tenant.clone(),
                        collection: q.collection.clone(),
                        parent: q.parent.clone(),
                        id: r.try_get(1)?,
                    };
                    let row = Row {
                        seq: r.try_get(0)?,
                        key,
                        type_name: r.try_get(2)?,
                        body: r.try_get(3)?,
                        canonical: r.try_get::<_, i32>(4)? == 1,
                    };
                    Ok((row, (0..keys).map(|i| param_at(r, 5 + i)).collect()))
                })
                .collect()
        })
        .await
    }

    pub async fn count_matching(self: &Arc<Self>, q: Query) -> Result<u64, StoreError> {
        self.read(move |c| {
            let sql = sql::count(Dialect::Postgres, &q)?;
            let statement = c.statement(&sql.text)?;
            let params = boxed(&sql.params);
            let n: i64 = c.client.query_one(&statement, &refs(&params))?.try_get(0)?;
            Ok(n as u64)
        })
        .await
    }

    pub async fn count_by(
        self: &Arc<Self>,
        tenant: &str,
        collection: &str,
        parent: Option<&str>,
        property: &str,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let sql = sql::count_by(Dialect::Postgres, tenant, collection, parent, property)?;
        self.read(move |c| {
            let statement = c.statement(&sql.text)?;
            let params = boxed(&sql.params);
            let rows = c.client.query(&statement, &refs(&params))?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get::<_, Option<String>>(0)?.unwrap_or_default(),
                        r.try_get::<_, i64>(1)? as u64,
                    ))
                })
                .collect()
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
            let statement = c.statement(
                "SELECT seq, tenant, collection, parent, id, type_name, body::text, shape FROM entity WHERE seq > $1 ORDER BY seq LIMIT $2",
            )?;
            let rows = c.client.query(&statement, &[&after_seq, &(limit as i64)])?;
            rows.iter()
                .map(|r| {
                    Ok(Row {
                        seq: r.try_get(0)?,
                        key: Key { tenant: r.try_get(1)?, collection: r.try_get(2)?, parent: r.try_get(3)?, id: r.try_get(4)? },
                        type_name: r.try_get(5)?,
                        body: r.try_get(6)?,
                        canonical: r.try_get::<_, i32>(7)? == 1,
                    })
                })
                .collect()
        })
        .await
    }

    /// The plan PostgreSQL picks for a page of `q` (for tests and diagnostics).
    pub async fn explain(self: &Arc<Self>, q: Query) -> Result<Vec<String>, StoreError> {
        self.read(move |c| {
            let (sql, _) = sql::page(Dialect::Postgres, &q)?;
            let params = boxed(&sql.params);
            let rows = c
                .client
                .query(&format!("EXPLAIN {}", sql.text), &refs(&params))?;
            rows.iter()
                .map(|r| Ok(r.try_get::<_, String>(0)?))
                .collect()
        })
        .await
    }
}

impl Drop for PgStore {
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

fn get(c: &mut Conn, key: &Key, for_update: bool) -> Result<Option<Row>, StoreError> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let text = in_collection(
        &format!("SELECT seq, type_name, body::text, shape FROM entity WHERE tenant = $1 AND collection = {{C}} AND parent = $2 AND id = $3{lock}"),
        &key.collection,
    )?;
    let statement = c.statement(&text)?;
    let row = c
        .client
        .query_opt(&statement, &[&key.tenant, &key.parent, &key.id])?;
    row.map(|r| {
        Ok(Row {
            seq: r.try_get(0)?,
            key: key.clone(),
            type_name: r.try_get(1)?,
            body: r.try_get(2)?,
            canonical: r.try_get::<_, i32>(3)? == 1,
        })
    })
    .transpose()
}

/// Group commit over a connection that is re-established after a failure.
fn write_loop(config: postgres::Config, rx: mpsc::Receiver<Job>) {
    let mut conn: Option<Conn> = None;
    writer::run_writer(rx, |jobs| {
        if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            conn = Some(connect(&config)?);
        }
        let Some(c) = conn.as_mut() else {
            return Err(StoreError::Unavailable("no connection".into()));
        };
        let outcome = commit_group(c, jobs);
        if matches!(outcome, Err(StoreError::Unavailable(_))) {
            conn = None;
        }
        outcome
    });
}

fn commit_group(c: &mut Conn, jobs: &mut [Job]) -> Result<(), StoreError> {
    c.client.batch_execute("BEGIN")?;
    let result = (|| -> Result<(), StoreError> {
        for job in jobs.iter_mut() {
            c.client.batch_execute("SAVEPOINT job")?;
            let ok = job.run_in(&mut PgTx {
                conn: c,
                failed: None,
            });
            // A job that failed on a database error leaves the transaction aborted until rollback.
            c.client.batch_execute(if ok {
                "RELEASE SAVEPOINT job"
            } else {
                "ROLLBACK TO SAVEPOINT job"
            })?;
        }
        c.client.batch_execute("COMMIT")?;
        Ok(())
    })();
    if result.is_err() {
        let _ = c.client.batch_execute("ROLLBACK");
    }
    result
}

struct PgTx<'c> {
    conn: &'c mut Conn,
    failed: Option<StoreError>,
}

impl PgTx<'_> {
    fn execute(
        &mut self,
        template: &str,
        collection: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let text = in_collection(template, collection)?;
        let statement = self.conn.statement(&text)?;
        self.conn.client.execute(&statement, params).map_err(|e| {
            let e = StoreError::from(e);
            self.failed = Some(e.clone());
            e
        })
    }
}

impl WriteTx for PgTx<'_> {
    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError> {
        // FOR UPDATE: a read-modify-write from another instance waits instead of being lost.
        get(self.conn, key, true)
    }

    fn insert(&mut self, key: &Key, type_name: &str, body: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO entity (tenant, collection, parent, id, type_name, body, shape) VALUES ($1, {C}, $2, $3, $4, $5::text::json, 1)",
            &key.collection,
            &[&key.tenant, &key.parent, &key.id, &type_name, &body],
        )?;
        Ok(())
    }

    fn update(&mut self, key: &Key, body: &str) -> Result<bool, StoreError> {
        let n = self.execute(
            "UPDATE entity SET body = $4::text::json, shape = 1 WHERE tenant = $1 AND collection = {C} AND parent = $2 AND id = $3",
            &key.collection,
            &[&key.tenant, &key.parent, &key.id, &body],
        )?;
        Ok(n > 0)
    }

    fn delete_tree(&mut self, key: &Key) -> Result<bool, StoreError> {
        let n = self.execute(
            "DELETE FROM entity WHERE tenant = $1 AND collection = {C} AND parent = $2 AND id = $3",
            &key.collection,
            &[&key.tenant, &key.parent, &key.id],
        )?;
        if n > 0 {
            self.delete_descendants(&key.tenant, &key.collection, &key.child_parent())?;
        }
        Ok(n > 0)
    }

    fn clear_collection(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
    ) -> Result<(), StoreError> {
        let text = in_collection(
            "SELECT id FROM entity WHERE tenant = $1 AND collection = {C} AND parent = $2",
            collection,
        )?;
        let statement = self.conn.statement(&text)?;
        let ids: Vec<String> = self
            .conn
            .client
            .query(&statement, &[&tenant, &parent])?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        self.execute(
            "DELETE FROM entity WHERE tenant = $1 AND collection = {C} AND parent = $2",
            collection,
            &[&tenant, &parent],
        )?;
        for id in ids {
            let key = Key {
                tenant: tenant.into(),
                collection: collection.into(),
                parent: parent.into(),
                id,
            };
            self.delete_descendants(tenant, collection, &key.child_parent())?;
        }
        Ok(())
    }
}

impl PgTx<'_> {
    /// Rows in collections below `collection` whose parent path is `path` or lies under it.
    fn delete_descendants(
        &mut self,
        tenant: &str,
        collection: &str,
        path: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM entity WHERE tenant = $1
               AND collection >= {C} || '/' AND collection < {C} || '0'
               AND (parent = $2 OR (parent >= $2 || '/' AND parent < $2 || '0'))",
            collection,
            &[&tenant, &path],
        )?;
        Ok(())
    }
}
