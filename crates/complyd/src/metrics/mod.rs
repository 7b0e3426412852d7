//! `/metrics` (`--metrics`): one server's counters, gauges and histograms in a registry of its
//! own (the tests run many servers in one process), rendered in the Prometheus text format.
//! Every handle a request touches is a lock-free atomic or a lookup by a `Copy` label set;
//! nothing here is built when metrics are off.

mod connections;
mod route;

pub use connections::{ConnectionGuard, Connections};
pub use route::{MethodLabel, Route, Template};

use prometheus_client::encoding::{prometheus_text, EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// The exposition's `Content-Type`.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Latency buckets, in seconds: from a key lookup in cache to a request that waited seconds.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: Route,
    method: MethodLabel,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: Route,
    method: MethodLabel,
}

/// What the store was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreOp {
    /// A lookup by key (or of a path's ancestors).
    Get,
    /// A page of a collection.
    Query,
    /// `$count`, `@odata.count` and the overviews' counts.
    Count,
    /// A write, from hand-over to the writer until its group is committed.
    Write,
}

impl StoreOp {
    const ALL: [Self; 4] = [Self::Get, Self::Query, Self::Count, Self::Write];
}

impl EncodeLabelValue for StoreOp {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder,
    ) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(
            encoder,
            match self {
                Self::Get => "get",
                Self::Query => "query",
                Self::Count => "count",
                Self::Write => "write",
            },
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StoreLabels {
    operation: StoreOp,
}

/// The store's latency histograms, one per operation, registered up front.
#[derive(Debug)]
pub struct StoreMetrics {
    by_op: [Histogram; 4],
}

impl StoreMetrics {
    pub fn observe(&self, op: StoreOp, took: Duration) {
        self.by_op[op as usize].observe(took.as_secs_f64());
    }
}

/// The store's state at the moment of a scrape.
#[derive(Debug, Clone, Copy)]
pub struct StoreSample {
    /// Writes handed to the writer and not yet taken into a group.
    pub queued_writes: usize,
    /// PostgreSQL's reader pool: connections in use and the pool's size.
    pub pool: Option<(usize, usize)>,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    throttled: Counter,
    connections: Gauge,
    store: Arc<StoreMetrics>,
    queued_writes: Gauge,
    pool_busy: Gauge,
    pool_size: Gauge,
}

impl Metrics {
    /// `pooled`: the store has a connection pool whose use is worth showing (PostgreSQL).
    pub fn new(pooled: bool) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "complyd_http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let latency = Family::new_with_constructor(histogram as fn() -> Histogram);
        registry.register(
            "complyd_http_request_duration_seconds",
            "Time from a request's arrival to its response, by route template and method",
            latency.clone(),
        );
        let throttled = Counter::default();
        registry.register(
            "complyd_http_throttled_requests",
            "Requests refused with 429 by the throttling limits (--throttle)",
            throttled.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "complyd_http_connections_open",
            "Client connections open now",
            connections.clone(),
        );
        let by_op =
            Family::<StoreLabels, Histogram, fn() -> Histogram>::new_with_constructor(histogram);
        registry.register(
            "complyd_store_operation_duration_seconds",
            "Time the store took, by operation (get, query, count, write)",
            by_op.clone(),
        );
        let store = Arc::new(StoreMetrics {
            by_op: StoreOp::ALL
                .map(|operation| by_op.get_or_create_owned(&StoreLabels { operation })),
        });
        let queued_writes = Gauge::default();
        registry.register(
            "complyd_store_writer_queue_depth",
            "Writes waiting for the writer's next group commit",
            queued_writes.clone(),
        );
        let (pool_busy, pool_size) = (Gauge::default(), Gauge::default());
        if pooled {
            registry.register(
                "complyd_store_pool_connections_in_use",
                "PostgreSQL reader connections in use",
                pool_busy.clone(),
            );
            registry.register(
                "complyd_store_pool_connections",
                "PostgreSQL reader connections in the pool",
                pool_size.clone(),
            );
        }
        Self {
            registry,
            requests,
            latency,
            throttled,
            connections,
            store,
            queued_writes,
            pool_busy,
            pool_size,
        }
    }

    /// One answered request.
    pub fn request(&self, route: Route, method: MethodLabel, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route, method })
            .observe(took.as_secs_f64());
    }

    pub fn throttled(&self) {
        self.throttled.inc();
    }

    /// The handle the accept loop counts connections with.
    pub fn connections(&self) -> Connections {
        Connections::counting(self.connections.clone())
    }

    /// The handle the store times its operations with.
    pub fn store(&self) -> Arc<StoreMetrics> {
        self.store.clone()
    }

    /// The exposition, with the store's gauges sampled now.
    pub fn render(&self, sample: StoreSample) -> Result<String, std::fmt::Error> {
        self.queued_writes.set(gauge_value(sample.queued_writes));
        if let Some((busy, size)) = sample.pool {
            self.pool_busy.set(gauge_value(busy));
            self.pool_size.set(gauge_value(size));
        }
        let mut text = String::with_capacity(16 * 1024);
        prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_its_labels() {
        let metrics = Metrics::new(true);
        metrics.request(
            Route::Metadata,
            MethodLabel::Get,
            200,
            Duration::from_micros(300),
        );
        metrics.throttled();
        metrics
            .store()
            .observe(StoreOp::Write, Duration::from_millis(3));
        let guard = metrics.connections().opened();
        let text = metrics
            .render(StoreSample {
                queued_writes: 7,
                pool: Some((1, 4)),
            })
            .unwrap();
        for line in [
            "complyd_http_requests_total{route=\"metadata\",method=\"GET\",status=\"200\"} 1",
            "complyd_http_request_duration_seconds_bucket{route=\"metadata\",method=\"GET\",le=\"0.0005\"} 1",
            "complyd_http_throttled_requests_total 1",
            "complyd_http_connections_open 1",
            "complyd_store_operation_duration_seconds_count{operation=\"write\"} 1",
            "complyd_store_operation_duration_seconds_count{operation=\"get\"} 0",
            "complyd_store_writer_queue_depth 7",
            "complyd_store_pool_connections_in_use 1",
            "complyd_store_pool_connections 4",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
        drop(guard);
        let text = metrics
            .render(StoreSample {
                queued_writes: 0,
                pool: None,
            })
            .unwrap();
        assert!(text.lines().any(|l| l == "complyd_http_connections_open 0"));
    }

    #[test]
    fn without_a_pool_there_are_no_pool_gauges() {
        let text = Metrics::new(false)
            .render(StoreSample {
                queued_writes: 0,
                pool: None,
            })
            .unwrap();
        assert!(!text.contains("pool"), "{text}");
        assert!(text.contains("complyd_store_writer_queue_depth 0"));
    }
}
