//! What falls due on a tenant's clock, as the store keeps it (the `due` table): the service's
//! time module (`service/time`) decides what an item means and fires it.

/// One item of a tenant's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueItem {
    pub tenant: String,
    /// Unique in the tenant; scheduling an id again replaces the item.
    pub id: String,
    /// When it falls due: the tenant's time, in Unix milliseconds.
    pub at: i64,
    /// The managed device it concerns.
    pub device: String,
    /// The policy it belongs to (`""`: the device itself).
    pub policy: String,
    pub kind: String,
    /// JSON object text: what firing it needs.
    pub body: String,
}

/// Items read for firing at once, at most.
pub const MAX_TAKEN: usize = 10_000;

/// The schedule's operations of a [`WriteTx`](crate::store::WriteTx) that wraps another
/// (`self.inner`), passed through unchanged: `forward_schedule!();` inside the `impl`.
macro_rules! forward_schedule {
    () => {
        fn due_put(
            &mut self,
            item: &$crate::store::DueItem,
        ) -> Result<(), $crate::store::StoreError> {
            self.inner.due_put(item)
        }
        fn due_cancel(
            &mut self,
            tenant: &str,
            device: &str,
            policy: Option<&str>,
        ) -> Result<u64, $crate::store::StoreError> {
            self.inner.due_cancel(tenant, device, policy)
        }
        fn due_take(
            &mut self,
            tenant: &str,
            until: i64,
            limit: usize,
        ) -> Result<Vec<$crate::store::DueItem>, $crate::store::StoreError> {
            self.inner.due_take(tenant, until, limit)
        }
        fn due_done(&mut self, tenant: &str, id: &str) -> Result<(), $crate::store::StoreError> {
            self.inner.due_done(tenant, id)
        }
        fn due_next(
            &mut self,
            after: &str,
        ) -> Result<Option<(String, i64)>, $crate::store::StoreError> {
            self.inner.due_next(after)
        }
        fn due_first(&mut self, tenant: &str) -> Result<Option<i64>, $crate::store::StoreError> {
            self.inner.due_first(tenant)
        }
        fn due_pending(
            &mut self,
            tenant: &str,
        ) -> Result<(u64, Option<i64>), $crate::store::StoreError> {
            self.inner.due_pending(tenant)
        }
    };
}
pub(crate) use forward_schedule;

/// Every write of a [`WriteTx`](crate::store::WriteTx) that only reads, the schedule's
/// included, answered with the error `$refused()` makes: `refuse_writes!(refused);` inside the
/// `impl`.
macro_rules! refuse_writes {
    ($refused:ident) => {
        fn insert(
            &mut self,
            _: &$crate::store::Key,
            _: &str,
            _: &str,
        ) -> Result<(), $crate::store::StoreError> {
            Err($refused())
        }
        fn update(
            &mut self,
            _: &$crate::store::Key,
            _: &str,
        ) -> Result<bool, $crate::store::StoreError> {
            Err($refused())
        }
        fn delete_tree(
            &mut self,
            _: &$crate::store::Key,
        ) -> Result<bool, $crate::store::StoreError> {
            Err($refused())
        }
        fn clear_collection(
            &mut self,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<(), $crate::store::StoreError> {
            Err($refused())
        }
        fn delete_everywhere(
            &mut self,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<u64, $crate::store::StoreError> {
            Err($refused())
        }
        fn delete_tenant(&mut self, _: &str) -> Result<u64, $crate::store::StoreError> {
            Err($refused())
        }
        fn due_put(&mut self, _: &$crate::store::DueItem) -> Result<(), $crate::store::StoreError> {
            Err($refused())
        }
        fn due_cancel(
            &mut self,
            _: &str,
            _: &str,
            _: Option<&str>,
        ) -> Result<u64, $crate::store::StoreError> {
            Err($refused())
        }
        fn due_take(
            &mut self,
            _: &str,
            _: i64,
            _: usize,
        ) -> Result<Vec<$crate::store::DueItem>, $crate::store::StoreError> {
            Err($refused())
        }
        fn due_done(&mut self, _: &str, _: &str) -> Result<(), $crate::store::StoreError> {
            Err($refused())
        }
        fn due_next(
            &mut self,
            _: &str,
        ) -> Result<Option<(String, i64)>, $crate::store::StoreError> {
            Err($refused())
        }
        fn due_first(&mut self, _: &str) -> Result<Option<i64>, $crate::store::StoreError> {
            Err($refused())
        }
        fn due_pending(
            &mut self,
            _: &str,
        ) -> Result<(u64, Option<i64>), $crate::store::StoreError> {
            Err($refused())
        }
    };
}
pub(crate) use refuse_writes;
