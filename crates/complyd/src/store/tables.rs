//! Tables of their own (SQLite): the collections of a type the model declares `own-table` keep
//! their rows in a table each, with the shared table's columns, so that a write to one of them
//! updates that table's key, paging and query indexes and runs its count triggers only. In the
//! shared `entity` table every insert checks every collection's partial indexes and triggers, and
//! its key and paging indexes hold every row of every collection.
//!
//! A table of its own also has a column `scope`: a number for the row's tenant and parent path, a
//! 64-bit hash of the two (`complyd_scope`). Its indexes lead with that number instead of the two
//! texts (some 80 bytes per entry), so more entries fit a page. The registry `scope` (migration
//! 11) records each path with its number before a row goes under it, for the statements that find
//! rows by tenant or by a path's prefix; its number is unique, so that a collision of two paths
//! fails the write that would make it rather than mixing their rows.
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
use crate::common::{fnv1a, fnv1a_parts};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::HashMap;
use std::sync::Arc;

/// The SQL function that gives a tenant and parent path its number (`scope_number`).
pub const SCOPE_FUNCTION: &str = "complyd_scope";

/// The number of a tenant and parent path (FNV-1a over the two, a byte that text never holds
/// between them). Stored: it must never change.
pub fn scope_number(tenant: &[u8], parent: &[u8]) -> i64 {
    fnv1a_parts(&[tenant, &[0xff], parent]) as i64
}

/// The numbers of `tenant`'s paths (an SQL expression) that also pass `paths` (a condition on
/// `parent`, or `true`): what a table of its own finds a tenant's rows, or a tree's, by.
pub fn tenant_scopes(tenant: &str, paths: &str) -> String {
    format!("scope IN (SELECT hash FROM scope WHERE tenant = {tenant} AND {paths})")
}

/// Registers the paths of `from`'s rows that `rows` (a condition) selects.
fn register_rows(from: &str, rows: &str) -> String {
    format!(
        "INSERT INTO scope (tenant, parent, hash) SELECT DISTINCT tenant, parent, {SCOPE_FUNCTION}(tenant, parent) FROM {from} WHERE {rows} ON CONFLICT (tenant, parent) DO NOTHING"
    )
}

/// Runs `step` over `table`'s rows in `seq` ranges of `FILL_RANGE` rows, each in a transaction of
/// its own (the log holds one range, not the table). `rows` (a condition on `?1` and later
/// parameters) picks the rows; `step` gets the transaction and the range's `seq` bounds.
fn in_ranges(
    conn: &mut Connection,
    table: &str,
    rows: &str,
    first: Option<&str>,
    mut step: impl FnMut(&rusqlite::Transaction<'_>, i64, i64) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let next_end =
        format!("SELECT seq FROM {table} WHERE {rows} ORDER BY seq LIMIT 1 OFFSET {FILL_RANGE}");
    let mut start = i64::MIN;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let end: Option<i64> = match first {
            Some(first) => tx.query_row(&next_end, params![first, start], |r| r.get(0)),
            None => tx.query_row(&next_end, params![start], |r| r.get(0)),
        }
        .optional()?;
        let bound = end.unwrap_or(i64::MAX);
        step(&tx, start, bound)?;
        tx.commit()?;
        match end {
            Some(end) => start = end,
            None => return Ok(()),
        }
    }
}

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
    /// every migration's columns included) and `scope`, its key and paging indexes over the
    /// scope; starts its `seq` range and registers it.
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
            ALTER TABLE {n} ADD COLUMN scope INTEGER NOT NULL DEFAULT 0;
            {indexes}
            INSERT INTO sqlite_sequence (name, seq) VALUES ('{n}', {start});
            INSERT INTO own_table (collection, name, moved) VALUES ('{c}', '{n}', 0);",
            start = self.first_seq - 1,
            indexes = scope_indexes(n),
        ))?;
        Ok(())
    }
}

/// A table of its own's key and paging indexes, by scope.
fn scope_indexes(table: &str) -> String {
    format!(
        "CREATE UNIQUE INDEX IF NOT EXISTS {table}_scope_key ON {table} (id, scope);
        CREATE INDEX IF NOT EXISTS {table}_scope_page ON {table} (scope, seq);"
    )
}

