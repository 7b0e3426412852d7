//! What ties entities together, as the model declares it: values that must name a member of
//! another collection (`references`), members every tenant has (`builtin`), and rules over a
//! collection's members (`one-default`, `unique`). The checks that depend on what is stored run
//! inside the write's transaction, so a concurrent change cannot slip between check and write.

use super::fidelity::{self, Fidelity};
use super::locate::Location;
use super::{not_found, parse_body, NewRow};
use crate::error::ApiError;
use crate::store::{Key, Row, WriteTx};
use odata::edm::{CollectionRules, Model, Navigation, StructuredType, TypeKind, ValueType};
use odata::path::ResourcePath;
use odata::validate::Validated;
use odata::Version;
use serde_json::{Map, Value};

/// The most members a collection with member rules (`one-default`, `unique`) holds: its rules
/// are checked over all of them inside one write.
pub const MAX_RULED_MEMBERS: usize = 1000;

/// A value that must name a stored member when the write commits.
#[derive(Debug, Clone)]
pub struct RefCheck {
    key: Key,
    message: String,
}

/// Fails with the first check whose member does not exist.
pub fn check_references(tx: &mut dyn WriteTx, checks: &[RefCheck]) -> Result<(), ApiError> {
    for check in checks {
        if !tx.exists(&check.key)? {
            return Err(ApiError::bad_request(check.message.clone()));
        }
    }
    Ok(())
}

/// Collects the reference checks of a validated entity, its complex values and its deep-inserted
/// children. Values a check needs no store for (built-in members, excepted values) are settled
/// here; a value that can never name a member is refused here.
pub struct References {
    pub model: &'static Model,
    pub tenant: String,
    pub fidelity: Fidelity,
}

impl References {
    /// The checks of an update: the properties it changes, and those whose `when` depends on a
    /// property it changes, read from the entity as it will be stored.
    pub fn of_changes(
        &self,
        ty: &StructuredType,
        merged: &Map<String, Value>,
        changes: &Map<String, Value>,
        out: &mut Vec<RefCheck>,
    ) -> Result<(), ApiError> {
        let mut relevant = Map::new();
        for (name, value) in merged {
            let Some(prop) = self.model.property(ty, name, Version::Beta) else {
                continue;
            };
            let when = prop.reference.as_ref().and_then(|r| r.when.as_ref());
            let touched = changes.contains_key(name)
                || when.is_some_and(|(other, _)| changes.contains_key(other));
            if touched {
                relevant.insert(name.clone(), value.clone());
                if let Some((other, _)) = when {
                    if let Some(v) = merged.get(other) {
                        relevant.insert(other.clone(), v.clone());
                    }
                }
            }
        }
        self.of_properties(ty, &relevant, "", out)
    }

    pub fn of_entity(
        &self,
        v: &Validated<'_>,
        path: &str,
        out: &mut Vec<RefCheck>,
    ) -> Result<(), ApiError> {
        self.of_properties(v.ty, &v.properties, path, out)?;
        for (nav, members) in &v.children {
            for (i, member) in members.iter().enumerate() {
                self.of_entity(member, &format!("{}{}[{i}].", path, nav.name), out)?;
            }
        }
        Ok(())
    }

