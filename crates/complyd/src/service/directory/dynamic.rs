//! Computed links (`links SET computed-by PROPERTY over TYPE,…`): dynamic groups.
//!
//! An owner's rule is kept in an index row beside the link set (`{links}_rules`, one row per
//! tenant), so that every write of an entity the rules range over reads it in its own
//! transaction (a row lock on PostgreSQL) and adds or removes that entity's links there and then.
//! When an owner's rule changes, the owner's members are recomputed: the rule is committed
//! first, the entities are read page by page outside any transaction, then one write applies
//! the difference, evaluating again each entity it touches against the stored state, so that a
//! change made meanwhile is neither lost nor undone.
//!
//! Entra's switches for a dynamic group are followed: an owner is computed while its
//! `groupTypes` include `DynamicMembership` (its rule then required); its membership is frozen
//! while `membershipRuleProcessingState` is `Paused`.

use super::errors::bad_request;
use super::View;
use crate::error::ApiError;
use crate::service::{rules, Service};
use crate::store::{Cursor, Key, Query, Related, WriteTx};
use odata::edm::{Model, StructuredType};
use odata::query::bind::Condition;
use odata::rule::{BoundRule, Candidate};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const DYNAMIC: &str = "DynamicMembership";
const GROUP_TYPES: &str = "groupTypes";
const PROCESSING: &str = "membershipRuleProcessingState";
const PAUSED: &str = "Paused";
/// Entities read per page when members are recomputed.
const SCAN_PAGE: usize = 2000;

/// One owner's rule for one computed link set, as the index keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub text: String,
    /// The short name of the type the rule selects (`device`).
    pub subject: String,
    pub paused: bool,
    pub owner_type: String,
    pub property: String,
}

/// What an owner's body says about one computed link set: its rule, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRule {
    pub links: String,
    pub entry: Option<Entry>,
}

fn index_key(tenant: &str, links: &str) -> Key {
    Key {
        tenant: tenant.to_string(),
        collection: format!("{links}_rules"),
        parent: String::new(),
        id: "index".into(),
    }
}

/// The computed link sets an owner of `ty` has: (link collection, rule property).
fn computed_sets(model: &Model, ty: &StructuredType) -> Vec<(String, String)> {
    model
        .navigations(ty, odata::Version::Beta)
        .into_iter()
        .filter_map(|n| {
            let links = n.links.as_ref()?;
            let computed = links.computed.as_ref()?;
            Some((
                model.link_collection(&links.set)?,
                computed.property.clone(),
            ))
        })
        .collect()
}

/// The rules `properties` (an owner's whole body) give each computed link set of `ty`; 400
/// when the switches and the rule disagree.
pub fn owned_rules(
    model: &'static Model,
    ty: &'static StructuredType,
    properties: &Map<String, Value>,
) -> Result<Vec<OwnedRule>, ApiError> {
    let mut out = Vec::new();
    for (links, property) in computed_sets(model, ty) {
        let text = properties.get(&property).and_then(Value::as_str);
        let dynamic = properties
            .get(GROUP_TYPES)
            .and_then(Value::as_array)
            .is_some_and(|types| {
                types
                    .iter()
                    .any(|t| t.as_str().is_some_and(|t| t.eq_ignore_ascii_case(DYNAMIC)))
            });
        let entry = match (text, dynamic) {
            (Some(text), true) => {
                let bound = rules::bound(model, ty, &property, text)?;
                Some(Entry {
                    text: text.to_string(),
                    subject: bound.subject.clone(),
                    paused: properties.get(PROCESSING).and_then(Value::as_str) == Some(PAUSED),
                    owner_type: ty.name.clone(),
                    property: property.clone(),
                })
            }
            (Some(_), false) => {
                return Err(bad_request(format!(
                "The {property} applies only to a group whose {GROUP_TYPES} include '{DYNAMIC}'."
            )))
            }
            (None, true) => {
                return Err(bad_request(format!(
                    "A group whose {GROUP_TYPES} include '{DYNAMIC}' needs a {property}."
                )))
            }
            (None, false) => None,
        };
        out.push(OwnedRule { links, entry });
    }
    Ok(out)
}

/// No rule for any computed link set of `ty` (an owner being deleted).
pub fn released(model: &Model, ty: &StructuredType) -> Vec<OwnedRule> {
    computed_sets(model, ty)
        .into_iter()
        .map(|(links, _)| OwnedRule { links, entry: None })
        .collect()
}

