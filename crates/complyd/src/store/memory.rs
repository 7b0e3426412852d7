//! A fake store in memory, for unit tests of the service: keys, writes with rollback, cascading
//! deletes, paging in `seq` order and grouped counts behave as the real backends do.
//!
//! It evaluates a small subset of `$filter` only: `eq`/`ne` between a top-level property of the
//! entity (or its `id`) and a literal, `and`, `or`, `not` and `true`/`false`. Any other filter, and
//! any `$orderby`, is refused with a `Backend` error that says so.

use super::writer::{run_caught, JobFn};
use super::written::{GroupsEnded, Written};
use super::{
    CountBy, DueItem, Found, Key, PageRow, Query, Read, Related, Row, Store, StoreError,
    StoreFuture, WriteMark, WriteTx,
};
use odata::query::bind::{Compare, Condition, Literal, Operand, Scope};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// Rows by `(tenant, collection, parent, id)`.
type Rows = BTreeMap<(String, String, String, String), Row>;

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    /// Jobs kept, for read marks (`store/written.rs`).
    ended: GroupsEnded,
}

#[derive(Default, Clone)]
struct State {
    rows: Rows,
    last_seq: i64,
    /// The schedule, by tenant and id.
    due: BTreeMap<(String, String), DueItem>,
    written: Written,
}

fn slot(key: &Key) -> (String, String, String, String) {
    (
        key.tenant.clone(),
        key.collection.clone(),
        key.parent.clone(),
        key.id.clone(),
    )
}

fn poisoned() -> StoreError {
    StoreError::Backend("the memory store is poisoned".into())
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every row, in `seq` order (for assertions).
    pub fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .state
            .lock()
            .map(|s| s.rows.values().cloned().collect())
            .unwrap_or_default();
        rows.sort_by_key(|r| r.seq);
        rows
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> Result<T, StoreError>) -> StoreFuture<'_, T> {
        StoreFuture::ready(
            self.state
                .lock()
                .map_err(|_| poisoned())
                .and_then(|s| f(&s)),
        )
    }
}

impl State {
    /// Pages in `seq` order only: a cursor carries no sort values here.
    fn page(&self, q: &Query) -> Result<Vec<PageRow>, StoreError> {
        let after = q.cursor.as_ref().map_or(0, |c| c.seq);
        Ok(self
            .matching(q)?
            .into_iter()
            .filter(|r| r.seq > after)
            .skip(q.skip)
            .take(q.limit)
            .map(|r| (r.clone(), Vec::new()))
            .collect())
    }

    fn groups(&self, groups: CountBy<'_>) -> Vec<(String, u64)> {
        let CountBy {
            tenant,
            collection,
            parent,
            property,
        } = groups;
        let mut counted: BTreeMap<String, u64> = BTreeMap::new();
        for row in self.rows.values() {
            let k = &row.key;
            let within = k.tenant == tenant
                && k.collection == collection
                && parent.is_none_or(|p| k.parent == p);
            if within {
                *counted.entry(group_text(row, property)).or_default() += 1;
            }
        }
        counted.into_iter().collect()
    }

    /// Members of one collection under one parent that match the filter, in `seq` order.
    fn matching(&self, q: &Query) -> Result<Vec<&Row>, StoreError> {
        if !q.order.is_empty() {
            return Err(StoreError::Backend(
                "the memory store does not evaluate $orderby".into(),
            ));
        }
        let linked = q.related.as_ref().map(|r| self.linked(&q.tenant, r));
        let mut out = Vec::new();
        for row in self.rows.values() {
            let k = &row.key;
            if (k.tenant.as_str(), k.collection.as_str(), k.parent.as_str())
                != (q.tenant.as_str(), q.collection.as_str(), q.parent.as_str())
            {
                continue;
            }
            if linked.as_ref().is_some_and(|ids| !ids.contains(&k.id)) {
                continue;
            }
            let keep = match &q.filter {
                Some(c) => holds(c, row)?,
                None => true,
            };
            if keep {
                out.push(row);
            }
        }
        out.sort_by_key(|r| r.seq);
        Ok(out)
    }

