//! Storage: one `Store` for every entity type. Entities are rows keyed by tenant, collection path,
//! parent keys and id; bodies are JSON. SQL lives only below this module.

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
    pub seq: i64,
}

/// A page of one collection, in `seq` order.
#[derive(Debug, Clone)]
pub struct PageRequest<'a> {
    pub tenant: &'a str,
    pub collection: &'a str,
    pub parent: &'a str,
    pub after_seq: Option<i64>,
    pub limit: usize,
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
