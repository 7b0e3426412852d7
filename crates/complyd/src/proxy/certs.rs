//! The certificates of the names the proxy terminates: one per name, signed by complyd's local CA,
//! made on first use and kept in memory (a bounded cache).

use crate::tls::LocalCa;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The most names kept at once. Only the names complyd serves come here, so the bound is never
/// reached in practice; past it the cache starts over.
pub const MAX_CACHED: usize = 64;

pub struct LeafCerts {
    ca: LocalCa,
    cache: Mutex<HashMap<String, Arc<rustls::ServerConfig>>>,
}

impl LeafCerts {
    pub fn new(ca: LocalCa) -> Self {
        Self {
            ca,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The CA the certificates chain to.
    pub fn ca(&self) -> &LocalCa {
        &self.ca
    }

    /// The TLS configuration that presents a certificate for `host` (lower-case).
    pub fn config_for(&self, host: &str) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(config) = cache.get(host) {
            return Ok(config.clone());
        }
        let config = self.ca.issue(&[host.to_string()])?.server_config()?;
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(host.to_string(), config.clone());
        Ok(config)
    }

    /// How many names have a certificate now.
    pub fn cached(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_name_gets_one_certificate_and_the_cache_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let leaves = LeafCerts::new(LocalCa::open(dir.path()).unwrap());
        let first = leaves.config_for("graph.microsoft.com").unwrap();
        let again = leaves.config_for("graph.microsoft.com").unwrap();
        assert!(Arc::ptr_eq(&first, &again), "made once, then cached");
        for i in 0..MAX_CACHED + 3 {
            leaves.config_for(&format!("n{i}.test")).unwrap();
            assert!(leaves.cached() <= MAX_CACHED, "{} cached", leaves.cached());
        }
    }
}
