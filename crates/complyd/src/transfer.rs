//! `complyd export` and `complyd import`: every tenant's entities as NDJSON, one entity a line
//! (`tenant`, a readable `path`, its store coordinates, `type` and `body`), for backups and for
//! moving between stores. Long runs show their progress on a terminal and end with a summary.

use crate::error::ApiError;
use crate::service::time::resume_after_import;
use crate::service::{imported_engine_row, mark_for_reevaluation, ENGINE_PARTITION};
use crate::store::{Key, Store, StoreError};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

const BATCH: usize = 1000;

/// Progress on stderr when it is a terminal: a line rewritten in place.
struct Progress {
    on_terminal: bool,
    started: Instant,
    verb: &'static str,
}

impl Progress {
    fn new(verb: &'static str) -> Self {
        Self {
            on_terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            verb,
        }
    }
    fn show(&self, done: u64) {
        if self.on_terminal {
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
            eprint!("\r{} {done} entities ({rate:.0}/s)   ", self.verb);
        }
    }
    fn finish(&self) -> f64 {
        if self.on_terminal {
            eprintln!();
        }
        self.started.elapsed().as_secs_f64()
    }
}

/// `deviceCompliancePolicies/{p}/assignments/{a}`: the collection names interleaved with keys.
fn path_of(key: &Key) -> String {
    let names: Vec<&str> = key.collection.split('/').collect();
    let mut keys: Vec<&str> = if key.parent.is_empty() {
        Vec::new()
    } else {
        key.parent.split('/').collect()
    };
    keys.push(&key.id);
    let mut parts = Vec::new();
    for (i, name) in names.iter().enumerate() {
        parts.push(name.to_string());
        if let Some(k) = keys.get(i) {
            parts.push(k.to_string());
        }
    }
    parts.join("/")
}

/// Writes every entity; returns how many.
pub async fn export(store: &dyn Store, out: &mut dyn Write) -> anyhow::Result<u64> {
    let progress = Progress::new("exported");
    let (mut after, mut count) = (0i64, 0u64);
    loop {
        let rows = store.scan(after, BATCH).await?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        for row in &rows {
            // The engine's pending work is not data: an import re-evaluates every tenant.
            if row.key.tenant == ENGINE_PARTITION {
                continue;
            }
            let body: Value = serde_json::from_str(&row.body)?;
            let line = json!({
                "tenant": row.key.tenant,
                "path": path_of(&row.key),
                "collection": row.key.collection,
                "parent": row.key.parent,
                "id": row.key.id,
                "type": row.type_name,
                "body": body,
            });
            writeln!(out, "{line}")?;
            count += 1;
        }
        progress.show(count);
    }
    out.flush()?;
    let seconds = progress.finish();
    eprintln!("exported {count} entities in {seconds:.1} s");
    Ok(count)
}

fn field<'a>(line: &'a Value, name: &str, number: usize) -> anyhow::Result<&'a str> {
    line.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("line {number}: no '{name}'"))
}

/// Loads an export into an empty store; returns how many entities.
pub async fn import(store: &dyn Store, input: &mut dyn BufRead) -> anyhow::Result<u64> {
    if !store.scan(0, 1).await?.is_empty() {
        anyhow::bail!("the target store is not empty: import loads into an empty store only");
    }
    let progress = Progress::new("imported");
    let (mut batch, mut count) = (Vec::with_capacity(BATCH), 0u64);
    let mut tenants = BTreeSet::new();
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let mut value: Value =
            serde_json::from_str(&line).map_err(|e| anyhow::anyhow!("line {}: {e}", index + 1))?;
        let key = Key {
            tenant: field(&value, "tenant", index + 1)?.to_string(),
            collection: field(&value, "collection", index + 1)?.to_string(),
            parent: field(&value, "parent", index + 1)?.to_string(),
            id: field(&value, "id", index + 1)?.to_string(),
        };
        if !tenants.contains(&key.tenant) {
            tenants.insert(key.tenant.clone());
        }
        let type_name = field(&value, "type", index + 1)?.to_string();
        let mut body = value
            .get_mut("body")
            .map(Value::take)
            .filter(Value::is_object)
            .ok_or_else(|| anyhow::anyhow!("line {}: no 'body' object", index + 1))?;
        imported_engine_row(&key.collection, &mut body);
        batch.push((key, type_name, body.to_string()));
        if batch.len() == BATCH {
            count += flush(store, &mut batch).await?;
            progress.show(count);
        }
    }
    count += flush(store, &mut batch).await?;
    mark_tenants(store, tenants).await?;
    let seconds = progress.finish();
    eprintln!("imported {count} entities in {seconds:.1} s");
    Ok(count)
}

/// Every imported tenant is re-evaluated when a server next runs on the store (which puts its
/// devices' schedule back), and its simulated check-ins, if on, are scheduled again.
async fn mark_tenants(store: &dyn Store, mut tenants: BTreeSet<String>) -> anyhow::Result<()> {
    tenants.remove(ENGINE_PARTITION);
    store
        .write(move |tx| -> Result<(), ApiError> {
            for tenant in &tenants {
                mark_for_reevaluation(tx, tenant)?;
                resume_after_import(tx, tenant)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("marking the imported tenants: {}", e.message()))?;
    Ok(())
}

async fn flush(store: &dyn Store, batch: &mut Vec<(Key, String, String)>) -> anyhow::Result<u64> {
    let rows = std::mem::take(batch);
    let n = rows.len() as u64;
    store
        .write(move |tx| -> Result<(), StoreError> {
            for (key, type_name, body) in &rows {
                tx.insert(key, type_name, body)?;
            }
            Ok(())
        })
        .await?;
    Ok(n)
}
