//! One configured SQLite connection: pragmas, the date functions the indexes use, and the
//! conversions between the store's values and SQLite's.

use super::checkpoint::WAL_LIMIT_BYTES;
use super::BUSY_TIMEOUT;
use crate::store::packing;
use crate::store::sql::Param;
use crate::store::tables;
use crate::store::{SortValue, StoreError};
use odata::value::DateTimeOffset;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// 2 KiB pages: a create dirties one leaf page in each of the four indexes of a device status
/// that are ordered by parent first, and every dirty page goes to the WAL whole. Measured against
/// 4 KiB on 200,000 statuses: 20% more creates per second, the same reads, a 14% larger file.
/// (1 KiB: 30% more creates, but slower filtered pages and a 45% larger file.)
const PAGE_SIZE: i64 = 2048;

pub fn open(path: &Path) -> Result<Connection, StoreError> {
    // A commit's WAL frames are written in a few large writes rather than two per page (the
    // `wal-buffer` crate, which is sound under `synchronous=FULL`, set below).
    let vfs = wal_buffer::register()?;
    let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Takes effect only when the database file is created (before WAL mode is set).
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Every answered write is durable; wal-buffer also relies on this.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 8 MiB of page cache per connection (negative = KiB); a reset WAL is cut back to the
    // restart's limit (`WAL_LIMIT_BYTES`) rather than keeping its largest size.
    conn.pragma_update(None, "cache_size", -8192)?;
    conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES as i64)?;
    // Temporary files as SQLite decides (memory first, a file past 64 KiB), not always memory:
    // the count triggers give every write a statement journal, and an in-memory one is cut back
    // at each statement's end by walking it from its start. In a long write (a fleet's group
    // members, a re-evaluation round) that made every statement cost as much as the whole write
    // so far: `complyd fleet generate` of 10,000 devices took 27.0 s with it, 7.0 s without.
    conn.pragma_update(None, "temp_store", "DEFAULT")?;
    register_functions(&conn)?;
    // Plans never depend on bound values, so a cached statement is not re-prepared when a
    // parameter changes (SQLite otherwise re-plans when a value could select a partial index).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    // One cached statement per collection and operation, and the query shapes in use.
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// `dto_ticks(text)`: a DateTimeOffset's instant; `dto_part(text, part)`: one of its fields in
/// its own offset; `complyd_unpack(body)`: a body's JSON text, packed or not (`packing`);
/// `complyd_scope(tenant, parent)`: the number tables of their own index rows by (`tables`).
/// Indexes use the first and the third, so every connection must have them all.
fn register_functions(conn: &Connection) -> Result<(), StoreError> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    // Evaluated for every index entry written: reads the text in place.
    conn.create_scalar_function("dto_ticks", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(t) => std::str::from_utf8(t)
                .ok()
                .and_then(DateTimeOffset::parse)
                .map(|t| t.utc_ticks),
            _ => None,
        })
    })?;
    conn.create_scalar_function(packing::UNPACK_FUNCTION, 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Blob(packed) => Some(
                packing::unpack(packed)
                    .map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?,
            ),
            ValueRef::Text(text) => Some(String::from_utf8_lossy(text).into_owned()),
            _ => None,
        })
    })?;
    conn.create_scalar_function(tables::SCOPE_FUNCTION, 2, flags, |ctx| {
        let text = |i| match ctx.get_raw(i) {
            ValueRef::Text(t) => Ok(t),
            _ => Err(rusqlite::Error::UserFunctionError(
                "complyd_scope takes two texts".into(),
            )),
        };
        Ok(tables::scope_number(text(0)?, text(1)?))
    })?;
    conn.create_scalar_function("dto_part", 2, flags, |ctx| {
        let text: Option<String> = ctx.get(0).unwrap_or(None);
        let part: String = ctx.get(1).unwrap_or_default();
        let index = ["year", "month", "day", "hour", "minute", "second"]
            .iter()
            .position(|p| *p == part);
        Ok(text
            .and_then(|t| DateTimeOffset::parse(&t))
            .zip(index)
            .map(|(t, i)| t.local_parts()[i]))
    })?;
    Ok(())
}

pub fn to_sql(p: &Param) -> SqlValue {
    match p {
        Param::Int(n) => SqlValue::Integer(*n),
        Param::Real(r) => SqlValue::Real(*r),
        Param::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Param::Text(t) => SqlValue::Text(t.clone()),
    }
}

/// A sort-key column's value.
pub fn sort_value(v: ValueRef<'_>) -> SortValue {
    match v {
        ValueRef::Null | ValueRef::Blob(_) => SortValue::Null,
        ValueRef::Integer(n) => SortValue::Int(n),
        ValueRef::Real(r) => SortValue::Real(r),
        ValueRef::Text(t) => SortValue::Text(String::from_utf8_lossy(t).into_owned()),
    }
}