    /// The ids linked to the anchor: one step, or every level breadth first (each id once).
    fn linked(&self, tenant: &str, r: &Related) -> BTreeSet<String> {
        let step = |from: &str| -> Vec<String> {
            self.rows
                .values()
                .map(|row| &row.key)
                .filter(|k| k.tenant == tenant && k.collection == r.links)
                .filter(|k| {
                    if r.inverse {
                        k.id == from
                    } else {
                        k.parent == from
                    }
                })
                .map(|k| {
                    if r.inverse {
                        k.parent.clone()
                    } else {
                        k.id.clone()
                    }
                })
                .collect()
        };
        let mut seen = BTreeSet::new();
        let mut frontier = vec![r.anchor.clone()];
        while let Some(from) = frontier.pop() {
            for next in step(&from) {
                if seen.insert(next.clone()) && r.transitive {
                    frontier.push(next);
                }
            }
        }
        if r.transitive {
            seen.remove(&r.anchor);
        }
        seen
    }

    fn delete_below(&mut self, tenant: &str, collection: &str, path: &str) {
        let (below, under) = (format!("{collection}/"), format!("{path}/"));
        self.rows.retain(|(t, c, p, _), _| {
            !(t == tenant && c.starts_with(&below) && (p == path || p.starts_with(&under)))
        });
    }
}

/// Whether `row` satisfies `c`, for the subset of conditions this store evaluates.
fn holds(c: &Condition, row: &Row) -> Result<bool, StoreError> {
    match c {
        Condition::Literal(b) => Ok(*b),
        Condition::Not(inner) => Ok(!holds(inner, row)?),
        Condition::And(terms) => terms
            .iter()
            .try_fold(true, |acc, t| Ok(acc && holds(t, row)?)),
        Condition::Or(terms) => terms
            .iter()
            .try_fold(false, |acc, t| Ok(acc || holds(t, row)?)),
        Condition::IsOf(types) => Ok(types.contains(&row.type_name)),
        Condition::In {
            left: Operand::Id,
            list,
            ..
        } => Ok(list.contains(&Literal::String(row.key.id.clone()))),
        Condition::Compare {
            op: op @ (Compare::Eq | Compare::Ne),
            left,
            right: Operand::Literal(lit),
            ..
        } => {
            let equal = value_of(left, row)? == literal_value(lit);
            Ok(equal == (*op == Compare::Eq))
        }
        other => Err(StoreError::Backend(format!(
            "the memory store does not evaluate {other:?}"
        ))),
    }
}

fn value_of(o: &Operand, row: &Row) -> Result<Value, StoreError> {
    match o {
        Operand::Id => Ok(Value::String(row.key.id.clone())),
        Operand::Property {
            scope: Scope::Entity,
            path,
            only_types: None,
            ..
        } if path.len() == 1 => {
            let body: Value =
                serde_json::from_str(&row.body).map_err(|e| StoreError::Backend(e.to_string()))?;
            Ok(body.get(&path[0]).cloned().unwrap_or(Value::Null))
        }
        other => Err(StoreError::Backend(format!(
            "the memory store does not evaluate {other:?}"
        ))),
    }
}

fn literal_value(lit: &Literal) -> Value {
    match lit {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(n) => Value::from(*n),
        Literal::Decimal(d) => Value::from(*d),
        Literal::String(s) | Literal::Enum { name: s, .. } => Value::String(s.clone()),
        Literal::DateTimeOffset(ticks) => Value::from(*ticks),
    }
}

/// The text a grouped count sees for `property` of `row`.
fn group_text(row: &Row, property: &str) -> String {
    let body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
    match body.get(property) {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    }
}

