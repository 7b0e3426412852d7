//! Writes: the writer thread, which commits each group of jobs in one IMMEDIATE transaction with
//! a savepoint per job (none for a job alone), and the operations a job may run.

use super::checkpoint;
use super::durable::Syncer;
use super::read::{exists, get, members, page};
use super::readers::Sweeper;
use super::row_cache::{RowCache, Touched};
use super::schedule;
use crate::store::packing;
use crate::store::slots::{self, Layout, Slot, Slots};
use crate::store::sql::{in_table, in_table_cached};
use crate::store::tables::{self, SHARED};
use crate::store::writer::{self, GroupNotes, Job};
use crate::store::written::{GroupsEnded, Written};
use crate::store::{
    child_path, Derived, DueItem, Key, PageRow, Query, ReadyBody, Row, StoreError, WriteMark,
    WriteTx,
};
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, ToSql};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Starts the writer thread on `conn`; `wal` is the log it keeps short and has synced before it
/// answers (`durable`), `slots` the columns it keeps beside the bodies, `ended` the count of
/// its groups that readers take marks from.
pub fn start(
    conn: Connection,
    wal: PathBuf,
    slots: Arc<Slots>,
    sweeper: Arc<Sweeper>,
    ended: Arc<GroupsEnded>,
    ready: Arc<checkpoint::RestartReady>,
    rows: Arc<RowCache>,
) -> Result<mpsc::Sender<Job>, StoreError> {
    let (tx, rx) = mpsc::channel(4096);
    let syncer = Syncer::start(wal.clone())?;
    let log = WriterLog::new(&conn, ended, rows)?;
    let restart = checkpoint::Restart {
        wal,
        sweeper,
        ready,
    };
    std::thread::Builder::new()
        .name("complyd-writer".into())
        .spawn(move || write_loop(conn, rx, &slots, &syncer, &restart, log))
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(tx)
}

/// The keys each group wrote (`store/written.rs`), and what tells another connection's commits.
struct WriterLog {
    written: Written,
    /// The scopes registered (`tables::Scopes`).
    scopes: tables::Scopes,
    ended: Arc<GroupsEnded>,
    /// `PRAGMA data_version` when the last group began: it moves only with other connections'
    /// commits (another process on the folder).
    data_version: i64,
    /// The readers' row cache, and the rows this group wrote, which it drops before the commit.
    rows: Arc<RowCache>,
    touched: Touched,
}

impl WriterLog {
    fn new(
        conn: &Connection,
        ended: Arc<GroupsEnded>,
        rows: Arc<RowCache>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            written: Written::default(),
            scopes: tables::Scopes::default(),
            ended,
            data_version: data_version(conn)?,
            rows,
            touched: Touched::default(),
        })
    }

    /// Begins a group inside its transaction, where the version includes every commit before it.
    fn begin_group(&mut self, conn: &Connection) -> Result<(), StoreError> {
        let version = data_version(conn)?;
        self.written
            .begin_group(&self.ended, version != self.data_version);
        self.data_version = version;
        self.touched.clear();
        Ok(())
    }
}

fn data_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

fn write_loop(
    mut conn: Connection,
    rx: mpsc::Receiver<Job>,
    slots: &Slots,
    syncer: &Syncer,
    restart: &checkpoint::Restart,
    mut log: WriterLog,
) {
    let commit = |jobs: &mut [Job]| {
        if let Some(failure) = syncer.failure() {
            return Err(failure);
        }
        let outcome = commit_group(&mut conn, jobs, slots, &mut log);
        restart.if_long(&conn);
        outcome
    };
    let answer = |answers, outcome| match outcome {
        Ok(()) => syncer.answer_when_durable(answers),
        Err(e) => writer::answer_now(answers, Err(e)),
    };
    writer::run_writer(rx, commit, answer);
}

