//! The `due` table in PostgreSQL. Instances sharing the database take items with
//! `FOR UPDATE SKIP LOCKED`: an item one instance is firing is invisible to the others until it
//! commits (and then gone).

use super::connection::Conn;
use crate::store::{DueItem, StoreError};

pub fn put(c: &mut Conn, item: &DueItem) -> Result<(), StoreError> {
    let st = c.statement(
        "INSERT INTO due (tenant, id, at, device, policy, kind, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant, id) DO UPDATE SET at = EXCLUDED.at, device = EXCLUDED.device,
           policy = EXCLUDED.policy, kind = EXCLUDED.kind, body = EXCLUDED.body",
    )?;
    c.client.execute(
        &st,
        &[
            &item.tenant,
            &item.id,
            &item.at,
            &item.device,
            &item.policy,
            &item.kind,
            &item.body,
        ],
    )?;
    Ok(())
}

pub fn cancel(
    c: &mut Conn,
    tenant: &str,
    device: &str,
    policy: Option<&str>,
) -> Result<u64, StoreError> {
    Ok(match policy {
        Some(policy) => {
            let st =
                c.statement("DELETE FROM due WHERE tenant = $1 AND device = $2 AND policy = $3")?;
            c.client.execute(&st, &[&tenant, &device, &policy])?
        }
        None => {
            let st = c.statement("DELETE FROM due WHERE tenant = $1 AND device = $2")?;
            c.client.execute(&st, &[&tenant, &device])?
        }
    })
}

pub fn take(
    c: &mut Conn,
    tenant: &str,
    until: i64,
    limit: usize,
) -> Result<Vec<DueItem>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let st = c.statement(
        "SELECT tenant, id, at, device, policy, kind, body FROM due
         WHERE tenant = $1 AND at <= $2 ORDER BY at, id LIMIT $3 FOR UPDATE SKIP LOCKED",
    )?;
    c.client
        .query(&st, &[&tenant, &until, &limit])?
        .iter()
        .map(|r| {
            Ok(DueItem {
                tenant: r.try_get("tenant")?,
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                device: r.try_get("device")?,
                policy: r.try_get("policy")?,
                kind: r.try_get("kind")?,
                body: r.try_get("body")?,
            })
        })
        .collect()
}

pub fn done(c: &mut Conn, tenant: &str, id: &str) -> Result<(), StoreError> {
    let st = c.statement("DELETE FROM due WHERE tenant = $1 AND id = $2")?;
    c.client.execute(&st, &[&tenant, &id])?;
    Ok(())
}

pub fn next(c: &mut Conn, after: &str) -> Result<Option<(String, i64)>, StoreError> {
    let st =
        c.statement("SELECT tenant, at FROM due WHERE tenant > $1 ORDER BY tenant, at LIMIT 1")?;
    c.client
        .query_opt(&st, &[&after])?
        .map(|r| Ok((r.try_get("tenant")?, r.try_get("at")?)))
        .transpose()
}

pub fn first(c: &mut Conn, tenant: &str) -> Result<Option<i64>, StoreError> {
    let st = c.statement("SELECT at FROM due WHERE tenant = $1 ORDER BY at LIMIT 1")?;
    c.client
        .query_opt(&st, &[&tenant])?
        .map(|r| Ok(r.try_get("at")?))
        .transpose()
}

pub fn pending(c: &mut Conn, tenant: &str) -> Result<(u64, Option<i64>), StoreError> {
    let st = c.statement("SELECT COUNT(*) AS n, MIN(at) AS first FROM due WHERE tenant = $1")?;
    let row = c.client.query_one(&st, &[&tenant])?;
    let n: i64 = row.try_get("n")?;
    Ok((n.max(0) as u64, row.try_get("first")?))
}

pub fn delete_tenant(c: &mut Conn, tenant: &str) -> Result<(), StoreError> {
    let st = c.statement("DELETE FROM due WHERE tenant = $1")?;
    c.client.execute(&st, &[&tenant])?;
    Ok(())
}
