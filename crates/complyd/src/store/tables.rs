//! Tables of their own (SQLite): the collections of a type the model declares `own-table` keep
//! their rows in a table each, with the shared table's columns, so that a write to one of them
//! updates that table's key, paging and query indexes and runs its count triggers only. In the
//! shared `entity` table every insert checks every collection's partial indexes and triggers, and
//! its key and paging indexes hold every row of every collection.
//!
//! `seq` stays unique across tables (an export reads every table in one `seq` order): each table
//! of its own numbers its new rows from a range of its own, fixed by a hash of its collection, far
//! above where the shared table counts. Rows moved in from the shared table keep their `seq`, so
//! that skip tokens and cursors given out before the move still find their place.
//!
//! The registry `own_table` (migration 10) records each table and whether its rows have all been
//! moved in; at every start the store creates the tables the model declares, moves their rows in
//! (range by range, each range in a transaction of its own), and moves back and drops the tables it
//! no longer declares. Rows moved back are numbered anew, in their order: kept, their `seq` would
//! carry the shared table's numbering into a table's range.

use super::generated::FILL_RANGE;
use super::slots::Slots;
use super::sql::is_plain;
use super::StoreError;
use crate::common::fnv1a;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::sync::Arc;

/// The table every other collection shares.
pub const SHARED: &str = "entity";

/// Every column of an entity table, in the order the tables declare them.
pub const COLUMNS: &str =
    "seq, tenant, collection, parent, id, type_name, body, shape, k0, k1, k2, k3, k4, k5, k6, k7";
/// Every column but `seq`.
const ROW_COLUMNS: &str =
    "tenant, collection, parent, id, type_name, body, shape, k0, k1, k2, k3, k4, k5, k6, k7";

/// Where each table's own range of `seq` starts: a multiple of this. The shared table counts from
/// 1 and would take a million rows a second for half a year to reach it.
const RANGE: i64 = 1 << 44;
/// How many ranges there are (the last ends below `i64::MAX`).
const RANGES: u64 = (1 << 18) - 1;

/// One collection's table of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnTable {
    pub collection: String,
    pub name: Arc<str>,
    /// The `seq` of its first new row.
    pub first_seq: i64,
}

/// The table `collection` is given: named after it, with a hash that keeps names apart which
/// differ only in case or in `/` against `_`.
pub fn own_table(collection: &str) -> Result<OwnTable, StoreError> {
    if !is_plain(collection) {
        return Err(StoreError::Backend(format!(
            "collection path '{collection}' is not plain"
        )));
    }
    let hash = fnv1a(collection.as_bytes());
    let readable: String = collection
        .chars()
        .map(|c| {
            if c == '/' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .take(40)
        .collect();
    let range = 1 + (hash % RANGES) as i64;
    Ok(OwnTable {
        collection: collection.to_string(),
        name: Arc::from(format!("own_{readable}_{:08x}", hash as u32)),
        first_seq: range * RANGE,
    })
}

impl OwnTable {
    /// Creates the table with the shared table's columns (its definition as SQLite keeps it,
    /// every migration's columns included), its key and paging indexes; starts its `seq` range
    /// and registers it.
    fn create(&self, conn: &Connection) -> Result<(), StoreError> {
        let shared: String = conn.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
            params![SHARED],
            |r| r.get(0),
        )?;
        let (n, c) = (&self.name, &self.collection);
        let table = shared
            .strip_prefix(&format!("CREATE TABLE {SHARED} "))
            .map(|columns| format!("CREATE TABLE {n} {columns}"))
            .ok_or_else(|| StoreError::Backend(format!("unexpected definition of {SHARED}")))?;
        conn.execute_batch(&format!(
            "{table};
            CREATE UNIQUE INDEX {n}_key ON {n} (id, tenant, parent);
            CREATE INDEX {n}_page ON {n} (tenant, parent, seq);
            INSERT INTO sqlite_sequence (name, seq) VALUES ('{n}', {start});
            INSERT INTO own_table (collection, name, moved) VALUES ('{c}', '{n}', 0);",
            start = self.first_seq - 1,
        ))?;
        Ok(())
    }
}

/// Brings the tables in line with `slots`' (see the module's comment). Returns how many tables it
/// created, filled or dropped.
pub fn sync_sqlite(conn: &mut Connection, slots: &Slots) -> Result<usize, StoreError> {
    let mut changed = 0;
    for table in slots.own_tables() {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let registered = registered(&tx, &table.collection)?;
        match &registered {
            None => {
                table.create(&tx)?;
                changed += 1;
            }
            Some((name, _)) if **name != *table.name => {
                return Err(StoreError::Backend(format!(
                    "{} is kept in {name}, not in {} as this version names it",
                    table.collection, table.name
                )));
            }
            Some(_) => {}
        }
        tx.commit()?;
        if !registered.is_some_and(|(_, moved)| moved) {
            move_rows(conn, &table.collection, SHARED, &table.name, true)?;
            conn.execute(
                "UPDATE own_table SET moved = 1 WHERE collection = ?1",
                params![table.collection],
            )?;
            changed += 1;
        }
    }
    // Tables the model no longer declares: their rows go back to the shared table.
    let undeclared: Vec<(String, String)> = conn
        .prepare("SELECT collection, name FROM own_table ORDER BY collection")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|(collection, _): &(String, String)| slots.table(collection) == SHARED)
        .collect();
    for (collection, name) in undeclared {
        if !is_plain(&name) {
            return Err(StoreError::Backend(format!(
                "table name '{name}' is not plain"
            )));
        }
        move_rows(conn, &collection, &name, SHARED, false)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(&format!("DROP TABLE IF EXISTS {name};"))?;
        tx.execute(
            "DELETE FROM own_table WHERE collection = ?1",
            params![collection],
        )?;
        tx.commit()?;
        changed += 1;
    }
    Ok(changed)
}

