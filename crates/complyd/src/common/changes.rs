//! A cheap per-tenant change indicator for live pages: a number that moves whenever something
//! of the tenant may have changed (a write through the API, or the engine's or the clock's work
//! in the background, which moves every tenant's). In memory, per process; on a shared store
//! each instance tells the others through a relay (PostgreSQL's `NOTIFY`, store/postgres/relay.rs).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Tenants remembered at most; past it they start afresh (every number moves on).
const REMEMBERED: usize = 100_000;

#[derive(Default)]
pub struct Changes {
    /// Moves for every tenant at once.
    epoch: AtomicU64,
    tenants: Mutex<HashMap<String, u64>>,
    /// Where changes are told to the other instances of a shared store (a tenant, or
    /// [`EVERY_TENANT`]); none for a store of one instance.
    relay: std::sync::OnceLock<std::sync::mpsc::SyncSender<String>>,
}

/// What a relay carries when every tenant may have changed.
pub const EVERY_TENANT: &str = "*";

impl Changes {
    /// Tells every change from now on to `relay` too (the other instances' live pages).
    pub fn relay_to(&self, relay: std::sync::mpsc::SyncSender<String>) {
        let _ = self.relay.set(relay);
    }

    fn relay(&self, what: &str) {
        if let Some(relay) = self.relay.get() {
            // A full relay drops the news: the other instances' pages show it at their next load.
            let _ = relay.try_send(what.to_string());
        }
    }

    /// Something of `tenant` changed on this instance.
    pub fn tenant_changed(&self, tenant: &str) {
        self.tenant_changed_elsewhere(tenant);
        self.relay(tenant);
    }

    /// Another instance told of a change (`EVERY_TENANT`, or a tenant).
    pub fn heard(&self, what: &str) {
        if what == EVERY_TENANT {
            self.epoch.fetch_add(1, Ordering::Relaxed);
        } else {
            self.tenant_changed_elsewhere(what);
        }
    }

    fn tenant_changed_elsewhere(&self, tenant: &str) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if tenants.len() >= REMEMBERED && !tenants.contains_key(tenant) {
            tenants.clear();
            self.epoch.fetch_add(1, Ordering::Relaxed);
        }
        *tenants.entry(tenant.to_string()).or_insert(0) += 1;
    }

    /// Something of some tenants changed (background work that does not say which).
    pub fn everything_changed(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
        self.relay(EVERY_TENANT);
    }

    /// Every tenant a write was seen for, with its number now.
    pub fn versions(&self) -> Vec<(String, u64)> {
        let epoch = self.epoch.load(Ordering::Relaxed);
        self.tenants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(tenant, own)| (tenant.clone(), epoch.wrapping_add(*own)))
            .collect()
    }

    /// A number that differs from the last one read whenever `tenant` may have changed since.
    pub fn version(&self, tenant: &str) -> u64 {
        let own = self
            .tenants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .copied()
            .unwrap_or(0);
        self.epoch.load(Ordering::Relaxed).wrapping_add(own)
    }
}

#[cfg(test)]
mod tests {
    use super::Changes;

    #[test]
    fn a_tenants_version_moves_with_its_changes_and_everyones() {
        let changes = Changes::default();
        let (a, b) = (changes.version("a"), changes.version("b"));
        changes.tenant_changed("a");
        assert_ne!(changes.version("a"), a);
        assert_eq!(changes.version("b"), b);
        let b = changes.version("b");
        changes.everything_changed();
        assert_ne!(changes.version("b"), b);
    }
}
