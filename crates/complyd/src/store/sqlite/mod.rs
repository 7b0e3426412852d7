//! The embedded store: SQLite in WAL mode, one writer thread that commits requests in groups,
//! and a small pool of reader connections.
//!
//! `connection` opens and configures a connection; `readers` is the reader pool and its
//! snapshots; `read` is every query; `write` is the writer thread and the write transaction;
//! `checkpoint` keeps the WAL short.

mod checkpoint;
mod connection;
mod durable;
mod read;
mod readers;
mod row_cache;
mod schedule;
#[cfg(test)]
mod tests;
mod write;

use super::counts::{self, ModelCount};
use super::generated;
use super::indexes::{self, ModelIndex};
use super::slots::Slots;
use super::sql::{self, Dialect};
use super::tables;
use super::writer::{self, Job, JobFn};
use super::written::GroupsEnded;
use super::{
    CountBy, Found, Key, PageRow, Query, Read, ReadyBody, Row, Store, StoreError, StoreFuture,
    WriteMark,
};
use readers::{Readers, Sweeper};
use row_cache::{Looked, RowCache};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_entities.sql"),
    include_str!("../migrations/0002_query_indexes.sql"),
    include_str!("../migrations/0003_row_shape.sql"),
    include_str!("../migrations/0004_key_index_by_id.sql"),
    include_str!("../migrations/0005_model_indexes.sql"),
    include_str!("../migrations/0006_counts.sql"),
    include_str!("../migrations/0007_schedule.sql"),
    include_str!("../migrations/0008_coverage.sql"),
    include_str!("../migrations/0009_slots.sql"),
    include_str!("../migrations/0010_own_tables.sql"),
    include_str!("../migrations/0011_scopes.sql"),
];
const READERS: usize = 4;
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub struct SqliteStore {
    writer: mpsc::Sender<Job>,
    readers: Arc<Readers>,
    /// Dropped with the store, which tells the checkpoint thread to stop.
    _alive: Arc<()>,
    /// The database file, and which file it was when opened (see `check`).
    path: PathBuf,
    file_id: Option<FileId>,
    /// What the database counts (`counts`).
    counts: Arc<[ModelCount]>,
    /// The slot columns of each collection (`slots`).
    slots: Arc<Slots>,
    /// The writer's groups ended, for read marks (`store/written.rs`).
    ended: Arc<GroupsEnded>,
    /// Rows read by key, for the next read of the same key (`row_cache`).
    rows: Arc<RowCache>,
}

/// The row cache's bound: `COMPLYD_ROW_CACHE_MIB` (0 turns it off), else the default.
fn row_cache_budget() -> Result<usize, StoreError> {
    match std::env::var("COMPLYD_ROW_CACHE_MIB") {
        Err(_) => Ok(row_cache::DEFAULT_BUDGET_BYTES),
        Ok(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|mib| *mib <= 65_536)
            .map(|mib| mib << 20)
            .ok_or_else(|| {
                StoreError::Backend(format!(
                    "COMPLYD_ROW_CACHE_MIB is '{text}': give a whole number of MiB from 0 to 65536"
                ))
            }),
    }
}

/// A file's device and inode: the same path may come to name another file.
type FileId = (u64, u64);

fn file_id(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| id_of(&m))
}

#[cfg(unix)]
fn id_of(meta: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn id_of(_meta: &std::fs::Metadata) -> FileId {
    (0, 0)
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

/// Applies each migration in its own IMMEDIATE transaction, reading the schema version under
/// the write lock: processes starting together on one folder migrate once.
/// Returns how many it applied.
fn migrate(conn: &mut Connection) -> Result<usize, StoreError> {
    let mut applied = 0;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: usize =
            tx.pragma_query_value(None, "user_version", |r| r.get("user_version"))?;
        if current <= index {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index + 1)?;
            applied += 1;
        }
        tx.commit()?;
    }
    Ok(applied)
}

impl SqliteStore {
    /// Opens (creating if needed) `complyd.db` in `dir` and brings its schema up to date: the
    /// generated `indexes` over the `slots` columns, and the `counts`.
    pub fn open(
        dir: &Path,
        indexes: &[ModelIndex],
        slots: Slots,
        counts: &[ModelCount],
    ) -> Result<Self, StoreError> {
        // Refused before the folder is touched.
        let row_budget = row_cache_budget()?;
        let slots = Arc::new(slots);
        let path = dir.join("complyd.db");
        let mut writer_conn = connection::open(&path)?;
        // Rows move to their tables before the generated indexes and counts over them are made.
        let changed = migrate(&mut writer_conn)?
            + tables::sync_sqlite(&mut writer_conn, &slots)?
            + generated::sync_sqlite(&mut writer_conn, &indexes::INDEXES, indexes)?
            + generated::sync_sqlite(&mut writer_conn, &counts::COUNTS, counts)?;
        if changed > 0 {
            // A migration may rewrite whole indexes into the WAL; every later start would
            // otherwise read them back to rebuild the WAL index until a checkpoint caught up.
            checkpoint::truncate_wal(&writer_conn, BUSY_TIMEOUT)?;
        }
        // Checkpoints run on their own thread, not inside a commit.
        writer_conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let alive = Arc::new(());
        let restart_ready = checkpoint::start(connection::open(&path)?, Arc::downgrade(&alive))?;
        let readers = (0..READERS)
            .map(|_| connection::open(&path))
            .collect::<Result<_, _>>()?;
        let sweeper = Arc::new(Sweeper::default());
        let ended = Arc::new(GroupsEnded::default());
        let rows = Arc::new(RowCache::new(row_budget));
        let writer = write::start(
            writer_conn,
            dir.join("complyd.db-wal"),
            slots.clone(),
            sweeper.clone(),
            Arc::clone(&ended),
            restart_ready,
            Arc::clone(&rows),
        )?;
        Ok(Self {
            writer,
            readers: Readers::start(readers, sweeper)?,
            _alive: alive,
            file_id: file_id(&path),
            counts: counts.into(),
            slots,
            path,
            ended,
            rows,
        })
    }

