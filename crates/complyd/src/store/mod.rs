//! Storage: one `Store` for every entity type. Entities are rows keyed by tenant, collection path,
//! parent keys and id; bodies are JSON. SQL lives only below this module.

pub mod indexes;
mod postgres;
pub mod sql;
mod sqlite;
mod writer;

pub use postgres::PgStore;
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

#[derive(Debug, Clone)]
pub enum StoreError {
    /// The key is taken.
    Conflict,
    /// The database cannot be reached now; the request may be retried.
    Unavailable(String),
    /// The disk (or the database's quota) is full: nothing was written; reads still work, and
    /// writes succeed again once space is freed.
    Full(String),
    /// The database failed; the message is for logs, not for clients.
    Backend(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict => f.write_str("an entity with this key exists"),
            Self::Backend(m) => write!(f, "storage failure: {m}"),
            Self::Unavailable(m) => write!(f, "storage unavailable: {m}"),
            Self::Full(m) => write!(f, "storage full: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The operations available inside one write transaction.
pub trait WriteTx {
    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError>;
    /// Whether the entity exists, guarded like `get` against a concurrent delete.
    fn exists(&mut self, key: &Key) -> Result<bool, StoreError> {
        Ok(self.get(key)?.is_some())
    }
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

/// The store in use: the embedded SQLite database, or a shared PostgreSQL. Both answer the same
/// calls with the same results; only where the data lives differs.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// Times every operation when `/metrics` is on.
    observer: Option<Arc<StoreMetrics>>,
}

#[derive(Clone)]
pub enum Backend {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PgStore>),
}

use crate::metrics::{StoreMetrics, StoreOp};
use std::future::Future;
use std::sync::Arc;

impl Store {
    /// `postgres://…` opens PostgreSQL; anything else is the SQLite database in `data_dir`. With
    /// the indexes of the Intune model.
    pub async fn open(url: Option<&str>, data_dir: &std::path::Path) -> Result<Self, StoreError> {
        let model = odata::Model::intune().map_err(StoreError::Backend)?;
        Self::open_for(model, url, data_dir).await
    }

    /// `open`, with the indexes `model` declares (created if missing; generated ones it no
    /// longer declares dropped).
    pub async fn open_for(
        model: &odata::Model,
        url: Option<&str>,
        data_dir: &std::path::Path,
    ) -> Result<Self, StoreError> {
        let indexes = indexes::declared(model)?;
        let backend = match url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let url = url.to_string();
                let store = tokio::task::spawn_blocking(move || PgStore::open(&url, &indexes))
                    .await
                    .map_err(|e| StoreError::Backend(e.to_string()))??;
                Backend::Postgres(store)
            }
            Some(other) => {
                return Err(StoreError::Backend(format!(
                    "unsupported store '{other}': use postgres://…, or omit it for SQLite"
                )))
            }
            None => Backend::Sqlite(SqliteStore::open(data_dir, &indexes)?),
        };
        Ok(Self {
            backend,
            observer: None,
        })
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The same store, timing its operations into `observer`.
    pub fn observed(self, observer: Arc<StoreMetrics>) -> Self {
        Self {
            observer: Some(observer),
            ..self
        }
    }

    async fn timed<T>(&self, op: StoreOp, work: impl Future<Output = T>) -> T {
        let Some(observer) = &self.observer else {
            return work.await;
        };
        let started = std::time::Instant::now();
        let out = work.await;
        observer.observe(op, started.elapsed());
        out
    }

    pub async fn write<T, E>(
        &self,
        f: impl FnOnce(&mut dyn WriteTx) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.timed(StoreOp::Write, async {
            match &self.backend {
                Backend::Sqlite(s) => s.write(f).await,
                Backend::Postgres(s) => s.write(f).await,
            }
        })
        .await
    }

    /// At a clean stop, after the last request: SQLite empties its log; PostgreSQL has nothing
    /// to do.
    pub async fn close(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.close().await,
            Backend::Postgres(_) => Ok(()),
        }
    }

    pub async fn get(&self, key: &Key) -> Result<Option<Row>, StoreError> {
        self.timed(StoreOp::Get, async {
            match &self.backend {
                Backend::Sqlite(s) => s.get(key).await,
                Backend::Postgres(s) => s.get(key).await,
            }
        })
        .await
    }

    /// The first of `keys` that does not exist.
    pub async fn all_exist(&self, keys: Vec<Key>) -> Result<Option<Key>, StoreError> {
        self.timed(StoreOp::Get, async {
            match &self.backend {
                Backend::Sqlite(s) => s.all_exist(keys).await,
                Backend::Postgres(s) => s.all_exist(keys).await,
            }
        })
        .await
    }

    pub async fn query(&self, q: Query) -> Result<Vec<(Row, Vec<sql::Param>)>, StoreError> {
        self.timed(StoreOp::Query, async {
            match &self.backend {
                Backend::Sqlite(s) => s.query(q).await,
                Backend::Postgres(s) => s.query(q).await,
            }
        })
        .await
    }

    pub async fn count_matching(&self, q: Query) -> Result<u64, StoreError> {
        self.timed(StoreOp::Count, async {
            match &self.backend {
                Backend::Sqlite(s) => s.count_matching(q).await,
                Backend::Postgres(s) => s.count_matching(q).await,
            }
        })
        .await
    }

    pub async fn count_by(
        &self,
        tenant: &str,
        collection: &str,
        parent: Option<&str>,
        property: &str,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.timed(StoreOp::Count, async {
            match &self.backend {
                Backend::Sqlite(s) => s.count_by(tenant, collection, parent, property).await,
                Backend::Postgres(s) => s.count_by(tenant, collection, parent, property).await,
            }
        })
        .await
    }

    /// Every row of every tenant after `after_seq`, in `seq` order, at most `limit`.
    pub async fn scan(&self, after_seq: i64, limit: usize) -> Result<Vec<Row>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.scan(after_seq, limit).await,
            Backend::Postgres(s) => s.scan(after_seq, limit).await,
        }
    }

    /// The plan the database picks for a page of `q`, one line per step.
    pub async fn explain(&self, q: Query) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.explain(q).await,
            Backend::Postgres(s) => s.explain(q).await,
        }
    }

    /// Whether the store answers: its writer runs and the database answers a trivial query.
    /// The caller bounds the wait.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(s) => s.ping().await,
            Backend::Postgres(s) => s.ping().await,
        }
    }

    /// Writes waiting for the writer.
    pub fn queued_writes(&self) -> usize {
        match &self.backend {
            Backend::Sqlite(s) => s.queued_writes(),
            Backend::Postgres(s) => s.queued_writes(),
        }
    }

    /// PostgreSQL's reader pool: connections in use, and its size.
    pub fn pool_use(&self) -> Option<(usize, usize)> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(s) => Some(s.pool_use()),
        }
    }
}
