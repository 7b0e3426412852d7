//! Query indexes generated from the model: for every property declared `index`, one partial index
//! per collection path where its type is stored, for SQLite and PostgreSQL alike, in the shape the
//! queries take: `(tenant, parent, <value>, seq) WHERE collection = '…'`. The value is built by
//! the same expression builders as a `$filter` on the property (`sql::comparable`), so the
//! planners match the two. SQLite indexes the value's slot column instead (`slots`), which holds
//! that same expression's result. Generated indexes are named `model_index_…` with a hash of their
//! definition; at start the store creates the missing ones and drops the generated ones the model
//! no longer declares.

use super::generated::{Generated, Kind};
use super::packing;
use super::slots::{Layout, Slot, Slots};
use super::sql::{self, Dialect, Sql};
use super::tables::SHARED;
use super::StoreError;
use crate::common::fnv1a;
use odata::edm::{Model, RootKind, StructuredType};
use odata::query::bind::{self, Operand};
use odata::query::QueryOptions;
use odata::Version;

/// The prefix of every generated index's name.
pub const PREFIX: &str = "model_index_";
/// PostgreSQL truncates identifiers past 63 bytes.
const MAX_NAME: usize = 63;
/// Containment deeper than this is not walked (the model's paths are far shallower).
const MAX_DEPTH: usize = 16;

/// One generated index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIndex {
    /// Its name in PostgreSQL's schema (and SQLite's when no slot column changes it).
    pub name: String,
    /// Its name in SQLite's schema: over slot columns, a definition of its own.
    pub sqlite_name: String,
    /// The collection path it covers.
    pub collection: String,
    /// The table SQLite keeps that collection in.
    pub table: String,
    /// The indexed property.
    pub property: String,
    /// The slot columns it reads (SQLite), filled from the bodies before it is created.
    pub slots: Vec<Slot>,
    sqlite: String,
    postgres: String,
}

impl ModelIndex {
    /// Its name in the store `open` opens for `url` (PostgreSQL's for a `postgres://` URL).
    pub fn name_in_store(&self, url: Option<&str>) -> &str {
        match url {
            Some(_) => &self.name,
            None => &self.sqlite_name,
        }
    }

    /// The `CREATE INDEX` statement for `dialect` (for SQLite, after filling its slots).
    pub fn statement(&self, dialect: Dialect) -> &str {
        match dialect {
            Dialect::Sqlite => &self.sqlite,
            Dialect::Postgres => &self.postgres,
        }
    }
}

/// Every index `model` declares, in a stable order, and the slot columns SQLite keeps for them.
pub fn declared(model: &Model) -> Result<(Vec<ModelIndex>, Slots), StoreError> {
    let mut slots = Slots::default();
    for (collection, ty) in packed_collections(model) {
        slots.pack(&collection, packing::dictionary_for(&ty.name));
    }
    for collection in own_table_collections(model) {
        slots.give_own_table(&collection)?;
    }
    let mut out = Vec::new();
    let push = |index: ModelIndex, out: &mut Vec<ModelIndex>| {
        // Views of one collection may declare the same index.
        if !out.iter().any(|i: &ModelIndex| i.name == index.name) {
            out.push(index);
        }
    };
    // A typed view (users, groups and devices in one directory collection) reads its members by
    // type in `seq` order: without this, listing the groups walked every user and device first.
    for root in model.roots() {
        if let Some(stored) = &root.navigation.root.stored_in {
            push(by_type(stored)?, &mut out);
        }
    }
    // …and sorts one type by an indexed property (users by name) without walking the others.
    for root in model.roots() {
        let (Some(stored), Some(ty)) = (
            &root.navigation.root.stored_in,
            model.structured(&root.type_name),
        ) else {
            continue;
        };
        for property in model.all_properties(ty).into_iter().filter(|p| p.indexed) {
            let keys = [TYPE, property.name.as_str()];
            push(index(model, stored, ty, &keys, &mut slots)?, &mut out);
        }
    }
    for (collection, ty) in stored_collections(model) {
        for property in model.all_properties(ty).into_iter().filter(|p| p.indexed) {
            let mut keys = vec![vec![property.name.as_str()]];
            if let Some(then) = &property.index_then {
                keys.push(vec![property.name.as_str(), then.as_str()]);
            }
            for key in keys {
                push(index(model, &collection, ty, &key, &mut slots)?, &mut out);
            }
        }
    }
    Ok((out, slots))
}

