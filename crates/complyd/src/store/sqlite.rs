//! The embedded store: SQLite in WAL mode, one writer thread that commits requests in groups,
//! and a small pool of reader connections.

use super::{Key, PageRequest, Row, StoreError, WriteTx};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_entities.sql")];
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
    Ok(conn)
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

    pub async fn get(self: &Arc<Self>, key: &Key) -> Result<Option<Row>, StoreError> {
        let key = key.clone();
        self.read(move |c| get(c, &key)).await
    }

    /// True when every key exists (the ancestors of a contained path).
    pub async fn all_exist(self: &Arc<Self>, keys: Vec<Key>) -> Result<Option<Key>, StoreError> {
        self.read(move |c| {
            for key in keys {
                if get(c, &key)?.is_none() {
                    return Ok(Some(key));
                }
            }
            Ok(None)
        })
        .await
    }

    pub async fn page(self: &Arc<Self>, req: PageRequest<'_>) -> Result<Vec<Row>, StoreError> {
        let (tenant, collection, parent) = (
            req.tenant.to_string(),
            req.collection.to_string(),
            req.parent.to_string(),
        );
        let (after, limit) = (req.after_seq.unwrap_or(0), req.limit as i64);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, id, type_name, body FROM entity
                 WHERE tenant = ?1 AND collection = ?2 AND parent = ?3 AND seq > ?4 ORDER BY seq LIMIT ?5",
            )?;
            let rows = stmt.query_map(params![tenant, collection, parent, after, limit], |r| {
                Ok(Row {
                    seq: r.get(0)?,
                    key: Key {
                        tenant: tenant.clone(),
                        collection: collection.clone(),
                        parent: parent.clone(),
                        id: r.get(1)?,
                    },
                    type_name: r.get(2)?,
                    body: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn count(
        self: &Arc<Self>,
        tenant: &str,
        collection: &str,
        parent: &str,
    ) -> Result<u64, StoreError> {
        let (t, c, p) = (
            tenant.to_string(),
            collection.to_string(),
            parent.to_string(),
        );
        self.read(move |conn| {
            let n: i64 = conn
                .prepare_cached("SELECT count(*) FROM entity WHERE tenant = ?1 AND collection = ?2 AND parent = ?3")?
                .query_row(params![t, c, p], |r| r.get(0))?;
            Ok(n as u64)
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
        let path = format!("$.\"{}\"", property.replace('"', ""));
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT json_extract(body, ?4), count(*) FROM entity
                 WHERE tenant = ?1 AND collection = ?2 AND (?3 IS NULL OR parent = ?3) GROUP BY 1",
            )?;
            let rows = stmt.query_map(params![t, c, p, path], |r| {
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
        "SELECT seq, type_name, body FROM entity WHERE tenant = ?1 AND collection = ?2 AND parent = ?3 AND id = ?4",
    )?;
    let row = stmt
        .query_row(
            params![key.tenant, key.collection, key.parent, key.id],
            |r| {
                Ok(Row {
                    seq: r.get(0)?,
                    key: key.clone(),
                    type_name: r.get(1)?,
                    body: r.get(2)?,
                })
            },
        )
        .optional()?;
    Ok(row)
}

/// Takes a first job, then whatever else is already queued, and commits them in one transaction.
/// Each job runs inside its own savepoint so that one refused request leaves the others intact.
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
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    for job in jobs.iter_mut() {
        let run = std::mem::replace(&mut job.run, Box::new(|_| true));
        let savepoint_ok = tx.execute_batch("SAVEPOINT job").is_ok();
        let mut ops = SqliteTx { conn: &tx };
        // A panicking job is refused like a failing one; the writer thread lives on.
        let ok = savepoint_ok
            && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&mut ops)))
                .unwrap_or(false);
        let end = if ok {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        tx.execute_batch(end).map_err(|e| e.to_string())?;
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
                "INSERT INTO entity (tenant, collection, parent, id, type_name, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![key.tenant, key.collection, key.parent, key.id, type_name, body])?;
        Ok(())
    }

    fn update(&mut self, key: &Key, body: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("UPDATE entity SET body = ?5 WHERE tenant = ?1 AND collection = ?2 AND parent = ?3 AND id = ?4")?
            .execute(params![key.tenant, key.collection, key.parent, key.id, body])?;
        Ok(n > 0)
    }

    fn delete_tree(&mut self, key: &Key) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM entity WHERE tenant = ?1 AND collection = ?2 AND parent = ?3 AND id = ?4")?
            .execute(params![key.tenant, key.collection, key.parent, key.id])?;
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
            .prepare_cached(
                "SELECT id FROM entity WHERE tenant = ?1 AND collection = ?2 AND parent = ?3",
            )?
            .query_map(params![tenant, collection, parent], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        self.conn
            .prepare_cached(
                "DELETE FROM entity WHERE tenant = ?1 AND collection = ?2 AND parent = ?3",
            )?
            .execute(params![tenant, collection, parent])?;
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
    conn.prepare_cached(
        "DELETE FROM entity WHERE tenant = ?1
           AND collection >= ?2 || '/' AND collection < ?2 || '0'
           AND (parent = ?3 OR (parent >= ?3 || '/' AND parent < ?3 || '0'))",
    )?
    .execute(params![tenant, collection, path])?;
    Ok(())
}
