//! The `due` table in SQLite (one writer: taking an item needs no lock).

use crate::store::{DueItem, StoreError};
use rusqlite::{params, Connection, OptionalExtension};

pub fn put(conn: &Connection, item: &DueItem) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO due (tenant, id, at, device, policy, kind, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        item.tenant,
        item.id,
        item.at,
        item.device,
        item.policy,
        item.kind,
        item.body
    ])?;
    Ok(())
}

// The index is named: SQLite's planner (3.50) otherwise walks every item of the tenant by its
// primary key for each cancel, and with 100,000 devices each evaluation's cancel read the whole
// schedule (a first evaluation of the fleet went from minutes to over an hour).
const CANCEL_POLICY: &str =
    "DELETE FROM due INDEXED BY due_subject WHERE tenant = ?1 AND device = ?2 AND policy = ?3";
const CANCEL_DEVICE: &str =
    "DELETE FROM due INDEXED BY due_subject WHERE tenant = ?1 AND device = ?2";

pub fn cancel(
    conn: &Connection,
    tenant: &str,
    device: &str,
    policy: Option<&str>,
) -> Result<u64, StoreError> {
    let n = match policy {
        Some(policy) => conn
            .prepare_cached(CANCEL_POLICY)?
            .execute(params![tenant, device, policy])?,
        None => conn
            .prepare_cached(CANCEL_DEVICE)?
            .execute(params![tenant, device])?,
    };
    Ok(n as u64)
}

pub fn take(
    conn: &Connection,
    tenant: &str,
    until: i64,
    limit: usize,
) -> Result<Vec<DueItem>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut st = conn.prepare_cached(
        "SELECT tenant, id, at, device, policy, kind, body FROM due
         WHERE tenant = ?1 AND at <= ?2 ORDER BY at, id LIMIT ?3",
    )?;
    let rows = st.query_map(params![tenant, until, limit], |r| {
        Ok(DueItem {
            tenant: r.get("tenant")?,
            id: r.get("id")?,
            at: r.get("at")?,
            device: r.get("device")?,
            policy: r.get("policy")?,
            kind: r.get("kind")?,
            body: r.get("body")?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn done(conn: &Connection, tenant: &str, id: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM due WHERE tenant = ?1 AND id = ?2")?
        .execute(params![tenant, id])?;
    Ok(())
}

pub fn next(conn: &Connection, after: &str) -> Result<Option<(String, i64)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT tenant, at FROM due WHERE tenant > ?1 ORDER BY tenant, at LIMIT 1")?
        .query_row(params![after], |r| Ok((r.get("tenant")?, r.get("at")?)))
        .optional()?)
}

pub fn first(conn: &Connection, tenant: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT at FROM due WHERE tenant = ?1 ORDER BY at LIMIT 1")?
        .query_row(params![tenant], |r| r.get("at"))
        .optional()?)
}

pub fn pending(conn: &Connection, tenant: &str) -> Result<(u64, Option<i64>), StoreError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) AS n, MIN(at) AS first FROM due WHERE tenant = ?1")?
        .query_row(params![tenant], |r| {
            Ok((r.get::<_, i64>("n")? as u64, r.get("first")?))
        })?)
}

pub fn delete_tenant(conn: &Connection, tenant: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM due WHERE tenant = ?1")?
        .execute(params![tenant])?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cancels_find_a_devices_items_by_the_subject_index() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("../migrations/0007_schedule.sql"))
            .unwrap();
        for sql in [CANCEL_POLICY, CANCEL_DEVICE] {
            let plan: String = conn
                .query_row(
                    &format!("EXPLAIN QUERY PLAN {sql}"),
                    params!["t", "d", "p"][..sql.matches('?').count()].as_ref(),
                    |r| r.get(3),
                )
                .unwrap();
            assert!(
                plan.contains("due_subject (tenant=? AND device=?"),
                "{plan}"
            );
        }
    }
}