/// Every collection path (as the store names it: navigation names from the root, a singleton's
/// own name left out) and the type declared for its members, found by walking the containment
/// tree from the roots. Single-valued navigations are stored too (once PATCHed).
pub(super) fn stored_collections(model: &Model) -> Vec<(String, &StructuredType)> {
    let mut out = Vec::new();
    for root in model.roots() {
        let Some(ty) = model.structured(&root.type_name) else {
            continue;
        };
        match root.kind {
            RootKind::Singleton => walk(model, ty, "", 0, &mut out),
            RootKind::EntitySet => {
                // A typed view (`stored-in`) indexes the collection that holds its members.
                let stored = root
                    .navigation
                    .root
                    .stored_in
                    .as_ref()
                    .unwrap_or(&root.name);
                out.push((stored.clone(), ty));
                walk(model, ty, stored, 0, &mut out);
            }
            RootKind::OperationImport => {}
        }
    }
    out
}

/// The collections whose bodies SQLite packs: those of a type the model declares `packed`.
pub(super) fn packed_collections(model: &Model) -> Vec<(String, &StructuredType)> {
    let mut out = stored_collections(model);
    out.retain(|(_, ty)| ty.packed);
    out
}

/// The collections SQLite keeps in tables of their own: those of a type the model declares
/// `own-table` (a collection stored under several types counts once).
pub(super) fn own_table_collections(model: &Model) -> Vec<String> {
    let mut out: Vec<String> = stored_collections(model)
        .into_iter()
        .filter(|(_, ty)| ty.own_table)
        .map(|(collection, _)| collection)
        .collect();
    out.sort();
    out.dedup();
    out
}

fn walk<'m>(
    model: &'m Model,
    ty: &'m StructuredType,
    prefix: &str,
    depth: usize,
    out: &mut Vec<(String, &'m StructuredType)>,
) {
    if depth >= MAX_DEPTH {
        return;
    }
    // Beta has every navigation; types derived from `ty` bring their own.
    let mut types = vec![ty];
    types.extend(model.concrete_types(&ty.name, Version::Beta));
    let mut seen: Vec<&str> = Vec::new();
    for t in types {
        for nav in model.navigations(t, Version::Beta) {
            let Some(target) = model.structured(&nav.target) else {
                continue;
            };
            // Linked members and views are stored elsewhere (their own root, the viewed path).
            if nav.links.is_some() || nav.rules.view.is_some() {
                continue;
            }
            if seen.contains(&nav.name.as_str()) {
                continue;
            }
            seen.push(&nav.name);
            let path = if prefix.is_empty() {
                nav.name.clone()
            } else {
                format!("{prefix}/{}", nav.name)
            };
            out.push((path.clone(), target));
            walk(model, target, &path, depth + 1, out);
        }
    }
}

