//! Reading a tenant's settings and policies outside the writer: the same reads as inside a write
//! (`tenant.rs` reads through `WriteTx`), answered by the store's readers, so a re-evaluation
//! round does not hold every client's write while it reads thousands of policies, and check-ins
//! find group membership in memory (`warm_view`).

use super::queue;
use super::{Engine, TenantView};
use crate::error::ApiError;
use crate::service::Service;
use crate::store::{Key, PageRow, Query, Row, Store, StoreError, WriteTx};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// A tenant's view is read for check-ins at most this often: a tenant whose groups change all the
/// time (each change leaves the next check-in a view without membership) costs the readers one
/// full read of its membership per period, no more.
const WARM_EVERY: Duration = Duration::from_secs(5);

/// Reads only; every write is refused. Runs on a blocking thread (it waits on the store's reads).
pub struct ReadOnly {
    store: Arc<dyn Store>,
    runtime: Handle,
}

impl ReadOnly {
    pub fn new(store: Arc<dyn Store>, runtime: Handle) -> Self {
        Self { store, runtime }
    }
}

fn refused() -> StoreError {
    StoreError::Backend("a read-only view of the store was asked to write".into())
}

impl WriteTx for ReadOnly {
    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError> {
        self.runtime.block_on(self.store.get(key))
    }
    fn members(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        let mut query = Query::all(tenant, collection, parent);
        query.limit = limit;
        let rows = self.runtime.block_on(self.store.query(query))?;
        Ok(rows.into_iter().map(|(row, _)| row).collect())
    }
    fn query(&mut self, q: &Query) -> Result<Vec<PageRow>, StoreError> {
        self.runtime.block_on(self.store.query(q.clone()))
    }
    crate::store::schedule::refuse_writes!(refused);
}

/// The tenant's generation and its settings, policies and group membership as committed now,
/// read by the store's readers. A write that finds the same generation may use the view as its own.
pub async fn read(
    store: Arc<dyn Store>,
    model: &'static odata::Model,
    tenant: &str,
) -> Result<(String, TenantView), ApiError> {
    let runtime = Handle::current();
    let tenant = tenant.to_string();
    tokio::task::spawn_blocking(move || {
        let mut reader = ReadOnly { store, runtime };
        // The generation first: a change committed after it moves it, and the write then reads
        // again rather than trust this view.
        let generation = queue::generation(&mut reader, &tenant)?;
        let view = TenantView::read_with_membership(&mut reader, model, &tenant)?;
        Ok((generation, view))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("reading a tenant's policies: {e}")))?
}

impl Service {
    /// After a check-in: when the view kept for `tenant` has no group membership (after a start,
    /// or when a change made a write read the view itself), reads one outside the writer, in the
    /// background, so that the next check-ins find each device's groups in memory instead of
    /// querying them on the writer thread. A write uses it only at the generation it was read
    /// at. At most one such read per tenant at a time, and one per `WARM_EVERY`.
    pub(super) fn warm_view(&self, tenant: &str) {
        if !self.engine.starts_warming(tenant) {
            return;
        }
        let (store, engine) = (Arc::clone(&self.store), Arc::clone(&self.engine));
        let tenant = tenant.to_string();
        tokio::spawn(async move {
            if let Ok((generation, view)) = read(store, engine.model, &tenant).await {
                engine.keep_view(&tenant, generation, view);
            }
            engine.done_warming(&tenant);
        });
    }
}

impl Engine {
    fn starts_warming(&self, tenant: &str) -> bool {
        let bare = self
            .views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
            .is_none_or(|(_, view)| view.membership.is_none());
        if !bare {
            return false;
        }
        let mut warming = self.warming.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((started, running)) = warming.get(tenant) {
            if *running || started.elapsed() < WARM_EVERY {
                return false;
            }
        }
        if warming.len() >= super::VIEWS_KEPT {
            warming.retain(|_, (_, running)| *running);
        }
        warming.insert(tenant.to_string(), (Instant::now(), true));
        true
    }

    fn done_warming(&self, tenant: &str) {
        if let Some(entry) = self
            .warming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(tenant)
        {
            entry.1 = false;
        }
    }
}