    /// The checks of `properties` (an entity's or a complex value's) of type `ty`.
    pub fn of_properties(
        &self,
        ty: &StructuredType,
        properties: &Map<String, Value>,
        path: &str,
        out: &mut Vec<RefCheck>,
    ) -> Result<(), ApiError> {
        self.missing_selected(ty, properties, path)?;
        for (name, value) in properties {
            let Some(prop) = self.model.property(ty, name, Version::Beta) else {
                continue;
            };
            let here = format!("{path}{name}");
            if let ValueType::Complex(declared) = &prop.ty.value {
                self.of_complex(declared, value, &here, out)?;
            }
            let Some(reference) = &prop.reference else {
                continue;
            };
            if reference.live_checked && self.fidelity != Fidelity::Intune {
                continue;
            }
            let selected = match &reference.when {
                Some((other, wanted)) => {
                    properties.get(other).and_then(Value::as_str) == Some(wanted.as_str())
                }
                None => true,
            };
            if !selected {
                continue;
            }
            let target = self.target(&reference.path)?;
            let values: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                Value::Null if reference.when.is_none() => Vec::new(),
                other => vec![other],
            };
            for value in values {
                let text = value.as_str().unwrap_or_default();
                if reference.excepts(text) || target.rules.builtin(text).is_some() {
                    continue;
                }
                // Without `when`, an empty single value names nothing, as null does.
                if text.is_empty() && reference.when.is_none() && !prop.ty.collection {
                    continue;
                }
                let message = self.refusal(reference, &here, text, &target);
                if text.is_empty() {
                    return Err(ApiError::bad_request(message));
                }
                out.push(RefCheck {
                    key: Key {
                        tenant: self.tenant.clone(),
                        collection: target.collection.clone(),
                        parent: String::new(),
                        id: text.to_string(),
                    },
                    message,
                });
            }
        }
        Ok(())
    }

    /// A reference its `when` selects must be given: absent, it names nothing.
    fn missing_selected(
        &self,
        ty: &StructuredType,
        properties: &Map<String, Value>,
        path: &str,
    ) -> Result<(), ApiError> {
        for prop in self.model.all_properties(ty) {
            let Some(reference) = &prop.reference else {
                continue;
            };
            let Some((other, wanted)) = &reference.when else {
                continue;
            };
            let live_only = reference.live_checked && self.fidelity != Fidelity::Intune;
            let selected = properties.get(other).and_then(Value::as_str) == Some(wanted.as_str());
            if selected && !live_only && !properties.contains_key(&prop.name) {
                let target = self.target(&reference.path)?;
                let here = format!("{path}{}", prop.name);
                return Err(ApiError::bad_request(
                    self.refusal(reference, &here, "", &target),
                ));
            }
        }
        Ok(())
    }

    fn of_complex(
        &self,
        declared: &str,
        value: &Value,
        path: &str,
        out: &mut Vec<RefCheck>,
    ) -> Result<(), ApiError> {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for (i, item) in items.into_iter().enumerate() {
            let Value::Object(object) = item else {
                continue;
            };
            let named = object.get("@odata.type").and_then(Value::as_str);
            let ty = named
                .and_then(|n| self.model.resolve_type_name(n))
                .or_else(|| self.model.structured(declared))
                .filter(|t| t.kind == TypeKind::Complex);
            if let Some(ty) = ty {
                let here = if value.is_array() {
                    format!("{path}[{i}].")
                } else {
                    format!("{path}.")
                };
                self.of_properties(ty, object, &here, out)?;
            }
        }
        Ok(())
    }

    fn target(&self, path: &str) -> Result<Target, ApiError> {
        let parsed = ResourcePath::parse(self.model, Version::Beta, path)
            .map_err(|e| ApiError::Internal(format!("references /{path}: {}", e.message)))?;
        let step = parsed
            .steps
            .last()
            .ok_or_else(|| ApiError::Internal(format!("references /{path}: no collection")))?;
        Ok(Target {
            path: path.to_string(),
            collection: Location::of("", &parsed).collection,
            type_name: step.target.short_name().to_string(),
            rules: step.navigation.rules.clone(),
        })
    }

    fn refusal(
        &self,
        reference: &odata::edm::Reference,
        property: &str,
        value: &str,
        target: &Target,
    ) -> String {
        if self.fidelity == Fidelity::Intune {
            if let Some(live) = reference
                .live_message
                .as_deref()
                .and_then(|n| fidelity::live_message(n, value))
            {
                return live;
            }
        }
        let except = match reference.except.as_slice() {
            [] => String::new(),
            values => format!(" or be {}", values.join(" or ")),
        };
        let when = match &reference.when {
            Some((p, v)) => format!(" when {p} is {v}"),
            None => String::new(),
        };
        format!(
            "The value '{value}' of '{property}' does not name a {} of this tenant (/{}); it must name one{except}{when}.",
            target.type_name, target.path
        )
    }
}