/// The index on `properties` of the members of `collection`, for both dialects; SQLite's over
/// slot columns where the collection has them free.
fn index(
    model: &Model,
    collection: &str,
    ty: &StructuredType,
    properties: &[&str],
    slots: &mut Slots,
) -> Result<ModelIndex, StoreError> {
    // Each key's value as an expression over the body, per dialect.
    let values = |dialect| {
        let mut out = Vec::new();
        for property in properties {
            // The member's type, for a typed view's order within one type.
            if *property == TYPE {
                out.push(None);
                continue;
            }
            if !sql::is_plain(property) {
                return Err(StoreError::Backend(format!(
                    "indexed property '{property}' is not a plain name"
                )));
            }
            let operand = operand(model, ty, property)?;
            let value = |mut sql: Sql| {
                let text = sql::comparable(&mut sql, &operand, false);
                if sql.params.is_empty() {
                    Ok(text)
                } else {
                    Err(StoreError::Backend(format!(
                        "index on {property}: the value takes parameters"
                    )))
                }
            };
            // A packed collection's rows are read unpacked (SQLite's layout; PostgreSQL's is plain).
            let stored = match dialect {
                Dialect::Sqlite => Sql::with_layout(
                    dialect,
                    Layout {
                        slots: None,
                        packed: slots.layout(collection).packed,
                        own_table: None,
                    },
                ),
                Dialect::Postgres => Sql::new(dialect),
            };
            out.push(Some((
                value(Sql::new(dialect))?,
                value(stored)?,
                value(Sql::over_new_body(dialect))?,
            )));
        }
        Ok(out)
    };
    let table = slots.table(collection).to_string();
    let template_on = |table: &str, columns: String| {
        sql::in_collection(
            &format!(
                "CREATE INDEX IF NOT EXISTS {{N}} ON {table} ({columns}) WHERE collection = {{C}}"
            ),
            collection,
        )
    };
    let template = |columns: String| template_on(SHARED, columns);
    let columns = |values: Vec<String>| format!("tenant, parent, {}, seq", values.join(", "));
    let sqlite_values = values(Dialect::Sqlite)?;
    // SQLite as it indexed before slots, which names the PostgreSQL index too.
    let expressions = template(columns(
        sqlite_values
            .iter()
            .map(|v| v.as_ref().map_or(TYPE.to_string(), |(e, _, _)| e.clone()))
            .collect(),
    ))?;
    // PostgreSQL takes an expression column only in parentheses.
    let postgres = template(columns(
        values(Dialect::Postgres)?
            .into_iter()
            .map(|v| v.map_or(TYPE.to_string(), |(e, _, _)| format!("({e})")))
            .collect(),
    ))?;
    let mut used = Vec::new();
    let mut sqlite_columns = Vec::new();
    for value in &sqlite_values {
        let column = match value {
            None => TYPE.to_string(),
            Some((_, expression, over_new)) => match slots.assign(collection, expression, over_new)
            {
                Some(slot) => {
                    let column = slot.column.clone();
                    used.push(slot);
                    column
                }
                None => expression.clone(),
            },
        };
        sqlite_columns.push(column);
    }
    // A table of its own leads with the scope's number (`tables`) instead of tenant and parent.
    let sqlite = if table == SHARED {
        template_on(&table, columns(sqlite_columns))?
    } else {
        template_on(&table, format!("scope, {}, seq", sqlite_columns.join(", ")))?
    };
    let hash = fnv1a(expressions.as_bytes()) ^ fnv1a(postgres.as_bytes()).rotate_left(1);
    let property = properties.join("+");
    let readable: String = properties
        .join("_")
        .to_ascii_lowercase()
        .chars()
        .take(MAX_NAME - PREFIX.len() - 17)
        .collect();
    let name = format!("{PREFIX}{readable}_{hash:016x}");
    // Over slots, the name also says what the slots hold; in a table of its own, which.
    let sqlite_name = if used.is_empty() && table == SHARED {
        name.clone()
    } else {
        let held: String = used.iter().map(|s| s.expression.as_str()).collect();
        let hash = fnv1a(sqlite.as_bytes()) ^ fnv1a(held.as_bytes()).rotate_left(1);
        format!("{PREFIX}{readable}_{hash:016x}")
    };
    Ok(ModelIndex {
        collection: collection.to_string(),
        table,
        property,
        slots: used,
        sqlite: sqlite.replace("{N}", &sqlite_name),
        postgres: postgres.replace("{N}", &name),
        sqlite_name,
        name,
    })
}

/// The pseudo-property naming the member's type column.
const TYPE: &str = "type_name";

/// `(tenant, parent, type_name, seq)` over `collection` (a typed view's, kept in the shared table).
fn by_type(collection: &str) -> Result<ModelIndex, StoreError> {
    let sqlite = sql::in_collection(
        "CREATE INDEX IF NOT EXISTS {N} ON entity (tenant, parent, type_name, seq) WHERE collection = {C}",
        collection,
    )?;
    let name = format!("{PREFIX}type_{:016x}", fnv1a(sqlite.as_bytes()));
    Ok(ModelIndex {
        collection: collection.to_string(),
        table: SHARED.to_string(),
        property: "type_name".to_string(),
        slots: Vec::new(),
        sqlite_name: name.clone(),
        postgres: sqlite.replace("{N}", &name),
        sqlite: sqlite.replace("{N}", &name),
        name,
    })
}

