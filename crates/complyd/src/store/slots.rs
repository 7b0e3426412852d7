//! Slot columns (SQLite): the value each generated index orders by, kept in a column of its own
//! (`k0` … `k7`) beside the body instead of an expression over it. An update then rewrites only
//! the index entries whose values changed: a device status restamped with a new
//! `lastReportedDateTime` touches one index, not all four of its collection, and a device's
//! check-in one or two of its eight.
//!
//! A slot holds exactly what the index's expression gives (the same SQL over the same body), so
//! a query may read the slot where it would have computed the expression: the SQL generator
//! substitutes the column for the expression's text. Slots are numbered per collection in the
//! order the model declares its indexes; a collection with more indexed values than columns
//! keeps expression indexes for the rest. PostgreSQL keeps expression indexes (its slot columns
//! would need a type each).

use super::packing::{Dictionary, UNPACKED_BODY};
use super::tables::{self, OwnTable, SHARED};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How many slot columns the entity table has (migration 0009).
pub const COLUMNS: usize = 8;

/// Where the new body's parameter goes in [`Slot::over_new`].
pub const NEW_BODY: &str = "{B}";

/// One slot column of one collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// `k0` … `k7`.
    pub column: String,
    /// The value over the stored row's `body`, as the index and queries write it.
    pub expression: String,
    /// The same value over a body given as a parameter ([`NEW_BODY`] marks it).
    pub over_new: String,
    /// The one top-level member `over_new` reads, when that is all it reads of the body.
    pub member: Option<String>,
}

impl Slot {
    /// The value over the body in parameter `placeholder` (`?6`).
    pub fn over(&self, placeholder: &str) -> String {
        self.over_new.replace(NEW_BODY, placeholder)
    }
}

/// How SQLite keeps one collection's rows beyond the columns every row has.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Its slot columns (none when it has no slotted index).
    pub slots: Option<Arc<[Slot]>>,
    /// Its bodies are packed (`packing`), with this dictionary.
    pub packed: Option<Dictionary>,
    /// The table of its own it is kept in (`tables`); none: the shared `entity`.
    pub own_table: Option<Arc<str>>,
}

impl Layout {
    /// The table its rows are in.
    pub fn table(&self) -> &str {
        self.own_table.as_deref().unwrap_or(SHARED)
    }

    /// The SQL expression of a row's body as JSON text.
    pub fn body(&self) -> &'static str {
        if self.packed.is_some() {
            UNPACKED_BODY
        } else {
            "body"
        }
    }
}

/// Every collection's slots, which collections are packed, and which have tables of their own.
#[derive(Debug, Clone, Default)]
pub struct Slots {
    by_collection: HashMap<String, Arc<[Slot]>>,
    packed: HashMap<String, Dictionary>,
    own_tables: BTreeMap<String, OwnTable>,
}

impl Slots {
    /// The slots of `collection` (none when it has no slotted index).
    pub fn of(&self, collection: &str) -> Option<Arc<[Slot]>> {
        self.by_collection.get(collection).cloned()
    }

    /// How `collection` is kept.
    pub fn layout(&self, collection: &str) -> Layout {
        Layout {
            slots: self.of(collection),
            packed: self.packed.get(collection).copied(),
            own_table: self.own_tables.get(collection).map(|t| t.name.clone()),
        }
    }

    /// The table `collection`'s rows are in.
    pub fn table(&self, collection: &str) -> &str {
        self.own_tables.get(collection).map_or(SHARED, |t| &*t.name)
    }

    /// Gives `collection` a table of its own; an error when its range of `seq` is another's.
    pub fn give_own_table(&mut self, collection: &str) -> Result<(), super::StoreError> {
        let table = tables::own_table(collection)?;
        if let Some(other) = self
            .own_tables
            .values()
            .find(|t| t.first_seq == table.first_seq)
        {
            if other.collection != collection {
                return Err(super::StoreError::Backend(format!(
                    "the tables of {collection} and {} would share their range of seq",
                    other.collection
                )));
            }
        }
        self.own_tables.insert(collection.to_string(), table);
        Ok(())
    }

    /// Every table of its own, by collection.
    pub fn own_tables(&self) -> impl Iterator<Item = &OwnTable> {
        self.own_tables.values()
    }

    /// Every table holding rows: the shared one, then each of its own.
    pub fn all_tables(&self) -> Vec<&str> {
        std::iter::once(SHARED)
            .chain(self.own_tables.values().map(|t| &*t.name))
            .collect()
    }

