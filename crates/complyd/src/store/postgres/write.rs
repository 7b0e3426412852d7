//! Writes: group commit over a connection that is re-established after a failure, and the
//! operations a job may run (reads inside a job lock their rows).

use super::connection::{connect, Conn};
use super::read::{get, page};
use super::schedule;
use crate::store::sql::in_collection;
use crate::store::writer::{self, GroupNotes, Job};
use crate::store::{child_path, DueItem, Key, PageRow, Query, Row, StoreError, WriteTx};
use postgres::types::ToSql;
use tokio::sync::mpsc;

/// Starts the writer thread, which connects with `config` when it first needs to.
pub fn start(config: postgres::Config) -> Result<mpsc::Sender<Job>, StoreError> {
    let (tx, rx) = mpsc::channel(4096);
    std::thread::Builder::new()
        .name("complyd-pg-writer".into())
        .spawn(move || write_loop(config, rx))
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(tx)
}

fn write_loop(config: postgres::Config, rx: mpsc::Receiver<Job>) {
    let mut conn: Option<Conn> = None;
    let commit = |jobs: &mut [Job]| {
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
    };
    // PostgreSQL has the commit on disk before it reports it.
    writer::run_writer(rx, commit, writer::answer_now);
}

/// Held by each group's transaction: the instances on one database commit their groups one at a
/// time. A group runs many clients' jobs, each locking rows (a parent it checks, the counters its
/// rows move) in the order the jobs came; two groups taking the same rows in different orders on
/// two instances would deadlock, and PostgreSQL would abort one of them after a second.
const WRITERS_LOCK: i64 = 0x0063_6f6d_706c_7977;

fn commit_group(c: &mut Conn, jobs: &mut [Job]) -> Result<(), StoreError> {
    c.client.batch_execute("BEGIN")?;
    let result = (|| -> Result<(), StoreError> {
        let lock = c.statement("SELECT pg_advisory_xact_lock($1)")?;
        c.client.execute(&lock, &[&WRITERS_LOCK])?;
        let mut notes = GroupNotes::default();
        // A job alone in its group needs no savepoint (two round trips): the transaction is it.
        let savepoints = jobs.len() > 1;
        for job in jobs.iter_mut() {
            if savepoints {
                c.client.batch_execute("SAVEPOINT job")?;
            }
            let ok = job.run_in(&mut PgTx {
                conn: c,
                failed: None,
                notes: &mut notes,
            });
            // A job that failed on a database error leaves the transaction aborted until rollback.
            if savepoints {
                c.client.batch_execute(if ok {
                    "RELEASE SAVEPOINT job"
                } else {
                    "ROLLBACK TO SAVEPOINT job"
                })?;
            } else if !ok {
                // The job was the whole transaction.
                c.client.batch_execute("ROLLBACK")?;
                return Ok(());
            }
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
    notes: &'c mut GroupNotes,
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

    /// Runs `op`, noting its failure (the transaction is aborted until the job's rollback).
    fn noting<T>(
        &mut self,
        op: impl FnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        op(self.conn).inspect_err(|e| self.failed = Some(e.clone()))
    }

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

impl WriteTx for PgTx<'_> {
    fn group_notes(&mut self) -> Option<&mut GroupNotes> {
        Some(self.notes)
    }

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

    fn members(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        super::read::members(self.conn, tenant, collection, parent, limit)
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
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        self.execute(
            "DELETE FROM entity WHERE tenant = $1 AND collection = {C} AND parent = $2",
            collection,
            &[&tenant, &parent],
        )?;
        for id in ids {
            self.delete_descendants(tenant, collection, &child_path(parent, &id))?;
        }
        Ok(())
    }

    fn delete_everywhere(
        &mut self,
        tenant: &str,
        collection: &str,
        id: &str,
    ) -> Result<u64, StoreError> {
        self.execute(
            "DELETE FROM entity WHERE id = $2 AND tenant = $1 AND collection = {C}",
            collection,
            &[&tenant, &id],
        )
    }

    fn query(&mut self, q: &Query) -> Result<Vec<PageRow>, StoreError> {
        page(self.conn, q).inspect_err(|e| self.failed = Some(e.clone()))
    }

    fn hold(&mut self, name: &str) -> Result<(), StoreError> {
        // A transaction-scoped advisory lock on a stable 64-bit hash of the name (FNV-1a).
        let key = crate::common::fnv1a(name.as_bytes()) as i64;
        let statement = self.conn.statement("SELECT pg_advisory_xact_lock($1)")?;
        self.conn
            .client
            .execute(&statement, &[&key])
            .map(|_| ())
            .map_err(|e| {
                let e = StoreError::from(e);
                self.failed = Some(e.clone());
                e
            })
    }

    fn delete_tenant(&mut self, tenant: &str) -> Result<u64, StoreError> {
        let rows = self
            .conn
            .statement("DELETE FROM entity WHERE tenant = $1")?;
        // The triggers took every count to zero; the rows go too.
        let counts = self
            .conn
            .statement("DELETE FROM entity_count WHERE tenant = $1")?;
        let deleted = self.conn.client.execute(&rows, &[&tenant]).and_then(|n| {
            self.conn.client.execute(&counts, &[&tenant])?;
            Ok(n)
        });
        let deleted = deleted.map_err(|e| {
            let e = StoreError::from(e);
            self.failed = Some(e.clone());
            e
        })?;
        self.noting(|c| schedule::delete_tenant(c, tenant))?;
        Ok(deleted)
    }

    fn due_put(&mut self, item: &DueItem) -> Result<(), StoreError> {
        self.noting(|c| schedule::put(c, item))
    }

    fn due_cancel(
        &mut self,
        tenant: &str,
        device: &str,
        policy: Option<&str>,
    ) -> Result<u64, StoreError> {
        self.noting(|c| schedule::cancel(c, tenant, device, policy))
    }

    fn due_take(
        &mut self,
        tenant: &str,
        until: i64,
        limit: usize,
    ) -> Result<Vec<DueItem>, StoreError> {
        self.noting(|c| schedule::take(c, tenant, until, limit))
    }

    fn due_done(&mut self, tenant: &str, id: &str) -> Result<(), StoreError> {
        self.noting(|c| schedule::done(c, tenant, id))
    }

    fn due_next(&mut self, after: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.noting(|c| schedule::next(c, after))
    }

    fn due_first(&mut self, tenant: &str) -> Result<Option<i64>, StoreError> {
        self.noting(|c| schedule::first(c, tenant))
    }

    fn due_pending(&mut self, tenant: &str) -> Result<(u64, Option<i64>), StoreError> {
        self.noting(|c| schedule::pending(c, tenant))
    }
}
