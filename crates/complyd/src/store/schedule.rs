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
