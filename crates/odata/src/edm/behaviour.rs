//! What the model says about how entities relate and behave beyond their types: references
//! between collections, values a property takes when a client leaves it out, members a collection
//! has in every tenant, rules over a collection's members, read-only collections and views, and
//! the audit category of the writes below a navigation (see FORMAT.md).

use serde_json::{Map, Value};

/// `references PATH [when PROPERTY=VALUE] [except VALUE…]` on a property: each value it holds (a
/// string, or each string of a collection) names a member of the collection at `PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The collection named, a path from a root without keys (`deviceManagement/roleScopeTags`).
    pub path: String,
    /// Checked only when the entity's (or complex value's) `PROPERTY` has this value.
    pub when: Option<(String, String)>,
    /// Values that name nothing and are accepted as they are (a zero GUID).
    pub except: Vec<String>,
    /// `live-message NAME`: with `--fidelity intune`, a refusal is worded as the live service's
    /// message `NAME` (in the service's fidelity rules).
    pub live_message: Option<String>,
    /// `live-checked`: checked with `--fidelity intune` only (the documentation's examples send
    /// placeholders the documented mode accepts).
    pub live_checked: bool,
}

impl Reference {
    /// Whether `value` is one of the values accepted without naming anything.
    pub fn excepts(&self, value: &str) -> bool {
        self.except.iter().any(|e| e == value)
    }
}

/// A member every tenant has without creating it (`builtin ID JSON` under a navigation).
#[derive(Debug, Clone, PartialEq)]
pub struct Builtin {
    pub id: String,
    pub body: Map<String, Value>,
}

/// How a collection (a navigation, or a root entity set) behaves beyond CRUD.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectionRules {
    /// `read-only`: clients read it; every write is refused as an unrouted method.
    pub read_only: bool,
    /// `view PATH`: it shows the members of the collection at `PATH` (read-only).
    pub view: Option<String>,
    /// `view PATH where PROPERTY`: only those whose `PROPERTY` is the owning entity's key.
    pub view_where: Option<String>,
    /// `audit CATEGORY`: successful writes at or below it are recorded as audit events of this
    /// category (the deepest declaration along a path wins).
    pub audit: Option<String>,
    /// `one-default PROPERTY`: exactly one member has `PROPERTY` true. The first member gets it;
    /// setting it on one clears it on the others; it is not cleared directly, and the member
    /// holding it is not deleted while others remain.
    pub one_default: Option<String>,
    /// `unique PROPERTY`: no two members share a value of `PROPERTY` (case-insensitive).
    pub unique: Vec<String>,
    /// Members every tenant has; they cannot be deleted.
    pub builtins: Vec<Builtin>,
}

impl CollectionRules {
    pub fn builtin(&self, id: &str) -> Option<&Builtin> {
        self.builtins.iter().find(|b| b.id == id)
    }
}