/// The collection a reference names.
struct Target {
    path: String,
    collection: String,
    type_name: String,
    rules: CollectionRules,
}

/// Inserts the built-in members of `nav`'s collection (at `collection`, under `parent`) that the
/// tenant lacks, in one write; existing ones are left as they are.
pub fn insert_builtins(
    model: &'static Model,
    tx: &mut dyn WriteTx,
    tenant: &str,
    nav: &Navigation,
    collection: &str,
) -> Result<(), ApiError> {
    let Some(ty) = model.structured(&nav.target) else {
        return Ok(());
    };
    for builtin in &nav.rules.builtins {
        let key = Key {
            tenant: tenant.to_string(),
            collection: collection.to_string(),
            parent: String::new(),
            id: builtin.id.clone(),
        };
        if tx.exists(&key)? {
            continue;
        }
        let body = super::canonical(model, ty, &builtin.body);
        tx.insert(&key, &ty.name, &Value::Object(body).to_string())?;
    }
    Ok(())
}

/// Refuses to delete a built-in member.
pub fn refuse_builtin_delete(nav: &Navigation, id: &str) -> Result<(), ApiError> {
    match nav.rules.builtin(id) {
        Some(b) => {
            let name = b
                .body
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or(id);
            Err(ApiError::bad_request(format!(
                "'{id}' ({name}) is built in and cannot be deleted."
            )))
        }
        None => Ok(()),
    }
}

/// The stored members of the collection `row` joins (or belongs to), within the limit.
fn siblings(tx: &mut dyn WriteTx, key: &Key) -> Result<Vec<Row>, ApiError> {
    let members = tx.members(
        &key.tenant,
        &key.collection,
        &key.parent,
        MAX_RULED_MEMBERS + 1,
    )?;
    Ok(members.into_iter().filter(|r| r.key.id != key.id).collect())
}

fn flag(body: &Map<String, Value>, name: &str) -> bool {
    body.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn same_text(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a.and_then(Value::as_str), b.and_then(Value::as_str)) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => a.is_some() && a == b,
    }
}

/// The member rules over new rows created together (a deep insert): within each collection, no
/// two share a `unique` value, at most one is flagged, and the first is flagged when none is.
pub fn settle_new_members(
    rows: &mut [NewRow],
    navs: &[(String, &Navigation)],
) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    for (collection, nav) in navs {
        if !seen.insert(collection) {
            continue;
        }
        let rules = &nav.rules;
        let group: Vec<usize> = (0..rows.len())
            .filter(|&i| &rows[i].key.collection == collection)
            .collect();
        for prop in &rules.unique {
            for (n, &i) in group.iter().enumerate() {
                if group[..n].iter().any(|&j| {
                    rows[j].key.parent == rows[i].key.parent
                        && same_text(rows[j].body.get(prop), rows[i].body.get(prop))
                }) {
                    return Err(duplicate(nav, prop, rows[i].body.get(prop)));
                }
            }
        }
        if let Some(flagged) = &rules.one_default {
            let mut parents: Vec<String> =
                group.iter().map(|&i| rows[i].key.parent.clone()).collect();
            parents.dedup();
            for parent in parents {
                let members: Vec<usize> = group
                    .iter()
                    .copied()
                    .filter(|&i| rows[i].key.parent == parent)
                    .collect();
                let set = members
                    .iter()
                    .filter(|&&i| flag(&rows[i].body, flagged))
                    .count();
                if set > 1 {
                    return Err(ApiError::bad_request(format!(
                        "At most one member of {} may have {flagged} true; {set} do.",
                        nav.name
                    )));
                }
                if let (0, Some(&first)) = (set, members.first()) {
                    rows[first].body.insert(flagged.clone(), Value::Bool(true));
                    rows[first].reprint();
                }
            }
        }
    }
    Ok(())
}

