//! Every query the store answers, on a reader connection (`readers`). Columns are read by name.

use super::connection::{sort_value, to_sql};
use crate::store::packing;
use crate::store::slots::{Layout, Slots};
use crate::store::sql::{self, in_table_cached, sort_column, Dialect, PlannedRead, Sql};
use crate::store::tables::COLUMNS;
use crate::store::{Found, Key, PageRow, Query, Row, StoreError};
use rusqlite::types::{Type, ValueRef};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Statement};

/// The entity columns of a statement, found by name once per statement.
struct Columns {
    seq: usize,
    id: usize,
    type_name: usize,
    body: usize,
    shape: usize,
    /// The sort keys, in order.
    sort: Vec<usize>,
}

impl Columns {
    fn of(stmt: &Statement<'_>, sort_keys: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: stmt.column_index("seq")?,
            id: stmt.column_index("id")?,
            type_name: stmt.column_index("type_name")?,
            body: stmt.column_index("body")?,
            shape: stmt.column_index("shape")?,
            sort: (0..sort_keys)
                .map(|i| stmt.column_index(&sort_column(i)))
                .collect::<Result<_, _>>()?,
        })
    }

    fn row(&self, r: &rusqlite::Row<'_>, key: Key) -> rusqlite::Result<Row> {
        Ok(Row {
            seq: r.get(self.seq)?,
            key,
            type_name: r.get(self.type_name)?,
            body: body_text(r, self.body)?,
            canonical: r.get::<_, i64>(self.shape)? == 1,
        })
    }
}

/// A body column's JSON text: stored as text, or packed (`packing`).
fn body_text(r: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<String> {
    match r.get_ref(column)? {
        ValueRef::Blob(packed) => packing::unpack(packed).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(column, Type::Blob, Box::new(e))
        }),
        _ => r.get(column),
    }
}

/// A row selected with `seq, type_name, body, shape`, at `key`.
fn entity(r: &rusqlite::Row<'_>, key: Key) -> rusqlite::Result<Row> {
    Ok(Row {
        seq: r.get("seq")?,
        key,
        type_name: r.get("type_name")?,
        body: body_text(r, r.as_ref().column_index("body")?)?,
        canonical: r.get::<_, i64>("shape")? == 1,
    })
}