fn commit_group(
    conn: &mut Connection,
    jobs: &mut [Job],
    slots: &Slots,
    log: &mut WriterLog,
) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock up front, where the busy handler applies; a deferred
    // transaction upgrading from a read can fail at once when the checkpointer is busy.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    log.begin_group(&tx)?;
    log.scopes.begin_group();
    let mut notes = GroupNotes::default();
    // A job alone in its group needs no savepoint: the transaction is its savepoint. Inside an
    // open savepoint SQLite keeps every statement's journal until the savepoint ends, so a long
    // job (a fleet's rows, a re-evaluation batch) would copy each page it touches once per
    // statement, into a temporary file once past 1 MiB; outside one, each statement's journal is
    // dropped when the statement ends.
    let savepoints = jobs.len() > 1;
    for job in jobs.iter_mut() {
        let mark = log.scopes.mark();
        let savepoint_ok = !savepoints
            || tx
                .prepare_cached("SAVEPOINT job")
                .and_then(|mut st| st.execute([]))
                .is_ok();
        let ok = savepoint_ok
            && job.run_in(&mut SqliteTx {
                conn: &tx,
                notes: &mut notes,
                slots,
                written: &mut log.written,
                touched: &mut log.touched,
                scopes: &mut log.scopes,
            });
        if !ok {
            log.scopes.refused(mark);
        }
        if savepoints {
            if !ok {
                tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
            }
            tx.prepare_cached("RELEASE job")?.execute([])?;
        } else if !ok {
            // The job was the whole transaction.
            tx.rollback()?;
            log.ended.ended();
            return Ok(());
        }
    }
    // Published now, on disk when the syncer has synced the log (`write_loop` answers then).
    // This connection never checkpoints inside a commit (`wal_autocheckpoint` is 0), so the only
    // WAL sync deferred here is the commit's own.
    // The row cache drops what the group wrote first, and takes the new state after.
    let before = wal_buffer::wal_index_header(&tx);
    log.rows.before_commit(before, &log.touched);
    let committed = wal_buffer::deferring_wal_sync(|| tx.commit());
    if let Err(e) = committed {
        log.rows.commit_failed();
        return Err(e.into());
    }
    log.rows
        .after_commit(before, wal_buffer::wal_index_header(conn));
    log.scopes.committed();
    log.ended.ended();
    Ok(())
}

pub struct SqliteTx<'c> {
    pub conn: &'c Connection,
    pub notes: &'c mut GroupNotes,
    pub slots: &'c Slots,
    pub written: &'c mut Written,
    pub touched: &'c mut Touched,
    pub scopes: &'c mut tables::Scopes,
}

impl SqliteTx<'_> {
    fn wrote_row(&mut self, key: &Key) {
        self.written.row(key);
        self.touched.row(key);
    }

    /// `root` and every row under it.
    fn wrote_tree(&mut self, root: &Key) {
        self.written.tree(root);
        self.touched.tree(root);
    }

    /// Rows the logs cannot name (a collection or a tenant cleared).
    fn wrote_unnamed(&mut self) {
        self.written.unnamed_write();
        self.touched.everything();
    }

    /// Inserts `body`, with its slot source picked ahead (`derive`), or picking it now.
    fn insert_row(
        &mut self,
        key: &Key,
        type_name: &str,
        body: &str,
        derived: Option<&Derived>,
    ) -> Result<(), StoreError> {
        self.wrote_row(key);
        let layout = self.slots.layout(&key.collection);
        let stored = StoredBody::of(&layout, body);
        if layout.own_table.is_some() {
            self.scopes.register(self.conn, &key.tenant, &key.parent)?;
        }
        let Some(slots) = &layout.slots else {
            self.conn
                .prepare_cached(&in_table_cached(
                    "INSERT INTO {T} (tenant, collection, parent, id, type_name, body, shape{SC}) VALUES (?1, {C}, ?2, ?3, ?4, ?5, 1{SV})",
                    &key.collection,
                    layout.table(),
                )?)?
                .execute(params![key.tenant, key.parent, key.id, type_name, stored])?;
            return Ok(());
        };
        let source = match derived {
            Some(d) => Cow::Borrowed(d.slot_source.as_deref().unwrap_or(body)),
            None => slots::source(slots, body),
        };
        self.conn
            .prepare_cached(&in_table(
                &insert_with(slots),
                &key.collection,
                layout.table(),
            )?)?
            .execute(params![
                key.tenant,
                key.parent,
                key.id,
                type_name,
                stored,
                source.as_ref()
            ])?;
        Ok(())
    }
}

/// `text`, a new body of `collection`, with its slot source picked now.
pub fn derive(slots: &Slots, collection: &str, text: String) -> ReadyBody {
    let slot_source = slots
        .of(collection)
        .and_then(|s| match slots::source(&s, &text) {
            Cow::Owned(picked) => Some(picked),
            Cow::Borrowed(_) => None,
        });
    ReadyBody::derived(
        text,
        Derived {
            collection: collection.to_string(),
            slot_source,
        },
    )
}