fn read_index(
    tx: &mut dyn WriteTx,
    tenant: &str,
    links: &str,
) -> Result<Map<String, Value>, ApiError> {
    Ok(match tx.get(&index_key(tenant, links))? {
        Some(row) => match serde_json::from_str(&row.body) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        },
        None => Map::new(),
    })
}

fn entry_of(value: &Value) -> Option<Entry> {
    Some(Entry {
        text: value.get("rule")?.as_str()?.to_string(),
        subject: value.get("subject")?.as_str()?.to_string(),
        paused: value.get("paused")?.as_bool()?,
        owner_type: value.get("ownerType")?.as_str()?.to_string(),
        property: value.get("property")?.as_str()?.to_string(),
    })
}

/// Records (or removes) an owner's rules in the index rows.
pub fn write_owned(
    tx: &mut dyn WriteTx,
    tenant: &str,
    owner: &str,
    owned: &[OwnedRule],
) -> Result<(), ApiError> {
    for rule in owned {
        let key = index_key(tenant, &rule.links);
        let existing = tx.get(&key)?.is_some();
        let mut index = read_index(tx, tenant, &rule.links)?;
        match &rule.entry {
            Some(e) => {
                index.insert(
                    owner.to_string(),
                    json!({"rule": e.text, "subject": e.subject, "paused": e.paused, "ownerType": e.owner_type, "property": e.property}),
                );
            }
            None if index.remove(owner).is_none() => continue,
            None => {}
        }
        let text = Value::Object(index).to_string();
        if existing {
            tx.update(&key, &text)?;
        } else {
            tx.insert(&key, "complyd.ruleIndex", &text)?;
        }
    }
    Ok(())
}

/// Whether `owner`'s links in `links` are computed (it has a rule, running or paused).
pub fn is_computed(
    tx: &mut dyn WriteTx,
    tenant: &str,
    links: &str,
    owner: &str,
) -> Result<bool, ApiError> {
    Ok(read_index(tx, tenant, links)?.contains_key(owner))
}

/// The computed link sets whose rules range over `ty`.
fn sets_over(model: &Model, ty: &StructuredType) -> Vec<String> {
    model
        .link_navigations()
        .filter_map(|(_, n)| {
            let links = n.links.as_ref()?;
            let computed = links.computed.as_ref()?;
            let over = computed.over.iter().any(|o| model.is_derived_from(ty, o));
            over.then(|| model.link_collection(&links.set)).flatten()
        })
        .collect()
}

/// The groups an entity is a direct member of, through the links of `links` (for `memberOf`).
fn direct_owners(
    tx: &mut dyn WriteTx,
    tenant: &str,
    storage: &str,
    links: &str,
    id: &str,
) -> Result<Vec<String>, ApiError> {
    let mut query = Query::all(tenant, storage, "");
    query.related = Some(Related {
        links: links.to_string(),
        anchor: id.to_string(),
        inverse: true,
        transitive: false,
    });
    Ok(tx
        .query(&query)?
        .into_iter()
        .map(|(row, _)| row.key.id)
        .collect())
}

/// After a write of an entity of `ty`: its links in every computed set over `ty`, as the rules
/// say now (inside the same transaction).
pub fn refresh_member(
    tx: &mut dyn WriteTx,
    model: &'static Model,
    tenant: &str,
    storage: &str,
    id: &str,
    ty: &StructuredType,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    for links in sets_over(model, ty) {
        let index = read_index(tx, tenant, &links)?;
        let mut groups: Option<Vec<String>> = None;
        for (owner, value) in &index {
            let Some(entry) = entry_of(value).filter(|e| !e.paused && e.subject == ty.short_name())
            else {
                continue;
            };
            let bound = bound_entry(model, &entry)?;
            if bound.uses_member_of && groups.is_none() {
                groups = Some(direct_owners(tx, tenant, storage, &links, id)?);
            }
            let candidate = Candidate {
                id,
                body,
                groups: groups.as_deref().unwrap_or_default(),
            };
            set_link(tx, tenant, &links, owner, id, bound.matches(&candidate))?;
        }
    }
    Ok(())
}