/// The member rules when `row` (planned, not yet inserted) joins its collection: a `unique`
/// value taken is refused; the first member is flagged; a flagged newcomer takes the flag from
/// the others.
pub fn admit_member(
    tx: &mut dyn WriteTx,
    nav: &Navigation,
    row: &mut NewRow,
) -> Result<(), ApiError> {
    let rules = &nav.rules;
    if rules.unique.is_empty() && rules.one_default.is_none() {
        return Ok(());
    }
    let others = siblings(tx, &row.key)?;
    if others.len() >= MAX_RULED_MEMBERS {
        return Err(ApiError::bad_request(format!(
            "{} holds {MAX_RULED_MEMBERS} members (the limit).",
            nav.name
        )));
    }
    let bodies = others
        .iter()
        .map(|r| parse_body(&r.body).map(|b| (r.key.clone(), b)))
        .collect::<Result<Vec<_>, _>>()?;
    for prop in &rules.unique {
        if bodies
            .iter()
            .any(|(_, b)| same_text(b.get(prop), row.body.get(prop)))
        {
            return Err(duplicate(nav, prop, row.body.get(prop)));
        }
    }
    if let Some(flagged) = &rules.one_default {
        if bodies.is_empty() {
            row.body.insert(flagged.clone(), Value::Bool(true));
            row.reprint();
        } else if flag(&row.body, flagged) {
            clear_flag(tx, &bodies, flagged)?;
        }
    }
    Ok(())
}

/// The member rules when a stored member changes from `before` to `after`.
pub fn admit_change(
    tx: &mut dyn WriteTx,
    nav: &Navigation,
    key: &Key,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Result<(), ApiError> {
    let rules = &nav.rules;
    if rules.unique.is_empty() && rules.one_default.is_none() {
        return Ok(());
    }
    let others = siblings(tx, key)?
        .iter()
        .map(|r| parse_body(&r.body).map(|b| (r.key.clone(), b)))
        .collect::<Result<Vec<_>, _>>()?;
    for prop in &rules.unique {
        if !same_text(before.get(prop), after.get(prop))
            && others
                .iter()
                .any(|(_, b)| same_text(b.get(prop), after.get(prop)))
        {
            return Err(duplicate(nav, prop, after.get(prop)));
        }
    }
    if let Some(flagged) = &rules.one_default {
        match (flag(before, flagged), flag(after, flagged)) {
            (true, false) => {
                return Err(ApiError::bad_request(format!(
                "{flagged} can only be set: to move it, set it to true on another member of {}.",
                nav.name
            )))
            }
            (false, true) => clear_flag(tx, &others, flagged)?,
            _ => {}
        }
    }
    Ok(())
}

/// Refuses to delete the flagged member while others remain.
pub fn admit_delete(tx: &mut dyn WriteTx, nav: &Navigation, key: &Key) -> Result<(), ApiError> {
    let Some(flagged) = &nav.rules.one_default else {
        return Ok(());
    };
    let row = tx.get(key)?.ok_or_else(|| not_found(key))?;
    if flag(&parse_body(&row.body)?, flagged) && !siblings(tx, key)?.is_empty() {
        return Err(ApiError::bad_request(format!(
            "This member of {} has {flagged} true; set {flagged} on another member before deleting it.",
            nav.name
        )));
    }
    Ok(())
}

fn clear_flag(
    tx: &mut dyn WriteTx,
    bodies: &[(Key, Map<String, Value>)],
    flagged: &str,
) -> Result<(), ApiError> {
    for (key, body) in bodies.iter().filter(|(_, b)| flag(b, flagged)) {
        let mut body = body.clone();
        body.insert(flagged.to_string(), Value::Bool(false));
        tx.update(key, &Value::Object(body).to_string())?;
    }
    Ok(())
}

fn duplicate(nav: &Navigation, prop: &str, value: Option<&Value>) -> ApiError {
    let shown = value.map_or_else(
        || "null".to_string(),
        |v| v.as_str().map_or_else(|| v.to_string(), str::to_string),
    );
    ApiError::bad_request(format!(
        "A member of {} with {prop} '{shown}' exists already; {prop} is unique there.",
        nav.name
    ))
}