/// Gives a table made before scopes (stop 56) its `scope` column, filled range by range and
/// registered, and its indexes by scope in place of those by tenant and parent. A start cut short
/// takes it up again: the indexes come last.
fn add_scopes(conn: &mut Connection, table: &str) -> Result<bool, StoreError> {
    let indexed: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'index' AND name = ?1",
        params![format!("{table}_scope_key")],
        |r| r.get(0),
    )?;
    if indexed {
        return Ok(false);
    }
    let has_column: bool = conn.query_row(
        &format!("SELECT count(*) > 0 FROM pragma_table_info('{table}') WHERE name = 'scope'"),
        [],
        |r| r.get(0),
    )?;
    if !has_column {
        conn.execute_batch(&format!(
            "ALTER TABLE {table} ADD COLUMN scope INTEGER NOT NULL DEFAULT 0"
        ))?;
    }
    let register = register_rows(table, "seq >= ?1 AND seq < ?2");
    let fill = format!(
        "UPDATE {table} SET scope = {SCOPE_FUNCTION}(tenant, parent) WHERE seq >= ?1 AND seq < ?2"
    );
    in_ranges(conn, table, "seq >= ?1", None, |tx, start, bound| {
        tx.execute(&register, params![start, bound])?;
        tx.execute(&fill, params![start, bound])?;
        Ok(())
    })?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(&format!(
        "DROP INDEX IF EXISTS {table}_key; DROP INDEX IF EXISTS {table}_page; {}",
        scope_indexes(table)
    ))?;
    tx.commit()?;
    Ok(true)
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
        if add_scopes(conn, &table.name)? {
            changed += 1;
        }
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
    let columns = if keep_seq { COLUMNS } else { ROW_COLUMNS };
    let range = "collection = ?1 AND seq >= ?2 AND seq < ?3";
    // Into a table of its own, each row with its scope's number (registered first).
    let (scopes, scope_column, scope_value) = if to == SHARED {
        (None, String::new(), String::new())
    } else {
        (
            Some(register_rows(from, range)),
            ", scope".to_string(),
            format!(", {SCOPE_FUNCTION}(tenant, parent)"),
        )
    };
    let copy = format!(
        "INSERT INTO {to} ({columns}{scope_column}) SELECT {columns}{scope_value} FROM {from} WHERE {range} ORDER BY seq"
    );
    let delete = format!("DELETE FROM {from} WHERE {range}");
    in_ranges(
        conn,
        from,
        "collection = ?1 AND seq >= ?2",
        Some(collection),
        |tx, start, bound| {
            if let Some(scopes) = &scopes {
                tx.execute(scopes, params![collection, start, bound])?;
            }
            tx.execute(&copy, params![collection, start, bound])?;
            tx.execute(&delete, params![collection, start, bound])?;
            Ok(())
        },
    )
}

/// Records `tenant` and `parent` with their number, if they are not yet (before a row under them
/// goes into a table of its own). Fails if another path has the same number.
pub fn register_scope(conn: &Connection, tenant: &str, parent: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        &format!("INSERT INTO scope (tenant, parent, hash) VALUES (?1, ?2, {SCOPE_FUNCTION}(?1, ?2)) ON CONFLICT (tenant, parent) DO NOTHING"),
    )?
    .execute(params![tenant, parent])
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict => StoreError::Backend(format!(
            "the scope number of tenant {tenant} and parent '{parent}' is another path's"
        )),
        other => other,
    })?;
    Ok(())
}

/// The most paths the writer remembers as registered; past them it registers each time.
const MOST_REMEMBERED: usize = 200_000;

/// The paths the writer has registered: those committed, which stay registered (the registry only
/// grows), so that it need not register them again, and those of the group it is writing, which
/// a refused job or a failed commit takes back.
#[derive(Debug, Default)]
pub struct Scopes {
    committed: HashMap<i64, (Box<str>, Box<str>)>,
    pending: Vec<(i64, Box<str>, Box<str>)>,
}

impl Scopes {
    /// Registers `tenant` and `parent` ([`register_scope`]) unless they are known to be.
    pub fn register(
        &mut self,
        conn: &Connection,
        tenant: &str,
        parent: &str,
    ) -> Result<(), StoreError> {
        let number = scope_number(tenant.as_bytes(), parent.as_bytes());
        let known = |t: &str, p: &str| t == tenant && p == parent;
        if self
            .committed
            .get(&number)
            .is_some_and(|(t, p)| known(t, p))
            || self
                .pending
                .iter()
                .any(|(n, t, p)| *n == number && known(t, p))
        {
            return Ok(());
        }
        register_scope(conn, tenant, parent)?;
        self.pending.push((number, tenant.into(), parent.into()));
        Ok(())
    }

    /// A group begins: nothing of an earlier one is pending.
    pub fn begin_group(&mut self) {
        self.pending.clear();
    }

    /// Where a job starts, for [`Scopes::refused`].
    pub fn mark(&self) -> usize {
        self.pending.len()
    }

    /// The job that started at `mark` was rolled back: so were its registrations.
    pub fn refused(&mut self, mark: usize) {
        self.pending.truncate(mark);
    }

    /// The group committed.
    pub fn committed(&mut self) {
        for (number, tenant, parent) in self.pending.drain(..) {
            if self.committed.len() < MOST_REMEMBERED {
                self.committed.insert(number, (tenant, parent));
            }
        }
    }
}

/// The test that a row is a member of `collection` (a quoted literal) under `tenant` and `parent`
/// (SQL expressions), each term after `hint` (`+` makes a term unindexable). A table of its own
/// indexes its rows by their scope's number (the registry `scope`) instead of the two texts.
pub fn under(own: bool, tenant: &str, parent: &str, hint: &str, collection: &str) -> String {
    if own {
        format!(
            "{hint}scope = {SCOPE_FUNCTION}({tenant}, {parent}) AND {hint}collection = {collection}"
        )
    } else {
        format!("{hint}tenant = {tenant} AND {hint}collection = {collection} AND {hint}parent = {parent}")
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
