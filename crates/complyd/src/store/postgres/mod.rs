//! The shared store: PostgreSQL, for several stateless complyd instances. The same shape as the
//! SQLite store — one writer thread committing groups, a pool of readers — over the synchronous
//! `postgres` client, which runs only on threads of its own (the writer, or blocking tasks).
//! A lost connection is answered with `Unavailable` (503) and re-established on the next use.
//!
//! `connection` is one connection and the value conversions; `read` is the reader pool and every
//! query; `write` is the writer thread and the write transaction.

mod connection;
mod read;
pub mod relay;
mod schedule;
mod write;

use super::counts::{self, ModelCount};
use super::generated;
use super::indexes::{self, ModelIndex};
use super::slots::Layout;
use super::sql::{self, Dialect};
use super::writer::{self, Job, JobFn};
use super::{CountBy, Found, Key, PageRow, Query, Read, Row, Store, StoreError, StoreFuture};
use connection::connect;
use postgres::error::SqlState;
use read::Pool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/postgres/0001_entities.sql"),
    // The same statements as SQLite's.
    include_str!("../migrations/0004_key_index_by_id.sql"),
    include_str!("../migrations/0005_model_indexes.sql"),
    include_str!("../migrations/postgres/0006_counts.sql"),
    include_str!("../migrations/postgres/0007_schedule.sql"),
    include_str!("../migrations/0008_coverage.sql"),
];
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
            // Instances sharing the database lock the same rows (kept counts, a tenant's
            // engine lock) in different orders now and then; the database breaks the cycle.
            Some(c)
                if *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
            {
                StoreError::Contended(e.to_string())
            }
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

pub struct PgStore {
    writer: mpsc::Sender<Job>,
    pool: Arc<Pool>,
    /// What the database counts (`counts`).
    counts: Arc<[ModelCount]>,
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
pub fn migrate(
    config: &postgres::Config,
    indexes: &[ModelIndex],
    counts: &[ModelCount],
) -> Result<usize, StoreError> {
    let mut conn = connect(config)?;
    let client = &mut conn.client;
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let result = (|| -> Result<usize, StoreError> {
        client.batch_execute(
            "CREATE TABLE IF NOT EXISTS complyd_schema (version INTEGER PRIMARY KEY)",
        )?;
        let current: i32 = client
            .query_one(
                "SELECT COALESCE(max(version), 0) AS version FROM complyd_schema",
                &[],
            )?
            .try_get("version")?;
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
        Ok(applied
            + generated::sync_postgres(client, &indexes::INDEXES, indexes)?
            + generated::sync_postgres(client, &counts::COUNTS, counts)?)
    })();
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
    result
}

impl PgStore {
    /// Connects (migrating first) and starts the writer. Blocking: call it off the async threads.
    pub fn open(
        url: &str,
        indexes: &[ModelIndex],
        counts: &[ModelCount],
    ) -> Result<Self, StoreError> {
        let config = config(url)?;
        migrate(&config, indexes, counts)?;
        let writer = write::start(config.clone())?;
        Ok(Self {
            writer,
            pool: Arc::new(Pool::new(config)),
            counts: counts.into(),
        })
    }
}

impl Store for PgStore {
    fn submit(&self, job: JobFn) -> StoreFuture<'_, ()> {
        StoreFuture::pending(writer::submit(&self.writer, job))
    }

    fn get<'a>(&'a self, key: &'a Key) -> StoreFuture<'a, Option<Row>> {
        let key = key.clone();
        self.pool.run(move |c| read::get(c, &key, false))
    }

    fn all_exist(&self, keys: Vec<Key>) -> StoreFuture<'_, Option<Key>> {
        self.pool.run(move |c| read::first_missing(c, keys))
    }

    fn query(&self, q: Query) -> StoreFuture<'_, Vec<PageRow>> {
        self.pool.run(move |c| read::page(c, &q))
    }

    fn count_matching(&self, q: Query) -> StoreFuture<'_, u64> {
        self.pool.run(move |c| read::count(c, &q))
    }

    fn count_by<'a>(&'a self, groups: CountBy<'a>) -> StoreFuture<'a, Vec<(String, u64)>> {
        match sql::count_by_in(Dialect::Postgres, &groups, &self.counts, Layout::default()) {
            Ok(sql) => self.pool.run(move |c| read::count_by(c, &sql)),
            Err(e) => StoreFuture::ready(Err(e)),
        }
    }

    /// In one REPEATABLE READ transaction: the reads share its snapshot.
    fn read_together(&self, reads: Vec<Read>) -> StoreFuture<'_, Vec<Found>> {
        match sql::plan_reads(reads, Dialect::Postgres, &self.counts, None) {
            Ok(planned) => self.pool.run(move |c| read::together(c, &planned)),
            Err(e) => StoreFuture::ready(Err(e)),
        }
    }

    fn scan(&self, after_seq: i64, limit: usize) -> StoreFuture<'_, Vec<Row>> {
        self.pool.run(move |c| read::scan(c, after_seq, limit))
    }

    fn explain(&self, q: Query) -> StoreFuture<'_, Vec<String>> {
        self.pool.run(move |c| read::explain(c, &q))
    }

    /// Whether the store can serve: the writer runs and PostgreSQL answers on the probe's
    /// connection.
    fn ping(&self) -> StoreFuture<'_, ()> {
        if self.writer.is_closed() {
            return StoreFuture::ready(Err(StoreError::Unavailable(
                "the writer has stopped".into(),
            )));
        }
        self.pool.probe()
    }

    fn queued_writes(&self) -> usize {
        writer::queued(&self.writer)
    }

    fn pool_use(&self) -> Option<(usize, usize)> {
        Some((self.pool.busy(), read::READERS))
    }

    fn is_shared(&self) -> bool {
        true
    }
}