/// After a link of `member` changed: rules that read memberships see it at once.
pub fn refresh_after_link(
    tx: &mut dyn WriteTx,
    model: &'static Model,
    tenant: &str,
    storage: &str,
    member: &str,
) -> Result<(), ApiError> {
    let Some(row) = tx.get(&Key {
        tenant: tenant.to_string(),
        collection: storage.to_string(),
        parent: String::new(),
        id: member.to_string(),
    })?
    else {
        return Ok(());
    };
    let Some(ty) = model.structured(&row.type_name) else {
        return Ok(());
    };
    let body = crate::service::parse_body(&row.body)?;
    refresh_member(tx, model, tenant, storage, member, ty, &body)
}

fn bound_entry(model: &'static Model, entry: &Entry) -> Result<Arc<BoundRule>, ApiError> {
    let owner = model
        .structured(&entry.owner_type)
        .ok_or_else(|| ApiError::Internal(format!("no type {}", entry.owner_type)))?;
    rules::bound(model, owner, &entry.property, &entry.text)
}

/// Adds or removes one link so that it exists exactly when `wanted`.
fn set_link(
    tx: &mut dyn WriteTx,
    tenant: &str,
    links: &str,
    owner: &str,
    member: &str,
    wanted: bool,
) -> Result<(), ApiError> {
    let key = Key {
        tenant: tenant.to_string(),
        collection: links.to_string(),
        parent: owner.to_string(),
        id: member.to_string(),
    };
    match (wanted, tx.exists(&key)?) {
        (true, false) => tx.insert(&key, "complyd.link", "{}")?,
        (false, true) => {
            tx.delete_tree(&key)?;
        }
        _ => {}
    }
    Ok(())
}

impl Service {
    /// Recomputes the members of an owner whose rules were just written.
    pub(super) async fn recompute_owned(
        &self,
        tenant: &str,
        owner: &str,
        owned: &[OwnedRule],
    ) -> Result<(), ApiError> {
        for rule in owned {
            if let Some(entry) = rule.entry.as_ref().filter(|e| !e.paused) {
                let mut one = BTreeMap::new();
                one.insert(owner.to_string(), entry.clone());
                self.recompute(tenant, &rule.links, one).await?;
            }
        }
        Ok(())
    }

    /// Recomputes every running rule of every computed link set of a tenant: each entity is read
    /// once per set and tried against every rule over its type. Returns how many owners.
    pub async fn recompute_memberships(&self, tenant: &str) -> Result<usize, ApiError> {
        let mut done = 0;
        for links in self.model.link_collections() {
            let key = index_key(tenant, &links);
            let Some(row) = self.store.get(&key).await? else {
                continue;
            };
            let index: Map<String, Value> = serde_json::from_str(&row.body).unwrap_or_default();
            let owners: BTreeMap<String, Entry> = index
                .iter()
                .filter_map(|(owner, v)| Some((owner.clone(), entry_of(v)?)))
                .filter(|(_, e)| !e.paused)
                .collect();
            done += owners.len();
            self.recompute(tenant, &links, owners).await?;
        }
        Ok(done)
    }

    /// The members `owners`' rules select, read page by page, then applied owner by owner.
    async fn recompute(
        &self,
        tenant: &str,
        links: &str,
        owners: BTreeMap<String, Entry>,
    ) -> Result<(), ApiError> {
        let mut bound = BTreeMap::new();
        for (owner, entry) in &owners {
            bound.insert(owner.clone(), bound_entry(self.model, entry)?);
        }
        let subjects: BTreeSet<String> = owners.values().map(|e| e.subject.clone()).collect();
        let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for subject in subjects {
            let Some(view) = self.subject_view(links, &subject)? else {
                continue;
            };
            let of_subject: Vec<(&String, &Arc<BoundRule>)> = bound
                .iter()
                .filter(|(o, _)| owners.get(*o).is_some_and(|e| e.subject == subject))
                .collect();
            self.scan(tenant, view, links, &of_subject, &mut wanted)
                .await?;
        }
        for (owner, entry) in owners {
            let rule = bound.get(&owner).cloned();
            let selected = wanted.remove(&owner).unwrap_or_default();
            let Some(rule) = rule else { continue };
            self.apply_members(tenant, links, &owner, entry, rule, selected)
                .await?;
        }
        Ok(())
    }

