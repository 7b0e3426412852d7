//! Any store, timing its operations for `/metrics`.

use super::{CountBy, Found, JobFn, Key, PageRow, Query, Read, ReadyBody, Row, Store, StoreFuture};
use crate::metrics::{StoreMetrics, StoreOp};
use std::sync::Arc;
use std::time::Instant;

/// `store`, timing every get, query, count and write into `metrics`.
pub fn observed(store: Arc<dyn Store>, metrics: Arc<StoreMetrics>) -> Arc<dyn Store> {
    Arc::new(Observed {
        inner: store,
        metrics,
    })
}

struct Observed {
    inner: Arc<dyn Store>,
    metrics: Arc<StoreMetrics>,
}

impl Observed {
    /// Observes `answer` when it completes; `started` is taken before the call that made it,
    /// which may have done the work already.
    fn timed<'a, T: Send + 'a>(
        &'a self,
        op: StoreOp,
        started: Instant,
        answer: StoreFuture<'a, T>,
    ) -> StoreFuture<'a, T> {
        match answer {
            StoreFuture::Ready(result) => {
                self.metrics.observe(op, started.elapsed());
                StoreFuture::Ready(result)
            }
            StoreFuture::Pending(work) => StoreFuture::pending(async move {
                let result = work.await;
                self.metrics.observe(op, started.elapsed());
                result
            }),
        }
    }
}

impl Store for Observed {
    fn submit(&self, job: JobFn) -> StoreFuture<'_, ()> {
        let started = Instant::now();
        self.timed(StoreOp::Write, started, self.inner.submit(job))
    }

    fn ready(&self, collection: &str, text: String) -> ReadyBody {
        self.inner.ready(collection, text)
    }

    fn get<'a>(&'a self, key: &'a Key) -> StoreFuture<'a, Option<Row>> {
        let started = Instant::now();
        self.timed(StoreOp::Get, started, self.inner.get(key))
    }

    fn all_exist(&self, keys: Vec<Key>) -> StoreFuture<'_, Option<Key>> {
        let started = Instant::now();
        self.timed(StoreOp::Get, started, self.inner.all_exist(keys))
    }

    fn query(&self, q: Query) -> StoreFuture<'_, Vec<PageRow>> {
        let started = Instant::now();
        self.timed(StoreOp::Query, started, self.inner.query(q))
    }

    fn count_matching(&self, q: Query) -> StoreFuture<'_, u64> {
        let started = Instant::now();
        self.timed(StoreOp::Count, started, self.inner.count_matching(q))
    }

    fn count_by<'a>(&'a self, groups: CountBy<'a>) -> StoreFuture<'a, Vec<(String, u64)>> {
        let started = Instant::now();
        self.timed(StoreOp::Count, started, self.inner.count_by(groups))
    }

    fn read_together(&self, reads: Vec<Read>) -> StoreFuture<'_, Vec<Found>> {
        let started = Instant::now();
        self.timed(StoreOp::Query, started, self.inner.read_together(reads))
    }

    fn scan(&self, after_seq: i64, limit: usize) -> StoreFuture<'_, Vec<Row>> {
        self.inner.scan(after_seq, limit)
    }

    fn explain(&self, q: Query) -> StoreFuture<'_, Vec<String>> {
        self.inner.explain(q)
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        self.inner.ping()
    }

    fn close(&self) -> StoreFuture<'_, ()> {
        self.inner.close()
    }

    fn queued_writes(&self) -> usize {
        self.inner.queued_writes()
    }

    fn pool_use(&self) -> Option<(usize, usize)> {
        self.inner.pool_use()
    }

    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    fn write_mark(&self) -> Option<super::WriteMark> {
        self.inner.write_mark()
    }
}