/// The operand a filter or sort on `property` of `ty` binds to.
fn operand(model: &Model, ty: &StructuredType, property: &str) -> Result<Operand, StoreError> {
    let options = QueryOptions::parse([("$orderby", property)], false)
        .map_err(|e| StoreError::Backend(e.message))?;
    let bound = bind::bind(model, Version::Beta, ty, &options)
        .map_err(|e| StoreError::Backend(format!("index on {property}: {}", e.message)))?;
    bound
        .orderby
        .into_iter()
        .next()
        .map(|(o, _)| o)
        .ok_or_else(|| StoreError::Backend(format!("index on {property}: no operand")))
}

/// The generated indexes, as the store finds and drops them.
pub const INDEXES: Kind = Kind {
    list_sqlite: "SELECT name FROM sqlite_master WHERE type = 'index' AND substr(name, 1, length(?1)) = ?1",
    list_postgres: "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'entity' AND left(indexname, length($1)) = $1",
    names: |names| names,
    drop_sql: |name, _| format!("DROP INDEX IF EXISTS {name}"),
    prefix: PREFIX,
};

impl Generated for ModelIndex {
    fn name(&self, dialect: Dialect) -> &str {
        match dialect {
            Dialect::Sqlite => &self.sqlite_name,
            Dialect::Postgres => &self.name,
        }
    }
    fn create_sql(&self, dialect: Dialect) -> String {
        self.statement(dialect).to_string()
    }