    /// The tables of their own whose collections lie below `collection` (`collection/…`).
    pub fn own_tables_below<'a>(
        &'a self,
        collection: &'a str,
    ) -> impl Iterator<Item = &'a OwnTable> {
        self.own_tables.values().filter(move |t| {
            t.collection
                .strip_prefix(collection)
                .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// Marks `collection`'s bodies packed with `dictionary` (before its slots are assigned: their
    /// expressions read the unpacked body).
    pub fn pack(&mut self, collection: &str, dictionary: Dictionary) {
        self.packed.insert(collection.to_string(), dictionary);
    }

    /// The slot holding `expression` in `collection`, assigning the next free column when it has
    /// none; `None` when every column of the collection is taken.
    pub fn assign(&mut self, collection: &str, expression: &str, over_new: &str) -> Option<Slot> {
        let slots = self
            .by_collection
            .entry(collection.to_string())
            .or_insert_with(|| Arc::from(Vec::new()));
        if let Some(slot) = slots.iter().find(|s| s.expression == expression) {
            return Some(slot.clone());
        }
        if slots.len() >= COLUMNS {
            return None;
        }
        let slot = Slot {
            column: format!("k{}", slots.len()),
            expression: expression.to_string(),
            over_new: over_new.to_string(),
            member: member_read(over_new),
        };
        let mut grown = slots.to_vec();
        grown.push(slot.clone());
        *slots = Arc::from(grown);
        Some(slot)
    }
}

/// The top-level member an expression over [`NEW_BODY`] reads, when it reads only that one:
/// every use of the body is `json_extract({B}, '$.name…')` for the same plain `name`.
fn member_read(over_new: &str) -> Option<String> {
    let mut member: Option<&str> = None;
    let mut uses = over_new.split(NEW_BODY);
    uses.next();
    for after in uses {
        let path = after.strip_prefix(", '$.")?;
        let end = path.find(['\'', '.', '['])?;
        let name = &path[..end];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        if member.is_some_and(|m| m != name) {
            return None;
        }
        member = Some(name);
    }
    member.map(str::to_string)
}

/// What the slot expressions of a write are given as the new body: only the members they read
/// (`json_members::picked`), or the whole `body` when some slot reads it otherwise or the walk
/// cannot take it.
pub fn source<'b>(slots: &[Slot], body: &'b str) -> std::borrow::Cow<'b, str> {
    let mut names: Vec<&str> = Vec::with_capacity(slots.len());
    for slot in slots {
        match &slot.member {
            Some(name) => names.push(name),
            None => return body.into(),
        }
    }
    match super::json_members::picked(body, &names) {
        Some(picked) => picked.into(),
        None => body.into(),
    }
}

/// The slot column holding `text` among `slots`, if one does.
pub fn column_for<'s>(slots: &'s [Slot], text: &str) -> Option<&'s str> {
    slots
        .iter()
        .find(|s| s.expression == text)
        .map(|s| s.column.as_str())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_collection_numbers_its_values_once_and_runs_out_at_the_last_column() {
        let mut slots = Slots::default();
        let a = slots.assign("c", "x(body)", "x({B})").unwrap();
        assert_eq!(a.column, "k0");
        assert_eq!(a.over("?6"), "x(?6)");
        // The same value is one slot, however many indexes use it.
        assert_eq!(slots.assign("c", "x(body)", "x({B})").unwrap(), a);
        // Each collection numbers its own.
        assert_eq!(slots.assign("d", "y(body)", "y({B})").unwrap().column, "k0");
        for i in 1..COLUMNS {
            let e = format!("v{i}(body)");
            assert_eq!(slots.assign("c", &e, &e).unwrap().column, format!("k{i}"));
        }
        assert_eq!(slots.assign("c", "late(body)", "late({B})"), None);
        let c = slots.of("c").unwrap();
        assert_eq!(c.len(), COLUMNS);
        assert_eq!(column_for(&c, "v3(body)"), Some("k3"));
        assert_eq!(column_for(&c, "late(body)"), None);
        assert!(slots.of("e").is_none());
    }

    #[test]
    fn a_slot_names_the_member_it_reads_only_when_that_is_all_it_reads() {
        let read = |over_new: &str| member_read(over_new);
        assert_eq!(
            read("dto_ticks(json_extract({B}, '$.lastReportedDateTime'))").as_deref(),
            Some("lastReportedDateTime")
        );
        assert_eq!(
            read("lower(json_extract({B}, '$.actor.userPrincipalName'))").as_deref(),
            Some("actor")
        );
        assert_eq!(
            read("json_extract({B}, '$.a') || json_extract({B}, '$.a[0]')").as_deref(),
            Some("a")
        );
        for other in [
            "length({B})",
            "json_extract({B}, '$.a') || json_extract({B}, '$.b')",
            "json_extract({B}, '$.\"@odata.type\"')",
            "json_extract({B}, '$')",
            "x(body)",
        ] {
            assert_eq!(read(other), None, "{other}");
        }
        let mut slots = Slots::default();
        slots
            .assign("c", "a(body)", "json_extract({B}, '$.a')")
            .unwrap();
        let one = slots.of("c").unwrap();
        assert_eq!(source(&one, r#"{"b":1,"a":"x"}"#), r#"{"a":"x"}"#);
        // A text the walk cannot take goes whole.
        assert_eq!(source(&one, r#"{"b":}"#), r#"{"b":}"#);
        slots.assign("c", "b(body)", "length({B})").unwrap();
        let both = slots.of("c").unwrap();
        assert_eq!(source(&both, r#"{"b":1,"a":"x"}"#), r#"{"b":1,"a":"x"}"#);
    }
}
