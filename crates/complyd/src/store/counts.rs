//! Counts maintained by the database: for every collection an overview is derived from (`derived
//! from … by PROPERTY` in the model), triggers keep `entity_count` — how many members under each
//! parent hold each value of the property — in step with every insert, update and delete, in the
//! writing transaction. An overview then reads a few counter rows instead of counting the members
//! (100,000 statuses of one policy cost as little as ten). Triggers rather than code in the
//! service: every write path (the engine, clients, imports, deletes of whole trees) moves them.
//!
//! Generated triggers are named `model_count_…` with a hash of their definition; at start the
//! store creates the missing ones (counting what is already stored) and drops those the model no
//! longer declares, as it does for the generated indexes.

use super::generated::{Generated, Kind};
use super::indexes;
use super::packing::UNPACK_FUNCTION;
use super::slots::Slots;
use super::sql::{self, Dialect};
use super::tables::SHARED;
use super::StoreError;
use odata::edm::{DerivedSource, Model, RootKind};
use odata::Version;

/// The prefix of every generated trigger's name.
pub const PREFIX: &str = "model_count_";

/// One counted property of one collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCount {
    /// The triggers' common name (each adds `_i`, `_u` or `_d`).
    pub name: String,
    /// SQLite's, which also says whether the bodies are packed.
    sqlite_name: String,
    pub collection: String,
    pub property: String,
    /// The collection's bodies are packed (SQLite reads them through `complyd_unpack`).
    packed: bool,
    /// The table SQLite keeps the collection in (`tables`).
    table: String,
}

