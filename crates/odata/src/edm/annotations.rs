//! What the model says about a property or navigation beyond its type: server-managed stamps,
//! overviews derived from statuses, and how the live service differs (`--fidelity intune`).

/// A server-managed property the service sets by kind (`server created|modified|version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// The time of creation, set once.
    Created,
    /// The time of the last change, set on creation and on every update.
    Modified,
    /// 1 on creation, one more on every update.
    Version,
}

/// How the live service differs on one navigation (or root entity set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveRules {
    /// Routes the documentation lists that the live service does not serve.
    pub unrouted: Vec<LiveRoute>,
    /// What the live service does with string functions in `$filter` on this collection.
    pub string_functions: Option<StringFunctions>,
    /// Rules of the service (named, implemented in its code) that the members satisfy when they
    /// are created with their container or replaced by an action.
    pub rules: Vec<String>,
    /// `live-answers create-200`: a create answers 200 (with the entity) instead of 201.
    pub create_ok: bool,
    /// `live-answers patch-200`: a PATCH answers 200 with the entity instead of the live 204.
    pub patch_ok: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringFunctions {
    /// 400 BadRequest.
    Refused,
    /// The filter is dropped and the collection answered unfiltered.
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

/// What a route addresses, relative to the navigation it is declared on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteOn {
    /// The navigation's own URL (the collection, or the single-valued navigation).
    Navigation,
    /// One member of the collection (`/{id}`).
    Member,
    /// `/$count`.
    Count,
}

/// One route, as a `live-unrouted` word spells it: `get`, `post`, `patch`, `delete`,
/// `get-entity`, `patch-entity`, `delete-entity`, `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveRoute {
    pub method: Method,
    pub on: RouteOn,
}

impl LiveRoute {
    pub fn parse(word: &str) -> Option<Self> {
        let (method, on) = match word {
            "get" => (Method::Get, RouteOn::Navigation),
            "post" => (Method::Post, RouteOn::Navigation),
            "patch" => (Method::Patch, RouteOn::Navigation),
            "delete" => (Method::Delete, RouteOn::Navigation),
            "get-entity" => (Method::Get, RouteOn::Member),
            "patch-entity" => (Method::Patch, RouteOn::Member),
            "delete-entity" => (Method::Delete, RouteOn::Member),
            "count" => (Method::Get, RouteOn::Count),
            _ => return None,
        };
        Some(Self { method, on })
    }
}

/// A single-valued navigation whose body, until a client PATCHes it, is counted from statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivation {
    pub source: DerivedSource,
    /// The property of the source entities whose values are counted.
    pub status_property: String,
    pub counters: Vec<Counter>,
    /// Properties copied from the containing entity: (overview property, container property).
    pub copies: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerivedSource {
    /// A collection navigation of the same container: its members under that container.
    Sibling(String),
    /// A collection path from a root (`deviceManagement/deviceCompliancePolicies/deviceStatuses`):
    /// every member in the tenant, under any parent.
    Tenant(String),
}

/// An overview property and the status values it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub property: String,
    pub values: Vec<String>,
}

/// A navigation whose members are linked, not contained (`links SET [inverse] [transitive]`):
/// links are stored once per set (`members`), from their owner to each member; a navigation
/// walks them forwards (the owner's members) or, `inverse`, backwards (the owners of an entity),
/// and `transitive` follows them to every level. Only a forward, direct navigation is written
/// (`$ref`); `computed` ones only by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    pub set: String,
    pub inverse: bool,
    pub transitive: bool,
    /// The links are computed from a rule (`computed-by PROPERTY over TYPE,…`) when the owner has one.
    pub computed: Option<Computed>,
}

/// `computed-by PROPERTY over TYPE,…`: the owner's PROPERTY holds a membership rule; the
/// entities of those types that satisfy it are its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computed {
    pub property: String,
    /// Qualified names of the types a rule may select; a rule names one by its short name.
    pub over: Vec<String>,
}

/// Flags only a root entity set takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootRules {
    /// `stored-in ROOT`: the members live in that root's collection (one store for several
    /// typed views); the root shows those of its type.
    pub stored_in: Option<String>,
    /// `advanced-queries`: `$search` and `$count` as Entra's directory answers them, with the
    /// `ConsistencyLevel: eventual` header.
    pub advanced_queries: bool,
    /// `entra-errors`: errors in Entra's codes (`Request_BadRequest`, `Request_ResourceNotFound`).
    pub entra_errors: bool,
}

/// The grammar of a `rule` property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleDialect {
    /// A dynamic group's membership rule, over the types its `computed-by` navigation names.
    Membership,
    /// An Intune assignment filter's rule, over managed-device properties.
    AssignmentFilter,
}

impl RuleDialect {
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "membership" => Some(Self::Membership),
            "assignment-filter" => Some(Self::AssignmentFilter),
            _ => None,
        }
    }
}
