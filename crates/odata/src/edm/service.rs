//! The service's entry points (roots) and who may use them: both declared in the model text
//! (`permissions` and `root` lines, see FORMAT.md).

use super::{Availability, Navigation};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKind {
    /// `deviceManagement`: one instance per tenant, reached without a key.
    Singleton,
    /// A collection at the root, addressed by key.
    EntitySet,
    /// An unbound action or function, called by its name at the root.
    OperationImport,
}

/// A named set of permissions that admit a caller: any one of `read` for GET, any one of
/// `write` otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    /// The set's name in the model (`permissions NAME`).
    pub name: String,
    pub read: Vec<String>,
    pub write: Vec<String>,
}

impl Permissions {
    /// A reference by name, filled in once every set is read.
    pub(super) fn named(name: &str) -> Self {
        Self {
            name: name.to_string(),
            read: Vec::new(),
            write: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Root {
    pub name: String,
    pub kind: RootKind,
    /// Qualified entity type of the singleton or of the set's members; for an operation import,
    /// the qualified name of the operation.
    pub type_name: String,
    pub availability: Availability,
    /// What every path below the root needs, unless a navigation on the way declares its own.
    pub permissions: Permissions,
    /// The root as a navigation from the service, with its annotations: an entity set's first
    /// step carries it.
    pub navigation: Navigation,
}
