//! Schema objects generated from the model (query indexes, count triggers): named with a prefix
//! and a hash of their definition, so that at every start the store creates the declared ones
//! that are missing and drops the generated ones no longer declared.

use super::sql::{self, Dialect};
use super::StoreError;
use rusqlite::OptionalExtension;

/// One generated object (or set of objects sharing a name).
pub trait Generated {
    /// Its name in `dialect`'s schema (the two may differ where their definitions do).
    fn name(&self, dialect: Dialect) -> &str;
    /// The statements that create it (dropping any partial remains of it first).
    fn create_sql(&self, dialect: Dialect) -> String;
    /// Statements SQLite runs once before creating `created` (what they need in the rows), each
    /// with the table it updates, over the rows with `?1 <= seq < ?2`, range by range.
    fn prepare_sqlite(created: &[&Self]) -> Vec<(String, String)>
    where
        Self: Sized,
    {
        let _ = created;
        Vec::new()
    }
}

/// How to find and drop the generated objects of one kind.
pub struct Kind {
    /// Lists the present objects' names; `?1` / `$1` is the prefix.
    pub list_sqlite: &'static str,
    pub list_postgres: &'static str,
    /// The objects' common names, from the listed names.
    pub names: fn(Vec<String>) -> Vec<String>,
    /// The statements that drop what goes by a common name.
    pub drop_sql: fn(&str, Dialect) -> String,
    pub prefix: &'static str,
}

/// What to change: present objects to drop (no longer declared) and declared ones to create.
pub(super) fn plan<'a, T: Generated>(
    present: &[String],
    declared: &'a [T],
    dialect: Dialect,
) -> (Vec<String>, Vec<&'a T>) {
    let drop = present
        .iter()
        .filter(|name| sql::is_plain(name) && !declared.iter().any(|d| d.name(dialect) == *name))
        .cloned()
        .collect();
    let create = declared
        .iter()
        .filter(|d| !present.iter().any(|p| p == d.name(dialect)))
        .collect();
    (drop, create)
}

/// Rows per committed range of a fill: the WAL holds one range's pages, not the whole table's
/// (a fill in one transaction left a 3.7 GB WAL on a folder of 1,000,000 statuses).
pub const FILL_RANGE: i64 = 50_000;

/// Brings SQLite in line with `declared`. The drops commit first; then each fill commits range by
/// range, and each created object in a transaction of its own, so that the log stays short
/// between the automatic checkpoints. A crash in between is taken up at the next start: the
/// objects still missing are created, after their fills run again (a fill recomputes each value
/// from the body, so a repeated range writes what it wrote before). Returns how many objects it
/// dropped or created.
pub fn sync_sqlite<T: Generated>(
    conn: &mut rusqlite::Connection,
    kind: &Kind,
    declared: &[T],
) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (drop, create) = plan(&present_sqlite(&tx, kind)?, declared, Dialect::Sqlite);
    for name in &drop {
        tx.execute_batch(&(kind.drop_sql)(name, Dialect::Sqlite))?;
    }
    tx.commit()?;
    for (table, fill) in T::prepare_sqlite(&create) {
        fill_in_ranges(conn, &table, &fill)?;
    }
    let mut created = 0;
    for object in &create {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process opening the folder may have made it meanwhile.
        let name = object.name(Dialect::Sqlite);
        if !present_sqlite(&tx, kind)?.iter().any(|p| p == name) {
            tx.execute_batch(&object.create_sql(Dialect::Sqlite))?;
            created += 1;
        }
        tx.commit()?;
    }
    Ok(drop.len() + created)
}

/// The generated objects of `kind` present, by their common names.
fn present_sqlite(conn: &rusqlite::Connection, kind: &Kind) -> Result<Vec<String>, StoreError> {
    let names: Vec<String> = conn
        .prepare(kind.list_sqlite)?
        .query_map([kind.prefix], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok((kind.names)(names))
}

/// Runs `fill` (bounded by `?1 <= seq < ?2`) over every row of `table`, `FILL_RANGE` rows at a
/// time, each range committed on its own.
fn fill_in_ranges(
    conn: &mut rusqlite::Connection,
    table: &str,
    fill: &str,
) -> Result<(), StoreError> {
    if !sql::is_plain(table) {
        return Err(StoreError::Backend(format!("table '{table}' is not plain")));
    }
    let next_end =
        format!("SELECT seq FROM {table} WHERE seq >= ?1 ORDER BY seq LIMIT 1 OFFSET {FILL_RANGE}");
    let mut from = i64::MIN;
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let end: Option<i64> = tx.query_row(&next_end, [from], |r| r.get(0)).optional()?;
        tx.execute(fill, [from, end.unwrap_or(i64::MAX)])?;
        tx.commit()?;
        match end {
            Some(end) => from = end,
            None => return Ok(()),
        }
    }
}

/// Brings PostgreSQL in line with `declared`, in one transaction. The caller holds the migration
/// lock, so instances starting together change them once.
pub fn sync_postgres<T: Generated>(
    client: &mut postgres::Client,
    kind: &Kind,
    declared: &[T],
) -> Result<usize, StoreError> {
    let mut tx = client.transaction()?;
    let present: Vec<String> = tx
        .query(kind.list_postgres, &[&kind.prefix])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let (drop, create) = plan(&(kind.names)(present), declared, Dialect::Postgres);
    for name in &drop {
        tx.batch_execute(&(kind.drop_sql)(name, Dialect::Postgres))?;
    }
    for object in &create {
        tx.batch_execute(&object.create_sql(Dialect::Postgres))?;
    }
    tx.commit()?;
    Ok(drop.len() + create.len())
}
