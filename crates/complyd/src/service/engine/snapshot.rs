//! Reading a tenant's settings and policies outside the writer: the same reads as inside a write
//! (`tenant.rs` reads through `WriteTx`), answered by the store's readers, so a re-evaluation
//! round does not hold every client's write while it reads thousands of policies.

use super::queue;
use super::TenantView;
use crate::error::ApiError;
use crate::store::{DueItem, Key, PageRow, Query, Row, Store, StoreError, WriteTx};
use std::sync::Arc;
use tokio::runtime::Handle;

/// Reads only; every write is refused. Runs on a blocking thread (it waits on the store's reads).
struct ReadOnly {
    store: Arc<dyn Store>,
    runtime: Handle,
}

fn refused() -> StoreError {
    StoreError::Backend("a read-only view of the store was asked to write".into())
}

impl WriteTx for ReadOnly {
    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError> {
        self.runtime.block_on(self.store.get(key))
    }
    fn insert(&mut self, _: &Key, _: &str, _: &str) -> Result<(), StoreError> {
        Err(refused())
    }
    fn update(&mut self, _: &Key, _: &str) -> Result<bool, StoreError> {
        Err(refused())
    }
    fn delete_tree(&mut self, _: &Key) -> Result<bool, StoreError> {
        Err(refused())
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
    fn clear_collection(&mut self, _: &str, _: &str, _: &str) -> Result<(), StoreError> {
        Err(refused())
    }
    fn delete_everywhere(&mut self, _: &str, _: &str, _: &str) -> Result<u64, StoreError> {
        Err(refused())
    }
    fn query(&mut self, q: &Query) -> Result<Vec<PageRow>, StoreError> {
        self.runtime.block_on(self.store.query(q.clone()))
    }
    fn delete_tenant(&mut self, _: &str) -> Result<u64, StoreError> {
        Err(refused())
    }
    fn due_put(&mut self, _: &DueItem) -> Result<(), StoreError> {
        Err(refused())
    }
    fn due_cancel(&mut self, _: &str, _: &str, _: Option<&str>) -> Result<u64, StoreError> {
        Err(refused())
    }
    fn due_take(&mut self, _: &str, _: i64, _: usize) -> Result<Vec<DueItem>, StoreError> {
        Err(refused())
    }
    fn due_done(&mut self, _: &str, _: &str) -> Result<(), StoreError> {
        Err(refused())
    }
    fn due_next(&mut self, _: &str) -> Result<Option<(String, i64)>, StoreError> {
        Err(refused())
    }
    fn due_first(&mut self, _: &str) -> Result<Option<i64>, StoreError> {
        Err(refused())
    }
    fn due_pending(&mut self, _: &str) -> Result<(u64, Option<i64>), StoreError> {
        Err(refused())
    }
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