/// The registered table of `collection` and whether its rows are all in it.
fn registered(conn: &Connection, collection: &str) -> Result<Option<(String, bool)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT name, moved FROM own_table WHERE collection = ?1",
            params![collection],
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? == 1)),
        )
        .optional()?)
}

/// Moves `collection`'s rows from table `from` to table `to`, keeping their `seq` or numbered
/// anew in their order, in ranges of `FILL_RANGE` rows each committed on its own (the log holds
/// one range, not the collection).
fn move_rows(
    conn: &mut Connection,
    collection: &str,
    from: &str,
    to: &str,
    keep_seq: bool,
) -> Result<(), StoreError> {
    let next_end = format!(
        "SELECT seq FROM {from} WHERE collection = ?1 AND seq >= ?2 ORDER BY seq LIMIT 1 OFFSET {FILL_RANGE}"
    );
    let columns = if keep_seq { COLUMNS } else { ROW_COLUMNS };
    let copy = format!(
        "INSERT INTO {to} ({columns}) SELECT {columns} FROM {from} WHERE collection = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq"
    );
    let delete = format!("DELETE FROM {from} WHERE collection = ?1 AND seq >= ?2 AND seq < ?3");
    let mut start = i64::MIN;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let end: Option<i64> = tx
            .query_row(&next_end, params![collection, start], |r| r.get(0))
            .optional()?;
        let bound = end.unwrap_or(i64::MAX);
        tx.execute(&copy, params![collection, start, bound])?;
        tx.execute(&delete, params![collection, start, bound])?;
        tx.commit()?;
        match end {
            Some(end) => start = end,
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_named_after_its_collection_and_numbers_from_a_range_of_its_own() {
        let a = own_table("deviceCompliancePolicies/deviceStatuses").unwrap();
        assert!(a
            .name
            .starts_with("own_devicecompliancepolicies_devicestatuses_"));
        assert!(is_plain(&a.name));
        assert_eq!(a.first_seq % RANGE, 0);
        assert!(a.first_seq >= RANGE);
        // The last range still ends below the largest seq.
        assert!((RANGES as i64 + 1).checked_mul(RANGE).is_some());
        let b = own_table("deviceCompliancePolicies_deviceStatuses").unwrap();
        assert_ne!(a.name, b.name);
        assert!(own_table("a b").is_err());
    }
}
