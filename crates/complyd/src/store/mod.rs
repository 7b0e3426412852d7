//! Storage: one `Store` for every entity type. Entities are rows keyed by tenant, collection path,
//! parent keys and id; bodies are JSON. SQL lives only below this module.

pub mod sql;
mod sqlite;

pub use sqlite::SqliteStore;

use std::fmt;

/// Where an entity lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub tenant: String,
    /// Navigation names from the root, joined by `/` (`deviceCompliancePolicies/assignments`).
    pub collection: String,
    /// Keys of the containing entities, joined by `/`; empty at the root.
    pub parent: String,
    pub id: String,
}

impl Key {
    /// The `parent` value of this entity's own children.
    pub fn child_parent(&self) -> String {
        if self.parent.is_empty() {
            self.id.clone()
        } else {
            format!("{}/{}", self.parent, self.id)
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub key: Key,
    pub type_name: String,
    /// JSON object text.
    pub body: String,
    /// The body is in the canonical stored shape (see the service); older rows may not be.
    pub canonical: bool,
    pub seq: i64,
}

/// A page (or count) of one collection under one parent.
#[derive(Debug, Clone)]
pub struct Query {
    pub tenant: String,
    pub collection: String,
    pub parent: String,
    pub filter: Option<odata::query::bind::Condition>,
    /// Sort keys; `true` is descending. `seq` always breaks ties.
    pub order: Vec<(odata::query::bind::Operand, bool)>,
    /// Continue after the row with these sort-key values and this `seq`.
    pub cursor: Option<(Vec<sql::Param>, i64)>,
    pub skip: usize,
    pub limit: usize,
}

impl Query {
    pub fn all(tenant: &str, collection: &str, parent: &str) -> Self {
        Self {
            tenant: tenant.into(),
            collection: collection.into(),
            parent: parent.into(),
            filter: None,
            order: Vec::new(),
            cursor: None,
            skip: 0,
            limit: usize::MAX >> 1,
        }
    }
}

#[derive(Debug)]
pub enum StoreError {
    /// The key is taken.
    Conflict,
    /// The database failed; the message is for logs, not for clients.
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict => f.write_str("an entity with this key exists"),
            Self::Backend(m) => write!(f, "storage failure: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The operations available inside one write transaction.
pub trait WriteTx {
    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError>;
    fn insert(&mut self, key: &Key, type_name: &str, body: &str) -> Result<(), StoreError>;
    /// False when no such entity exists.
    fn update(&mut self, key: &Key, body: &str) -> Result<bool, StoreError>;
    /// Deletes the entity and everything it contains; false when no such entity exists.
    fn delete_tree(&mut self, key: &Key) -> Result<bool, StoreError>;
    /// Deletes every member of one contained collection, with everything they contain.
    fn clear_collection(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
    ) -> Result<(), StoreError>;
}