    /// Whether the store can serve: the writer runs, the data folder still holds the database
    /// file this store has open (a deleted or replaced file keeps answering from the open
    /// handles, but nothing written now would be found after a restart), and a reader answers.
    fn check(&self) -> Result<(), StoreError> {
        if self.writer.is_closed() {
            return Err(StoreError::Unavailable("the writer has stopped".into()));
        }
        if file_id(&self.path) != self.file_id {
            return Err(StoreError::Unavailable(format!(
                "{} is no longer the database file this server opened",
                self.path.display()
            )));
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    fn submit(&self, job: JobFn) -> StoreFuture<'_, ()> {
        StoreFuture::pending(writer::submit(&self.writer, job))
    }

    /// A lookup by key, bounded by the key index: on the calling thread whenever a reader is free.
    /// A kept row answers without reading (`row_cache`); a row read fills it.
    fn get<'a>(&'a self, key: &'a Key) -> StoreFuture<'a, Option<Row>> {
        if let Some(mut reader) = self.readers.inline_unread() {
            let ticket = match self.rows.lookup(key, || reader.header()) {
                Looked::Hit(row) => return StoreFuture::ready(Ok(Some(row))),
                Looked::Miss(ticket) => ticket,
            };
            self.readers.reading(&mut reader);
            let got = read::get(&reader, key, &self.slots);
            if let Ok(Some(row)) = &got {
                let read_under = reader.snapshot_header();
                self.rows.fill(ticket, read_under, || reader.header(), row);
            }
            return StoreFuture::ready(got);
        }
        let (key, slots) = (key.clone(), Arc::clone(&self.slots));
        self.readers.blocking(move |c| read::get(c, &key, &slots))
    }

    fn all_exist(&self, keys: Vec<Key>) -> StoreFuture<'_, Option<Key>> {
        if let Some(conn) = self.readers.inline() {
            return StoreFuture::ready(read::first_missing(&conn, keys, &self.slots));
        }
        let slots = Arc::clone(&self.slots);
        self.readers
            .blocking(move |c| read::first_missing(c, keys, &slots))
    }

    fn query(&self, q: Query) -> StoreFuture<'_, Vec<PageRow>> {
        let layout = self.slots.layout(&q.collection);
        self.readers
            .bounded(move |c| read::page(c, &q, layout.clone()))
    }

    fn count_matching(&self, q: Query) -> StoreFuture<'_, u64> {
        let layout = self.slots.layout(&q.collection);
        self.readers
            .bounded(move |c| read::count(c, &q, layout.clone()))
    }

    fn count_by<'a>(&'a self, groups: CountBy<'a>) -> StoreFuture<'a, Vec<(String, u64)>> {
        match sql::count_by_in(
            Dialect::Sqlite,
            &groups,
            &self.counts,
            self.slots.layout(groups.collection),
        ) {
            Ok(sql) => self.readers.bounded(move |c| read::count_by(c, &sql)),
            Err(e) => StoreFuture::ready(Err(e)),
        }
    }

    /// In one read transaction, within the same budget as a single query.
    fn read_together(&self, reads: Vec<Read>) -> StoreFuture<'_, Vec<Found>> {
        match sql::plan_reads(reads, Dialect::Sqlite, &self.counts, Some(&self.slots)) {
            Ok(planned) => {
                let slots = Arc::clone(&self.slots);
                self.readers
                    .bounded(move |c| read::together(c, &planned, &slots))
            }
            Err(e) => StoreFuture::ready(Err(e)),
        }
    }

    fn scan(&self, after_seq: i64, limit: usize) -> StoreFuture<'_, Vec<Row>> {
        let slots = Arc::clone(&self.slots);
        self.readers
            .blocking(move |c| read::scan(c, after_seq, limit, &slots))
    }

    fn explain(&self, q: Query) -> StoreFuture<'_, Vec<String>> {
        let layout = self.slots.layout(&q.collection);
        self.readers.blocking(move |c| read::explain(c, &q, layout))
    }

    /// Picks the body's slot source here, on the request's thread.
    fn ready(&self, collection: &str, text: String) -> ReadyBody {
        write::derive(&self.slots, collection, text)
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        if let Err(e) = self.check() {
            return StoreFuture::ready(Err(e));
        }
        self.readers.blocking(read::ping)
    }

    /// Leaves the log empty, so that the next start has nothing to recover and the data folder
    /// is one file. Committed writes are durable without it.
    fn close(&self) -> StoreFuture<'_, ()> {
        self.readers.blocking_without_snapshots(|conn| {
            checkpoint::truncate_wal(conn, std::time::Duration::from_secs(2))
        })
    }

    fn queued_writes(&self) -> usize {
        writer::queued(&self.writer)
    }

    fn write_mark(&self) -> Option<WriteMark> {
        Some(self.ended.mark())
    }
}