impl WriteTx for SqliteTx<'_> {
    fn group_notes(&mut self) -> Option<&mut GroupNotes> {
        Some(self.notes)
    }

    fn unwritten_since(&mut self, mark: WriteMark, keys: &[&Key]) -> bool {
        self.written.unwritten_since(mark, keys)
    }

    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError> {
        get(self.conn, key, self.slots)
    }

    fn exists(&mut self, key: &Key) -> Result<bool, StoreError> {
        exists(self.conn, key, self.slots)
    }

    fn insert(&mut self, key: &Key, type_name: &str, body: &str) -> Result<(), StoreError> {
        self.insert_row(key, type_name, body, None)
    }

    fn insert_ready(
        &mut self,
        key: &Key,
        type_name: &str,
        body: &ReadyBody,
    ) -> Result<(), StoreError> {
        self.insert_row(
            key,
            type_name,
            body.text(),
            body.derived_for(&key.collection),
        )
    }

    fn update(&mut self, key: &Key, body: &str) -> Result<bool, StoreError> {
        self.wrote_row(key);
        let layout = self.slots.layout(&key.collection);
        let stored = StoredBody::of(&layout, body);
        match &layout.slots {
            Some(slots) => update_with(self.conn, key, body, stored, slots, layout.table()),
            None => {
                let n = self
                    .conn
                    .prepare_cached(&in_table_cached(
                        "UPDATE {T} SET body = ?4, shape = 1 WHERE {P} AND id = ?3",
                        &key.collection,
                        layout.table(),
                    )?)?
                    .execute(params![key.tenant, key.parent, key.id, stored])?;
                Ok(n > 0)
            }
        }
    }

    fn delete_tree(&mut self, key: &Key) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached(&in_table_cached(
                "DELETE FROM {T} WHERE {P} AND id = ?3",
                &key.collection,
                self.slots.table(&key.collection),
            )?)?
            .execute(params![key.tenant, key.parent, key.id])?;
        if n > 0 {
            self.wrote_tree(key);
            delete_descendants(
                self.conn,
                self.slots,
                &key.tenant,
                &key.collection,
                &key.child_parent(),
            )?;
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
        members(
            self.conn,
            self.slots.table(collection),
            tenant,
            collection,
            parent,
            limit,
        )
    }

    fn clear_collection(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
    ) -> Result<(), StoreError> {
        self.wrote_unnamed();
        let ids: Vec<String> = self
            .conn
            .prepare_cached(&in_table_cached(
                "SELECT id FROM {T} WHERE {P}",
                collection,
                self.slots.table(collection),
            )?)?
            .query_map(params![tenant, parent], |r| r.get("id"))?
            .collect::<Result<_, _>>()?;
        self.conn
            .prepare_cached(&in_table_cached(
                "DELETE FROM {T} WHERE {P}",
                collection,
                self.slots.table(collection),
            )?)?
            .execute(params![tenant, parent])?;
        for id in ids {
            let path = child_path(parent, &id);
            delete_descendants(self.conn, self.slots, tenant, collection, &path)?;
        }
        Ok(())
    }

    fn delete_everywhere(
        &mut self,
        tenant: &str,
        collection: &str,
        id: &str,
    ) -> Result<u64, StoreError> {
        self.wrote_unnamed();
        let n = self
            .conn
            .prepare_cached(&in_table_cached(
                "DELETE FROM {T} WHERE id = ?2 AND tenant = ?1 AND collection = {C}",
                collection,
                self.slots.table(collection),
            )?)?
            .execute(params![tenant, id])?;
        Ok(n as u64)
    }

    fn query(&mut self, q: &Query) -> Result<Vec<PageRow>, StoreError> {
        page(self.conn, q, self.slots.layout(&q.collection))
    }

    fn delete_tenant(&mut self, tenant: &str) -> Result<u64, StoreError> {
        self.wrote_unnamed();
        let mut n = 0;
        for table in self.slots.all_tables() {
            // A table of its own finds the tenant's rows by their scopes.
            let rows = if table == SHARED {
                "tenant = ?1".to_string()
            } else {
                tables::tenant_scopes("?1", "true")
            };
            n += self
                .conn
                .prepare_cached(&format!("DELETE FROM {table} WHERE {rows}"))?
                .execute(params![tenant])?;
        }
        // The triggers took every count to zero; the rows go too.
        self.conn
            .prepare_cached("DELETE FROM entity_count WHERE tenant = ?1")?
            .execute(params![tenant])?;
        schedule::delete_tenant(self.conn, tenant)?;
        Ok(n as u64)
    }

    fn due_put(&mut self, item: &DueItem) -> Result<(), StoreError> {
        schedule::put(self.conn, item)
    }

    fn due_cancel(
        &mut self,
        tenant: &str,
        device: &str,
        policy: Option<&str>,
    ) -> Result<u64, StoreError> {
        schedule::cancel(self.conn, tenant, device, policy)
    }

    fn due_take(
        &mut self,
        tenant: &str,
        until: i64,
        limit: usize,
    ) -> Result<Vec<DueItem>, StoreError> {
        schedule::take(self.conn, tenant, until, limit)
    }

    fn due_done(&mut self, tenant: &str, id: &str) -> Result<(), StoreError> {
        schedule::done(self.conn, tenant, id)
    }

    fn due_next(&mut self, after: &str) -> Result<Option<(String, i64)>, StoreError> {
        schedule::next(self.conn, after)
    }

    fn due_first(&mut self, tenant: &str) -> Result<Option<i64>, StoreError> {
        schedule::first(self.conn, tenant)
    }

    fn due_pending(&mut self, tenant: &str) -> Result<(u64, Option<i64>), StoreError> {
        schedule::pending(self.conn, tenant)
    }
}

