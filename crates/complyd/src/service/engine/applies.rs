//! Which policies apply to a device: its assignments' targets (groups of the device or of its
//! primary user at every level, all users, all devices; exclusions win) and their filters.

use super::tenant::{Assignment, Policy, Target};
use crate::error::ApiError;
use crate::service::parse_body;
use crate::store::{Key, WriteTx};
use odata::rule::{self, BoundRule, Candidate, Vocabulary};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

const FILTERS: &str = "assignmentFilters";

/// Who the device is, for its assignments.
pub struct Subject<'a> {
    pub device_id: &'a str,
    pub device: &'a Map<String, Value>,
    /// Whether it has a primary user.
    pub has_user: bool,
    /// The groups of the device and of its primary user, every level.
    pub groups: &'a HashSet<String>,
}

/// Assignment filters read once per evaluation: a missing or unreadable filter matches nothing.
#[derive(Default)]
pub struct Filters {
    bound: HashMap<String, Option<BoundRule>>,
}

impl Filters {
    fn matches(
        &mut self,
        tx: &mut dyn WriteTx,
        tenant: &str,
        id: &str,
        subject: &Subject<'_>,
    ) -> Result<bool, ApiError> {
        if !self.bound.contains_key(id) {
            let row = tx.get(&filter_key(tenant, id))?;
            let bound = match row {
                Some(row) => {
                    let body = parse_body(&row.body)?;
                    let text = body.get("rule").and_then(Value::as_str).unwrap_or_default();
                    rule::check(text, &Vocabulary::assignment_filters()).ok()
                }
                None => None,
            };
            self.bound.insert(id.to_string(), bound);
        }
        Ok(self
            .bound
            .get(id)
            .and_then(Option::as_ref)
            .is_some_and(|rule| {
                rule.matches(&Candidate {
                    id: subject.device_id,
                    body: subject.device,
                    groups: &[],
                })
            }))
    }
}

/// Where the assignment filter `id` lives.
pub fn filter_key(tenant: &str, id: &str) -> Key {
    Key::new(tenant, FILTERS, "", id)
}

/// The assignment filters `policies`' assignments name.
pub fn filters_named(policies: &[Policy]) -> impl Iterator<Item = &str> {
    policies
        .iter()
        .flat_map(|p| &p.assignments)
        .filter_map(|a| a.filter.as_ref().map(|(id, _)| id.as_str()))
}

/// Whether `policy` applies to the subject: an including target reaches it (and its filter
/// keeps it) and no exclusion group holds it.
pub fn applies(
    tx: &mut dyn WriteTx,
    tenant: &str,
    policy: &Policy,
    subject: &Subject<'_>,
    filters: &mut Filters,
) -> Result<bool, ApiError> {
    let excluded = policy
        .assignments
        .iter()
        .any(|a| matches!(&a.target, Target::ExcludedGroup(g) if subject.groups.contains(g)));
    if excluded {
        return Ok(false);
    }
    for assignment in &policy.assignments {
        if reaches(assignment, subject) && kept(tx, tenant, assignment, subject, filters)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn reaches(assignment: &Assignment, subject: &Subject<'_>) -> bool {
    match &assignment.target {
        Target::AllDevices => true,
        Target::AllUsers => subject.has_user,
        Target::Group(g) => subject.groups.contains(g),
        Target::ExcludedGroup(_) | Target::Other => false,
    }
}

fn kept(
    tx: &mut dyn WriteTx,
    tenant: &str,
    assignment: &Assignment,
    subject: &Subject<'_>,
    filters: &mut Filters,
) -> Result<bool, ApiError> {
    match &assignment.filter {
        None => Ok(true),
        Some((id, include)) => Ok(filters.matches(tx, tenant, id, subject)? == *include),
    }
}