impl WriteTx for State {
    fn unwritten_since(&mut self, mark: WriteMark, keys: &[&Key]) -> bool {
        self.written.unwritten_since(mark, keys)
    }

    fn get(&mut self, key: &Key) -> Result<Option<Row>, StoreError> {
        Ok(self.rows.get(&slot(key)).cloned())
    }

    fn insert(&mut self, key: &Key, type_name: &str, body: &str) -> Result<(), StoreError> {
        if self.rows.contains_key(&slot(key)) {
            return Err(StoreError::Conflict);
        }
        self.written.row(key);
        self.last_seq += 1;
        let row = Row {
            key: key.clone(),
            type_name: type_name.to_string(),
            body: body.to_string(),
            canonical: true,
            seq: self.last_seq,
        };
        self.rows.insert(slot(key), row);
        Ok(())
    }

    fn update(&mut self, key: &Key, body: &str) -> Result<bool, StoreError> {
        self.written.row(key);
        match self.rows.get_mut(&slot(key)) {
            Some(row) => {
                row.body = body.to_string();
                row.canonical = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn delete_tree(&mut self, key: &Key) -> Result<bool, StoreError> {
        if self.rows.remove(&slot(key)).is_none() {
            return Ok(false);
        }
        self.written.tree(key);
        self.delete_below(&key.tenant, &key.collection, &key.child_parent());
        Ok(true)
    }

    fn members(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        let mut found: Vec<Row> = self
            .rows
            .values()
            .filter(|r| {
                r.key.tenant == tenant && r.key.collection == collection && r.key.parent == parent
            })
            .cloned()
            .collect();
        found.sort_by_key(|r| r.seq);
        found.truncate(limit);
        Ok(found)
    }

    fn clear_collection(
        &mut self,
        tenant: &str,
        collection: &str,
        parent: &str,
    ) -> Result<(), StoreError> {
        let members: Vec<Key> = self
            .rows
            .values()
            .map(|r| r.key.clone())
            .filter(|k| k.tenant == tenant && k.collection == collection && k.parent == parent)
            .collect();
        for key in members {
            self.delete_tree(&key)?;
        }
        Ok(())
    }

    fn delete_everywhere(
        &mut self,
        tenant: &str,
        collection: &str,
        id: &str,
    ) -> Result<u64, StoreError> {
        self.written.unnamed_write();
        let before = self.rows.len();
        self.rows
            .retain(|(t, c, _, i), _| !(t == tenant && c == collection && i == id));
        Ok((before - self.rows.len()) as u64)
    }

    fn query(&mut self, q: &Query) -> Result<Vec<PageRow>, StoreError> {
        Ok(self
            .matching(q)?
            .into_iter()
            .skip(q.skip)
            .take(q.limit)
            .map(|r| (r.clone(), Vec::new()))
            .collect())
    }

    fn delete_tenant(&mut self, tenant: &str) -> Result<u64, StoreError> {
        self.written.unnamed_write();
        let before = self.rows.len();
        self.rows.retain(|(t, ..), _| t != tenant);
        self.due.retain(|(t, _), _| t != tenant);
        Ok((before - self.rows.len()) as u64)
    }

    fn due_put(&mut self, item: &DueItem) -> Result<(), StoreError> {
        self.due
            .insert((item.tenant.clone(), item.id.clone()), item.clone());
        Ok(())
    }

    fn due_cancel(
        &mut self,
        tenant: &str,
        device: &str,
        policy: Option<&str>,
    ) -> Result<u64, StoreError> {
        let before = self.due.len();
        self.due.retain(|_, i| {
            !(i.tenant == tenant && i.device == device && policy.is_none_or(|p| i.policy == p))
        });
        Ok((before - self.due.len()) as u64)
    }

    fn due_take(
        &mut self,
        tenant: &str,
        until: i64,
        limit: usize,
    ) -> Result<Vec<DueItem>, StoreError> {
        let mut items: Vec<DueItem> = self
            .due
            .values()
            .filter(|i| i.tenant == tenant && i.at <= until)
            .cloned()
            .collect();
        items.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        items.truncate(limit);
        Ok(items)
    }

    fn due_done(&mut self, tenant: &str, id: &str) -> Result<(), StoreError> {
        self.due.remove(&(tenant.to_string(), id.to_string()));
        Ok(())
    }

    fn due_next(&mut self, after: &str) -> Result<Option<(String, i64)>, StoreError> {
        Ok(self
            .due
            .values()
            .filter(|i| i.tenant.as_str() > after)
            .map(|i| (i.tenant.clone(), i.at))
            .min())
    }

    fn due_first(&mut self, tenant: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.due_pending(tenant)?.1)
    }

    fn due_pending(&mut self, tenant: &str) -> Result<(u64, Option<i64>), StoreError> {
        let items: Vec<i64> = self
            .due
            .values()
            .filter(|i| i.tenant == tenant)
            .map(|i| i.at)
            .collect();
        Ok((items.len() as u64, items.iter().min().copied()))
    }
}

impl Store for MemoryStore {
    /// Runs the job on a copy of the state and keeps the copy only when the job succeeds.
    fn submit(&self, job: JobFn) -> StoreFuture<'_, ()> {
        let Ok(mut state) = self.state.lock() else {
            return StoreFuture::ready(Err(poisoned()));
        };
        let mut draft = state.clone();
        draft.written.begin_group(&self.ended, false);
        if run_caught(job, &mut draft) {
            *state = draft;
            self.ended.ended();
        }
        StoreFuture::ready(Ok(()))
    }

    fn get<'a>(&'a self, key: &'a Key) -> StoreFuture<'a, Option<Row>> {
        self.read(|s| Ok(s.rows.get(&slot(key)).cloned()))
    }

    fn all_exist(&self, keys: Vec<Key>) -> StoreFuture<'_, Option<Key>> {
        self.read(|s| Ok(keys.into_iter().find(|k| !s.rows.contains_key(&slot(k)))))
    }