    /// The view of the entities a rule's subject names, among the set's `over` types.
    fn subject_view(
        &self,
        links: &str,
        subject: &str,
    ) -> Result<Option<(View, Vec<String>)>, ApiError> {
        for (_, nav) in self.model.link_navigations() {
            let Some(l) = nav.links.as_ref() else {
                continue;
            };
            let Some(computed) = l.computed.as_ref() else {
                continue;
            };
            if self.model.link_collection(&l.set).as_deref() != Some(links) {
                continue;
            }
            for over in &computed.over {
                let Some(ty) = self
                    .model
                    .structured(over)
                    .filter(|t| t.short_name() == subject)
                else {
                    continue;
                };
                let types = self
                    .model
                    .concrete_types(&ty.name, odata::Version::Beta)
                    .into_iter()
                    .map(|t| t.name.clone())
                    .collect();
                return Ok(Some((View::of_type(self.model, ty)?, types)));
            }
        }
        Ok(None)
    }

    /// Reads every entity of a view page by page and notes which owners' rules it satisfies.
    async fn scan(
        &self,
        tenant: &str,
        (view, types): (View, Vec<String>),
        links: &str,
        rules: &[(&String, &Arc<BoundRule>)],
        wanted: &mut BTreeMap<String, BTreeSet<String>>,
    ) -> Result<(), ApiError> {
        let needs_groups = rules.iter().any(|(_, r)| r.uses_member_of);
        let mut after = 0;
        loop {
            let mut query = Query::all(tenant, view.storage, "");
            query.filter = Some(Condition::IsOf(types.clone()));
            query.cursor = Some(Cursor {
                values: Vec::new(),
                seq: after,
            });
            query.limit = SCAN_PAGE;
            let rows = self.store.query(query).await?;
            let Some((last, _)) = rows.last() else { break };
            after = last.seq;
            for (row, _) in &rows {
                let body = crate::service::parse_body(&row.body)?;
                let groups = if needs_groups {
                    let mut q = Query::all(tenant, view.storage, "");
                    q.related = Some(Related {
                        links: links.to_string(),
                        anchor: row.key.id.clone(),
                        inverse: true,
                        transitive: false,
                    });
                    self.store
                        .query(q)
                        .await?
                        .into_iter()
                        .map(|(r, _)| r.key.id)
                        .collect()
                } else {
                    Vec::new()
                };
                let candidate = Candidate {
                    id: &row.key.id,
                    body: &body,
                    groups: &groups,
                };
                for (owner, rule) in rules {
                    if rule.matches(&candidate) {
                        wanted
                            .entry((*owner).clone())
                            .or_default()
                            .insert(row.key.id.clone());
                    }
                }
            }
            if rows.len() < SCAN_PAGE {
                break;
            }
        }
        Ok(())
    }

    /// One write: the owner's links become `selected`, each entity touched evaluated again
    /// against what is stored now; nothing when the owner's rule changed meanwhile.
    async fn apply_members(
        &self,
        tenant: &str,
        links: &str,
        owner: &str,
        entry: Entry,
        rule: Arc<BoundRule>,
        selected: BTreeSet<String>,
    ) -> Result<(), ApiError> {
        let (tenant, links, owner) = (tenant.to_string(), links.to_string(), owner.to_string());
        let Some((view, _)) = self.subject_view(&links, &entry.subject)? else {
            return Ok(());
        };
        self.store
            .write(move |tx| {
                let current_rule = read_index(tx, &tenant, &links)?
                    .get(&owner)
                    .and_then(entry_of);
                if current_rule.as_ref() != Some(&entry) {
                    return Ok(());
                }
                let current: BTreeSet<String> = tx
                    .query(&Query::all(&tenant, &links, &owner))?
                    .into_iter()
                    .map(|(row, _)| row.key.id)
                    .collect();
                for id in current.symmetric_difference(&selected) {
                    let wanted = match tx.get(&view.key(&tenant, id))? {
                        Some(row) => {
                            let body = crate::service::parse_body(&row.body)?;
                            let groups = if rule.uses_member_of {
                                direct_owners(tx, &tenant, view.storage, &links, id)?
                            } else {
                                Vec::new()
                            };
                            rule.matches(&Candidate {
                                id,
                                body: &body,
                                groups: &groups,
                            })
                        }
                        None => false,
                    };
                    set_link(tx, &tenant, &links, &owner, id, wanted)?;
                }
                Ok::<_, ApiError>(())
            })
            .await
    }
}
