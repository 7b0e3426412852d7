//! Who is in which group, read once for a re-evaluation round: every group's direct members,
//! inverted, so that each device's groups (and its user's, every level) are a walk in memory
//! instead of two recursive queries per device. Valid for the tenant generation it was read at:
//! a member added or removed (also by a dynamic rule) moves the generation in its own write.

use super::tenant::{self, DIRECTORY};
use crate::error::ApiError;
use crate::store::{Query, WriteTx};
use odata::query::bind::Condition;
use odata::Model;
use std::collections::{HashMap, HashSet};

/// The most groups read; a tenant with more is walked by queries, device by device.
const MAX_GROUPS: usize = 100_000;
/// The most members read per group; a group with more sends the tenant back to queries.
const MAX_MEMBERS: usize = 2_000_000;
/// The most groups one object is found in, every level (as `tenant::groups_of`).
const MAX_FOUND: usize = 10_000;

pub struct Membership {
    /// Each member's groups, one level.
    direct: HashMap<String, Vec<String>>,
}

impl Membership {
    /// The tenant's groups and their members as this transaction sees them; `None` when it has
    /// more than the limits allow (then devices are walked by queries).
    pub fn read(
        tx: &mut dyn WriteTx,
        model: &Model,
        tenant: &str,
    ) -> Result<Option<Self>, ApiError> {
        let Some(links) = model.link_collection("members") else {
            return Ok(None);
        };
        let mut query = Query::all(tenant, DIRECTORY, "");
        query.filter = Some(Condition::IsOf(vec![tenant::GROUP_TYPE.into()]));
        query.limit = MAX_GROUPS + 1;
        let groups = tx.query(&query)?;
        if groups.len() > MAX_GROUPS {
            return Ok(None);
        }
        let mut direct: HashMap<String, Vec<String>> = HashMap::new();
        for (group, _) in groups {
            let members = tx.members(tenant, &links, &group.key.id, MAX_MEMBERS + 1)?;
            if members.len() > MAX_MEMBERS {
                return Ok(None);
            }
            for member in members {
                direct
                    .entry(member.key.id)
                    .or_default()
                    .push(group.key.id.clone());
            }
        }
        Ok(Some(Self { direct }))
    }

    /// The groups `id` is in, every level; a cycle ends the walk.
    pub fn groups_of(&self, id: &str, into: &mut HashSet<String>) {
        let mut todo: Vec<&str> = vec![id];
        while let Some(next) = todo.pop() {
            for group in self.direct.get(next).into_iter().flatten() {
                if into.len() >= MAX_FOUND {
                    return;
                }
                if group != id && into.insert(group.clone()) {
                    todo.push(group);
                }
            }
        }
    }
}
