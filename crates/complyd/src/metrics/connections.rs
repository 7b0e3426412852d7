//! Open connections: the accept loop (`crate::server`) takes a guard for each connection it
//! serves and drops it when the connection ends.

use prometheus_client::metrics::gauge::Gauge;

/// The gauge of open connections, or nothing when metrics are off. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Connections(Option<Gauge>);

impl Connections {
    /// Counts nothing (metrics off).
    pub fn off() -> Self {
        Self(None)
    }

    pub(super) fn counting(gauge: Gauge) -> Self {
        Self(Some(gauge))
    }

    /// One more connection, until the guard is dropped.
    pub fn opened(&self) -> ConnectionGuard {
        if let Some(gauge) = &self.0 {
            gauge.inc();
        }
        ConnectionGuard(self.0.clone())
    }
}

/// Held for as long as one connection is open.
#[derive(Debug)]
pub struct ConnectionGuard(Option<Gauge>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(gauge) = &self.0 {
            gauge.dec();
        }
    }
}