/// Every count the model's derived overviews read, in a stable order; `slots` say how SQLite
/// keeps each collection (`indexes::declared` gives them).
pub fn declared(model: &Model, slots: &Slots) -> Result<Vec<ModelCount>, StoreError> {
    let mut containers = indexes::stored_collections(model);
    for root in model.roots() {
        if root.kind == RootKind::Singleton {
            if let Some(ty) = model.structured(&root.type_name) {
                containers.push((String::new(), ty));
            }
        }
    }
    let mut out: Vec<ModelCount> = Vec::new();
    for (prefix, ty) in containers {
        let mut types = vec![ty];
        types.extend(model.concrete_types(&ty.name, Version::Beta));
        for t in types {
            for nav in model.navigations(t, Version::Beta) {
                let Some(derived) = &nav.derived else {
                    continue;
                };
                let collection = match &derived.source {
                    DerivedSource::Sibling(name) if prefix.is_empty() => name.clone(),
                    DerivedSource::Sibling(name) => format!("{prefix}/{name}"),
                    DerivedSource::Tenant(path) => stored_path(model, path)?,
                };
                let layout = slots.layout(&collection);
                let count = counted(
                    &collection,
                    &derived.status_property,
                    layout.packed.is_some(),
                    layout.table().to_string(),
                )?;
                if !out.iter().any(|c| c.name == count.name) {
                    out.push(count);
                }
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The store's collection path of a path from a root (`/deviceManagement/managedDevices` is
/// `managedDevices`: a singleton's own name is left out; a typed view names where it is stored).
fn stored_path(model: &Model, path: &str) -> Result<String, StoreError> {
    let mut segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let root = segments
        .first()
        .and_then(|first| model.root(first, Version::Beta))
        .ok_or_else(|| StoreError::Backend(format!("derived from /{path}: no such root")))?;
    match root.kind {
        RootKind::Singleton => {
            segments.remove(0);
        }
        _ => {
            if let Some(stored) = &root.navigation.root.stored_in {
                let joined = std::iter::once(stored.as_str())
                    .chain(segments[1..].iter().copied())
                    .collect::<Vec<_>>()
                    .join("/");
                return Ok(joined);
            }
        }
    }
    Ok(segments.join("/"))
}

fn counted(
    collection: &str,
    property: &str,
    packed: bool,
    table: String,
) -> Result<ModelCount, StoreError> {
    if !sql::is_plain(collection) || !sql::is_plain(property) || property.contains('/') {
        return Err(StoreError::Backend(format!(
            "counted '{collection}' by '{property}': not plain names"
        )));
    }
    let hash = crate::common::fnv1a(format!("{collection} {property} v1").as_bytes());
    let readable: String = property.to_ascii_lowercase().chars().take(24).collect();
    let name = |hash: u64| format!("{PREFIX}{readable}_{hash:016x}");
    // SQLite's name also says where the values are read from: packed bodies, a table of its own.
    let sqlite_hash = match (packed, table == SHARED) {
        (false, true) => hash,
        (true, true) => {
            crate::common::fnv1a(format!("{collection} {property} v1 packed").as_bytes())
        }
        (_, false) => crate::common::fnv1a(
            format!("{collection} {property} v1 packed={packed} in {table}").as_bytes(),
        ),
    };
    Ok(ModelCount {
        name: name(hash),
        sqlite_name: name(sqlite_hash),
        collection: collection.to_string(),
        property: property.to_string(),
        packed,
        table,
    })
}

/// Whether the counts hold `property` of `collection`.
pub fn holds(counts: &[ModelCount], collection: &str, property: &str) -> bool {
    counts
        .iter()
        .any(|c| c.collection == collection && c.property == property)
}

impl ModelCount {
    /// The statements that create the triggers and count what is stored already.
    fn statements(&self, dialect: Dialect) -> String {
        let (c, p, n) = (&self.collection, &self.property, self.name(dialect));
        // PostgreSQL keeps every collection in `entity`.
        let t = match dialect {
            Dialect::Sqlite => self.table.as_str(),
            Dialect::Postgres => SHARED,
        };
        let value = |row: &str| match dialect {
            Dialect::Sqlite if self.packed => {
                format!("json_extract({UNPACK_FUNCTION}({row}.body), '$.{p}')")
            }
            Dialect::Sqlite => format!("json_extract({row}.body, '$.{p}')"),
            Dialect::Postgres => format!("(({row}.body->>'{p}') COLLATE \"C\")"),
        };
        let recount = format!(
            "DELETE FROM entity_count WHERE collection = '{c}' AND property = '{p}';\n\
             INSERT INTO entity_count (tenant, collection, parent, property, value, n) \
             SELECT tenant, collection, parent, '{p}', {v}, count(*) FROM {t} e \
             WHERE collection = '{c}' AND {v} IS NOT NULL GROUP BY tenant, collection, parent, {v};\n",
            v = value("e"),
        );
        let add = |row: &str| {
            format!(
                "INSERT INTO entity_count (tenant, collection, parent, property, value, n) \
                 SELECT {row}.tenant, {row}.collection, {row}.parent, '{p}', {v}, 1 WHERE {v} IS NOT NULL \
                 ON CONFLICT (tenant, collection, parent, property, value) DO UPDATE SET n = entity_count.n + 1;",
                v = value(row)
            )
        };
        let take = |row: &str| {
            format!(
                "UPDATE entity_count SET n = n - 1 WHERE tenant = {row}.tenant AND collection = {row}.collection \
                 AND parent = {row}.parent AND property = '{p}' AND value = {v};",
                v = value(row)
            )
        };
        match dialect {
            Dialect::Sqlite => format!(
                "{recount}\
                 CREATE TRIGGER {n}_i AFTER INSERT ON {t} WHEN NEW.collection = '{c}' BEGIN {add_new} END;\n\
                 CREATE TRIGGER {n}_d AFTER DELETE ON {t} WHEN OLD.collection = '{c}' BEGIN {take_old} END;\n\
                 CREATE TRIGGER {n}_u AFTER UPDATE OF body ON {t} WHEN NEW.collection = '{c}' \
                 AND {old} IS NOT {new} BEGIN {take_old} {add_new} END;\n",
                add_new = add("NEW"),
                take_old = take("OLD"),
                old = value("OLD"),
                new = value("NEW"),
            ),
            // One function moves every count; each trigger names its property.
            Dialect::Postgres => format!(
                "{recount}\
                 CREATE TRIGGER {n}_i AFTER INSERT ON entity FOR EACH ROW WHEN (NEW.collection = '{c}') \
                 EXECUTE FUNCTION entity_count_move('{p}');\n\
                 CREATE TRIGGER {n}_d AFTER DELETE ON entity FOR EACH ROW WHEN (OLD.collection = '{c}') \
                 EXECUTE FUNCTION entity_count_move('{p}');\n\
                 CREATE TRIGGER {n}_u AFTER UPDATE OF body ON entity FOR EACH ROW WHEN (NEW.collection = '{c}') \
                 EXECUTE FUNCTION entity_count_move('{p}');\n"
            ),
        }
    }

    /// The statements that drop a generated trigger set by its common name.
    pub fn drop_sql(name: &str, dialect: Dialect) -> String {
        ["_i", "_d", "_u"]
            .iter()
            .map(|suffix| match dialect {
                Dialect::Sqlite => format!("DROP TRIGGER IF EXISTS {name}{suffix};\n"),
                Dialect::Postgres => format!("DROP TRIGGER IF EXISTS {name}{suffix} ON entity;\n"),
            })
            .collect()
    }
}

/// The common names of the trigger sets present (from their triggers' names).
fn common_names(triggers: Vec<String>) -> Vec<String> {
    let mut names: Vec<String> = triggers
        .into_iter()
        .filter_map(|t| {
            t.strip_suffix("_i")
                .or_else(|| t.strip_suffix("_d"))
                .or_else(|| t.strip_suffix("_u"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The generated count triggers, as the store finds and drops them.
pub const COUNTS: Kind = Kind {
    list_sqlite: "SELECT name FROM sqlite_master WHERE type = 'trigger' AND substr(name, 1, length(?1)) = ?1",
    list_postgres: "SELECT tgname::text FROM pg_trigger WHERE tgrelid = 'entity'::regclass AND left(tgname, length($1)) = $1",
    names: common_names,
    drop_sql: ModelCount::drop_sql,
    prefix: PREFIX,
};

impl Generated for ModelCount {
    fn name(&self, dialect: Dialect) -> &str {
        match dialect {
            Dialect::Sqlite => &self.sqlite_name,
            Dialect::Postgres => &self.name,
        }
    }
    /// A partly present set (a crash cannot leave one, a hand edit can) is made whole.
    fn create_sql(&self, dialect: Dialect) -> String {
        Self::drop_sql(self.name(dialect), dialect) + &self.statements(dialect)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_overviews_declare_their_counts() {
        let model = Model::intune().unwrap();
        let slots = indexes::declared(model).unwrap().1;
        let found: Vec<(String, String)> = declared(model, &slots)
            .unwrap()
            .into_iter()
            .map(|c| (c.collection, c.property))
            .collect();
        for expected in [
            ("deviceCompliancePolicies/deviceStatuses", "status"),
            ("deviceCompliancePolicies/userStatuses", "status"),
            ("managedDevices", "complianceState"),
        ] {
            assert!(
                found.contains(&(expected.0.to_string(), expected.1.to_string())),
                "{expected:?} not in {found:?}"
            );
        }
    }
}