    fn query(&self, q: Query) -> StoreFuture<'_, Vec<PageRow>> {
        self.read(|s| s.page(&q))
    }

    fn count_matching(&self, q: Query) -> StoreFuture<'_, u64> {
        self.read(|s| Ok(s.matching(&q)?.len() as u64))
    }

    fn count_by<'a>(&'a self, groups: CountBy<'a>) -> StoreFuture<'a, Vec<(String, u64)>> {
        self.read(|s| Ok(s.groups(groups)))
    }

    /// Under one lock of the state.
    fn read_together(&self, reads: Vec<Read>) -> StoreFuture<'_, Vec<Found>> {
        self.read(|s| {
            reads
                .iter()
                .map(|read| {
                    Ok(match read {
                        Read::Get(key) => Found::Row(s.rows.get(&slot(key)).cloned()),
                        Read::Query(q) => Found::Page(s.page(q)?),
                        Read::CountMatching(q) => Found::Count(s.matching(q)?.len() as u64),
                        Read::CountBy(groups) => Found::Groups(s.groups(groups.as_count_by())),
                    })
                })
                .collect()
        })
    }

    fn scan(&self, after_seq: i64, limit: usize) -> StoreFuture<'_, Vec<Row>> {
        let mut rows = self.rows();
        rows.retain(|r| r.seq > after_seq);
        rows.truncate(limit);
        StoreFuture::ready(Ok(rows))
    }

    fn explain(&self, _q: Query) -> StoreFuture<'_, Vec<String>> {
        StoreFuture::ready(Ok(vec!["memory: every row".into()]))
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        StoreFuture::ready(Ok(()))
    }

    fn queued_writes(&self) -> usize {
        0
    }

    fn write_mark(&self) -> Option<WriteMark> {
        // Under the lock the jobs are counted in.
        let _state = self.state.lock().ok()?;
        Some(self.ended.mark())
    }
}