    /// Fills the slots the new indexes read from the bodies: one pass over each collection, run
    /// over `seq` ranges (`sync_sqlite` commits each range).
    fn prepare_sqlite(created: &[&Self]) -> Vec<(String, String)> {
        let mut by_collection: Vec<(&str, &str, Vec<&Slot>)> = Vec::new();
        for index in created {
            let at = match by_collection
                .iter()
                .position(|(c, _, _)| *c == index.collection)
            {
                Some(at) => at,
                None => {
                    by_collection.push((&index.collection, &index.table, Vec::new()));
                    by_collection.len() - 1
                }
            };
            let slots = &mut by_collection[at].2;
            for slot in &index.slots {
                if !slots.contains(&slot) {
                    slots.push(slot);
                }
            }
        }
        by_collection
            .into_iter()
            .filter(|(_, _, slots)| !slots.is_empty())
            .filter_map(|(collection, table, slots)| {
                let sets: Vec<String> = slots
                    .iter()
                    .map(|s| format!("{} = {}", s.column, s.expression))
                    .collect();
                let fill = format!(
                    "UPDATE {table} SET {} WHERE collection = {{C}} AND seq >= ?1 AND seq < ?2",
                    sets.join(", ")
                );
                let fill = sql::in_collection(&fill, collection).ok()?;
                Some((table.to_string(), fill))
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_slice_packs_its_audit_events_managed_devices_and_policy_states() {
        let model = Model::intune().unwrap();
        let mut packed: Vec<String> = packed_collections(model)
            .into_iter()
            .map(|(collection, _)| collection)
            .collect();
        packed.sort();
        assert_eq!(
            packed,
            [
                "auditEvents",
                "managedDevices",
                "managedDevices/deviceCompliancePolicyStates"
            ]
        );
    }

    #[test]
    fn the_slice_declares_the_indexes_that_were_written_by_hand() {
        let model = Model::intune().unwrap();
        let mut found: Vec<(String, String)> = declared(model)
            .unwrap()
            .0
            .into_iter()
            .map(|i| (i.collection, i.property))
            .collect();
        found.sort();
        let statuses = "deviceCompliancePolicies/deviceStatuses";
        // The directory's views share one collection and so one index of each property.
        let wanted = [
            ("assignmentFilters", "displayName"),
            // The audit log is filtered by time and category.
            ("auditEvents", "activityDateTime"),
            ("auditEvents", "category"),
            ("deviceCompliancePolicies", "displayName"),
            ("deviceCompliancePolicies", "lastModifiedDateTime"),
            // The console's default order of a policy's statuses.
            (statuses, "deviceDisplayName"),
            (statuses, "lastReportedDateTime"),
            (statuses, "status"),
            (statuses, "userPrincipalName"),
            ("directoryObjects", "deviceId"),
            ("directoryObjects", "displayName"),
            // Users, groups and devices listed by type, and one type sorted.
            ("directoryObjects", "type_name"),
            ("directoryObjects", "type_name+deviceId"),
            ("directoryObjects", "type_name+displayName"),
            // The engine finds a managed device's directory device, and lists by verdict.
            ("managedDevices", "azureADDeviceId"),
            ("managedDevices", "complianceState"),
            ("managedDevices", "deviceName"),
            ("managedDevices", "lastSyncDateTime"),
            ("managedDevices", "operatingSystem"),
            // Devices of one platform with one verdict.
            ("managedDevices", "operatingSystem+complianceState"),
            ("managedDevices", "userId"),
            ("managedDevices", "userPrincipalName"),
        ];
        let wanted: Vec<(String, String)> = wanted
            .iter()
            .map(|(c, p)| (c.to_string(), p.to_string()))
            .collect();
        assert_eq!(found, wanted);
    }

    #[test]
    fn statements_have_the_shape_of_the_queries() {
        let model = Model::intune().unwrap();
        let (all, slots) = declared(model).unwrap();
        let reported = all
            .iter()
            .find(|i| i.property == "lastReportedDateTime")
            .unwrap();
        assert!(reported
            .name
            .starts_with("model_index_lastreporteddatetime_"));
        assert!(reported.name.len() <= MAX_NAME);
        // SQLite indexes a slot column, filled from the bodies first; the slot is the
        // collection's, and holds what a filter on the property computes.
        let statuses = "deviceCompliancePolicies/deviceStatuses";
        let ticks = "dto_ticks(json_extract(body, '$.lastReportedDateTime'))";
        assert_eq!(reported.slots.len(), 1);
        let k = &reported.slots[0];
        assert_eq!(k.expression, ticks);
        assert_eq!(
            k.over("?6"),
            "dto_ticks(json_extract(?6, '$.lastReportedDateTime'))"
        );
        assert_eq!(
            slots
                .of(statuses)
                .unwrap()
                .iter()
                .filter(|s| s == &k)
                .count(),
            1
        );
        assert_ne!(reported.sqlite_name, reported.name);
        assert!(reported.sqlite_name.len() <= MAX_NAME);
        // …in the statuses' table of their own.
        let table = slots.table(statuses);
        assert!(table.starts_with("own_devicecompliancepolicies_devicestatuses_"));
        assert_eq!(reported.table, table);
        assert_eq!(
            reported.create_sql(Dialect::Sqlite),
            format!("CREATE INDEX IF NOT EXISTS {} ON {table} (scope, {c}, seq) WHERE collection = '{statuses}'", reported.sqlite_name, c = k.column)
        );
        // Before the indexes are made, each collection's slots are filled in one pass.
        let status_indexes: Vec<&ModelIndex> =
            all.iter().filter(|i| i.collection == statuses).collect();
        let fills = ModelIndex::prepare_sqlite(&status_indexes);
        assert_eq!(fills.len(), 1);
        assert_eq!(fills[0].0, table);
        let fills: Vec<&String> = fills.iter().map(|(_, fill)| fill).collect();
        let held = slots.of(statuses).unwrap();
        assert_eq!(held.len(), 4);
        for slot in held.iter() {
            assert!(
                fills[0].contains(&format!("{} = {}", slot.column, slot.expression)),
                "{}",
                fills[0]
            );
        }
        assert!(fills[0].starts_with(&format!("UPDATE {table} SET ")));
        assert!(fills[0].ends_with(&format!(
            "WHERE collection = '{statuses}' AND seq >= ?1 AND seq < ?2"
        )));
        assert_eq!(
            reported.create_sql(Dialect::Postgres),
            format!("CREATE INDEX IF NOT EXISTS {} ON entity (tenant, parent, (dto_ticks(((body->>'lastReportedDateTime') COLLATE \"C\"))), seq) WHERE collection = 'deviceCompliancePolicies/deviceStatuses'", reported.name)
        );
        // Names are unique and stable: the same model gives the same names.
        let again = declared(model).unwrap().0;
        assert_eq!(all, again);
        let mut names: Vec<&str> = all.iter().map(|i| i.sqlite_name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn the_plan_drops_only_generated_indexes_the_model_left() {
        let model = Model::intune().unwrap();
        let all = declared(model).unwrap().0;
        let present = vec![all[0].name.clone(), format!("{PREFIX}gone_0")];
        let (drop, create) = super::super::generated::plan(&present, &all, Dialect::Postgres);
        assert_eq!(drop, vec![format!("{PREFIX}gone_0")]);
        assert_eq!(create.len(), all.len() - 1);
    }
}