/// A body as the row keeps it: the text, or packed where the collection's layout says so.
enum StoredBody<'b> {
    Text(&'b str),
    Packed(Vec<u8>),
}

impl<'b> StoredBody<'b> {
    fn of(layout: &Layout, body: &'b str) -> Self {
        match layout.packed {
            Some(dictionary) => Self::Packed(packing::pack(body, dictionary)),
            None => Self::Text(body),
        }
    }
}

impl ToSql for StoredBody<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Text(text) => ValueRef::Text(text.as_bytes()),
            Self::Packed(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

/// An insert into a collection with slot columns, each computed from `?6`: the new body's text,
/// or only the members the slots read (`slots::source`).
fn insert_with(slots: &[Slot]) -> String {
    let columns: String = slots.iter().map(|s| format!(", {}", s.column)).collect();
    let values: String = slots
        .iter()
        .map(|s| format!(", {}", s.over("?6")))
        .collect();
    format!(
        "INSERT INTO {{T}} (tenant, collection, parent, id, type_name, body, shape{columns}{{SC}}) VALUES (?1, {{C}}, ?2, ?3, ?4, ?5, 1{values}{{SV}})"
    )
}

/// An update in a collection with slot columns: the stored slots and the new body's values are
/// read first, and only the slots whose values changed are written, so that the indexes over the
/// others are left alone. False when no such entity exists.
fn update_with(
    conn: &Connection,
    key: &Key,
    body: &str,
    stored: StoredBody<'_>,
    slots: &[Slot],
    table: &str,
) -> Result<bool, StoreError> {
    let held: String = slots.iter().map(|s| format!(", {}", s.column)).collect();
    let new: String = slots
        .iter()
        .map(|s| format!(", {}", s.over("?4")))
        .collect();
    let read = in_table(
        &format!("SELECT seq{held}{new} FROM {{T}} WHERE {{P}} AND id = ?3"),
        &key.collection,
        table,
    )?;
    let n = slots.len();
    let found = conn
        .prepare_cached(&read)?
        .query_row(
            params![
                key.tenant,
                key.parent,
                key.id,
                slots::source(slots, body).as_ref()
            ],
            |r| {
                let seq: i64 = r.get(0)?;
                let mut changed = Vec::new();
                for i in 0..n {
                    let (old, new): (SqlValue, SqlValue) = (r.get(1 + i)?, r.get(1 + n + i)?);
                    if old != new {
                        changed.push((i, new));
                    }
                }
                Ok((seq, changed))
            },
        )
        .optional()?;
    let Some((seq, changed)) = found else {
        return Ok(false);
    };
    let sets: String = changed
        .iter()
        .enumerate()
        .map(|(p, (i, _))| format!(", {} = ?{}", slots[*i].column, p + 3))
        .collect();
    let mut values: Vec<&dyn ToSql> = vec![&seq, &stored];
    values.extend(changed.iter().map(|(_, v)| v as &dyn ToSql));
    conn.prepare_cached(&format!(
        "UPDATE {table} SET body = ?2, shape = 1{sets} WHERE seq = ?1"
    ))?
    .execute(params_from_iter(values))?;
    Ok(true)
}

/// Rows in collections below `collection` whose parent path is `path` or lies under it, in the
/// shared table and in the tables of their own of the collections below it.
/// The ranges `[x/, x0)` select every string that starts with `x/` ('0' follows '/').
fn delete_descendants(
    conn: &Connection,
    slots: &Slots,
    tenant: &str,
    collection: &str,
    path: &str,
) -> Result<(), StoreError> {
    let below = slots.own_tables_below(collection).map(|t| &*t.name);
    let under = "(parent = ?2 OR (parent >= ?2 || '/' AND parent < ?2 || '0'))";
    for table in std::iter::once(SHARED).chain(below) {
        // A table of its own finds them by their scopes.
        let rows = if table == SHARED {
            format!("tenant = ?1 AND {under}")
        } else {
            tables::tenant_scopes("?1", under)
        };
        conn.prepare_cached(&in_table(
            &format!("DELETE FROM {{T}} WHERE {rows} AND collection >= {{C}} || '/' AND collection < {{C}} || '0'"),
            collection,
            table,
        )?)?
        .execute(params![tenant, path])?;
    }
    Ok(())
}
