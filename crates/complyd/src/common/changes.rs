//! A cheap per-tenant change indicator for live pages: a number that moves whenever something
//! of the tenant may have changed (a write through the API, or the engine's or the clock's work
//! in the background, which moves every tenant's). In memory, per process.

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
}

impl Changes {
    /// Something of `tenant` changed.
    pub fn tenant_changed(&self, tenant: &str) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if tenants.len() >= REMEMBERED && !tenants.contains_key(tenant) {
            tenants.clear();
            self.everything_changed();
        }
        *tenants.entry(tenant.to_string()).or_insert(0) += 1;
    }

    /// Something of some tenants changed (background work that does not say which).
    pub fn everything_changed(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
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