/// The members of one collection (kept in `table`) under one parent, oldest first, at most
/// `limit`.
pub fn members(
    conn: &Connection,
    table: &str,
    tenant: &str,
    collection: &str,
    parent: &str,
    limit: usize,
) -> Result<Vec<Row>, StoreError> {
    let mut stmt = conn.prepare_cached(&in_table_cached(
        "SELECT id, seq, type_name, body, shape FROM {T} WHERE {P} ORDER BY seq LIMIT ?3",
        collection,
        table,
    )?)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![tenant, parent, limit], |r| {
            let key = Key {
                tenant: tenant.to_string(),
                collection: collection.to_string(),
                parent: parent.to_string(),
                id: r.get("id")?,
            };
            entity(r, key)
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The entity at `key`, in the table `slots` keep its collection in.
pub fn get(conn: &Connection, key: &Key, slots: &Slots) -> Result<Option<Row>, StoreError> {
    let mut stmt = conn.prepare_cached(&in_table_cached(
        "SELECT seq, type_name, body, shape FROM {T} WHERE {P} AND id = ?3",
        &key.collection,
        slots.table(&key.collection),
    )?)?;
    let row = stmt
        .query_row(params![key.tenant, key.parent, key.id], |r| {
            entity(r, key.clone())
        })
        .optional()?;
    Ok(row)
}

/// Answered from the key index alone, without reading the row (in a table of its own, the
/// collection is known without it).
pub fn exists(conn: &Connection, key: &Key, slots: &Slots) -> Result<bool, StoreError> {
    let found = conn
        .prepare_cached(&in_table_cached(
            "SELECT 1 FROM {T} WHERE {P} AND id = ?3",
            &key.collection,
            slots.table(&key.collection),
        )?)?
        .exists(params![key.tenant, key.parent, key.id])?;
    Ok(found)
}

pub fn first_missing(
    conn: &Connection,
    keys: Vec<Key>,
    slots: &Slots,
) -> Result<Option<Key>, StoreError> {
    for key in keys {
        if !exists(conn, &key, slots)? {
            return Ok(Some(key));
        }
    }
    Ok(None)
}

/// A page of `q`, over the collection kept as `layout` says.
pub fn page(conn: &Connection, q: &Query, layout: Layout) -> Result<Vec<PageRow>, StoreError> {
    let (sql, sort_keys) = sql::page(Dialect::Sqlite, q, layout)?;
    let mut stmt = conn.prepare_cached(&sql.text)?;
    let columns = Columns::of(&stmt, sort_keys)?;
    let mut rows = stmt.query(params_from_iter(sql.params.iter().map(to_sql)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let key = Key {
            tenant: q.tenant.clone(),
            collection: q.collection.clone(),
            parent: q.parent.clone(),
            id: r.get(columns.id)?,
        };
        let values = columns
            .sort
            .iter()
            .map(|&i| r.get_ref(i).map(sort_value))
            .collect::<Result<_, _>>()?;
        out.push((columns.row(r, key)?, values));
    }
    Ok(out)
}

pub fn count(conn: &Connection, q: &Query, layout: Layout) -> Result<u64, StoreError> {
    let sql = sql::count(Dialect::Sqlite, q, layout)?;
    let n: i64 = conn
        .prepare_cached(&sql.text)?
        .query_row(params_from_iter(sql.params.iter().map(to_sql)), |r| {
            r.get("n")
        })?;
    Ok(n as u64)
}

/// `reads` in one read transaction: each sees the same snapshot. (`BEGIN` and `COMMIT` from the
/// statement cache: `execute_batch` would parse them for every request.)
pub fn together(
    conn: &Connection,
    reads: &[PlannedRead],
    slots: &Slots,
) -> Result<Vec<Found>, StoreError> {
    // A reader usually has its snapshot open already (`readers`); otherwise one is begun here.
    let own = conn.is_autocommit();
    if own {
        conn.prepare_cached("BEGIN")?.execute([])?;
    }
    let found = reads
        .iter()
        .map(|read| {
            Ok(match read {
                PlannedRead::Get(key) => Found::Row(get(conn, key, slots)?),
                PlannedRead::Query(q) => Found::Page(page(conn, q, slots.layout(&q.collection))?),
                PlannedRead::Count(q) => Found::Count(count(conn, q, slots.layout(&q.collection))?),
                PlannedRead::CountBy(sql) => Found::Groups(count_by(conn, sql)?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>();
    // A read that failed (or was interrupted over its budget) leaves the transaction open:
    // ended here, whoever began it.
    let end = match (&found, own) {
        (Ok(_), false) => None,
        (Ok(_), true) => Some("COMMIT"),
        (Err(_), _) => Some("ROLLBACK"),
    };
    let ended = end.map_or(Ok(0), |end| {
        conn.prepare_cached(end).and_then(|mut s| s.execute([]))
    });
    let found = found?;
    ended?;
    Ok(found)
}

pub fn count_by(conn: &Connection, sql: &Sql) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt = conn.prepare_cached(&sql.text)?;
    let rows = stmt.query_map(params_from_iter(sql.params.iter().map(to_sql)), |r| {
        Ok((
            r.get::<_, Option<String>>("value")?.unwrap_or_default(),
            r.get::<_, i64>("n")? as u64,
        ))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Every row of every tenant after `after_seq`, in `seq` order across every table (export).
pub fn scan(
    conn: &Connection,
    after_seq: i64,
    limit: usize,
    slots: &Slots,
) -> Result<Vec<Row>, StoreError> {
    let each: Vec<String> = slots
        .all_tables()
        .iter()
        .map(|t| {
            format!(
                "SELECT * FROM (SELECT {COLUMNS} FROM {t} WHERE seq > ?1 ORDER BY seq LIMIT ?2)"
            )
        })
        .collect();
    let mut stmt = conn.prepare_cached(&format!(
        "{} ORDER BY seq LIMIT ?2",
        each.join(" UNION ALL ")
    ))?;
    let rows = stmt.query_map(params![after_seq, limit as i64], |r| {
        let key = Key {
            tenant: r.get("tenant")?,
            collection: r.get("collection")?,
            parent: r.get("parent")?,
            id: r.get("id")?,
        };
        entity(r, key)
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The query plan SQLite picks for a page of `q` (for tests and diagnostics).
pub fn explain(conn: &Connection, q: &Query, layout: Layout) -> Result<Vec<String>, StoreError> {
    let (sql, _) = sql::page(Dialect::Sqlite, q, layout)?;
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))?;
    let rows = stmt.query_map(params_from_iter(sql.params.iter().map(to_sql)), |r| {
        r.get::<_, String>("detail")
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A trivial query, to see that a reader answers.
pub fn ping(conn: &Connection) -> Result<(), StoreError> {
    conn.query_row("SELECT count(*) AS n FROM sqlite_schema", [], |r| {
        r.get::<_, i64>("n")
    })?;
    Ok(())
}
