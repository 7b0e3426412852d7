//! Schema objects generated from the model (query indexes, count triggers): named with a prefix
//! and a hash of their definition, so that at every start the store creates the declared ones
//! that are missing and drops the generated ones no longer declared, in one transaction.

use super::sql::{self, Dialect};
use super::StoreError;

/// One generated object (or set of objects sharing a name).
pub trait Generated {
    /// Its name in `dialect`'s schema (the two may differ where their definitions do).
    fn name(&self, dialect: Dialect) -> &str;
    /// The statements that create it (dropping any partial remains of it first).
    fn create_sql(&self, dialect: Dialect) -> String;
    /// Statements SQLite runs once before creating `created` (what they need in the rows).
    fn prepare_sqlite(created: &[&Self]) -> Vec<String>
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

/// Brings SQLite in line with `declared`, in one IMMEDIATE transaction. Returns how many objects
/// it dropped or created.
pub fn sync_sqlite<T: Generated>(
    conn: &mut rusqlite::Connection,
    kind: &Kind,
    declared: &[T],
) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let present: Vec<String> = tx
        .prepare(kind.list_sqlite)?
        .query_map([kind.prefix], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let (drop, create) = plan(&(kind.names)(present), declared, Dialect::Sqlite);
    for name in &drop {
        tx.execute_batch(&(kind.drop_sql)(name, Dialect::Sqlite))?;
    }
    for statement in T::prepare_sqlite(&create) {
        tx.execute_batch(&statement)?;
    }
    for object in &create {
        tx.execute_batch(&object.create_sql(Dialect::Sqlite))?;
    }
    tx.commit()?;
    Ok(drop.len() + create.len())
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
