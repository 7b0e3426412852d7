//! Rows read by key, kept in memory for the next read of the same key.
//!
//! The cache holds rows as of one state of the database, named by the WAL index header
//! (`valid_for`). Every commit changes that header, by this process or another on the folder,
//! so a lookup that reads another header than `valid_for` is a miss. Two things move
//! `valid_for` on:
//! - This process's writer: before its commit it drops every row the group wrote (`Touched`),
//!   and after it takes the new header when SQLite's commit counter moved by exactly one, its own
//!   commit. Fills are refused from the first step to the second, and a fill whose read began
//!   before either step is refused too (`steps`).
//! - Any other commit: a lookup that finds another header while the writer is not committing
//!   drops every row and starts again from that header.
//!
//! A row is filled only from a reader's snapshot whose header is still the current one and
//! `valid_for`. The cache is bounded in bytes; past the bound, rows picked at random leave.

use crate::store::{Key, Row};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use wal_buffer::WalIndexHeader;

/// The bytes of rows the store keeps by default (`COMPLYD_ROW_CACHE_MIB`).
pub const DEFAULT_BUDGET_BYTES: usize = 48 << 20;
/// What a row costs beside its texts: the map's slot, the eviction list, allocation headers.
const ENTRY_OVERHEAD: usize = 112;
/// Tenants, collections or type names remembered before everything is dropped.
const NAMES_LIMIT: usize = 4_096;
/// Rows one group may write and still be dropped one by one; past it the group drops all.
const TOUCHED_LIMIT: usize = 4_096;

pub struct RowCache {
    state: Mutex<State>,
    budget: AtomicUsize,
}

/// The rows one write group inserted, updated or deleted, for [`RowCache::before_commit`].
#[derive(Debug, Default)]
pub struct Touched {
    /// The rows' hashes (`hash_of`): a row of the hash is dropped, whichever key it holds.
    rows: Vec<u64>,
    trees: Vec<Key>,
    everything: bool,
}

impl Touched {
    pub fn clear(&mut self) {
        self.rows.clear();
        self.trees.clear();
        self.everything = false;
    }

    pub fn row(&mut self, key: &Key) {
        if self.rows.len() + self.trees.len() >= TOUCHED_LIMIT {
            self.everything = true;
        } else if !self.everything {
            self.rows.push(hash_of(key));
        }
    }

    /// `root` and every row under it.
    pub fn tree(&mut self, root: &Key) {
        if self.rows.len() + self.trees.len() >= TOUCHED_LIMIT {
            self.everything = true;
        } else if !self.everything {
            self.trees.push(root.clone());
        }
    }

    /// Rows that cannot be named (a collection or a tenant cleared).
    pub fn everything(&mut self) {
        self.everything = true;
    }
}

/// What a lookup found; a miss carries what [`RowCache::fill`] checks.
pub enum Looked {
    Hit(Row),
    Miss(Ticket),
}

pub struct Ticket {
    steps: u64,
}

#[derive(Default)]
struct State {
    valid_for: Option<WalIndexHeader>,
    /// The writer is between its two steps around a commit.
    writing: bool,
    /// Moves at each of the writer's steps.
    steps: u64,
    rows: HashMap<u64, Entry, BuildHasherDefault<Prehashed>>,
    /// The hashes of `rows`, for picking one at random.
    order: Vec<u64>,
    bytes: usize,
    /// Tenants, collections and type names, numbered.
    tenants: Names,
    collections: Names,
    types: Names,
    random: u64,
    hits: u64,
}

struct Entry {
    tenant: u32,
    collection: u32,
    type_name: u32,
    canonical: bool,
    seq: i64,
    /// The parent's bytes, then the id's.
    path: Box<str>,
    parent_len: u32,
    body: Box<str>,
    /// Where its hash is in `order`.
    at: u32,
}

impl Entry {
    fn size(&self) -> usize {
        self.path.len() + self.body.len() + ENTRY_OVERHEAD
    }

    fn is(&self, (tenant, collection): (u32, u32), key: &Key) -> bool {
        let (parent, id) = self.path.split_at(self.parent_len as usize);
        self.tenant == tenant
            && self.collection == collection
            && parent == key.parent
            && id == key.id
    }
}

#[derive(Default)]
struct Names {
    numbers: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    fn number(&self, name: &str) -> Option<u32> {
        self.numbers.get(name).copied()
    }

    fn add(&mut self, name: &str) -> u32 {
        if let Some(n) = self.number(name) {
            return n;
        }
        let n = self.names.len() as u32;
        self.names.push(name.into());
        self.numbers.insert(name.into(), n);
        n
    }

    fn name(&self, n: u32) -> &str {
        &self.names[n as usize]
    }
}

/// The map's keys are already hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn hash_of(key: &Key) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

impl RowCache {
    pub fn new(budget: usize) -> Self {
        Self {
            state: Mutex::new(State {
                random: 0x9E37_79B9_7F4A_7C15,
                ..State::default()
            }),
            budget: AtomicUsize::new(budget),
        }
    }

    fn budget(&self) -> usize {
        self.budget.load(Ordering::Relaxed)
    }

    /// Sets the bound in bytes; what is kept past it leaves at the next fill.
    #[cfg(test)]
    pub fn set_budget(&self, bytes: usize) {
        self.budget.store(bytes, Ordering::Relaxed);
    }

    /// Rows kept, their bytes as counted against the bound, and the lookups they answered.
    #[cfg(test)]
    pub fn stats(&self) -> (usize, usize, u64) {
        let state = self.lock();
        (state.rows.len(), state.bytes, state.hits)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic under the lock leaves at worst rows to drop: start again empty.
        self.state.lock().unwrap_or_else(|poisoned| {
            let mut state = poisoned.into_inner();
            state.drop_all();
            state.valid_for = None;
            state
        })
    }

    /// The row at `key` when kept for the database's state now; `header` reads the WAL index
    /// header (under the cache's lock, so that no writer step falls between).
    pub fn lookup(&self, key: &Key, header: impl FnOnce() -> Option<WalIndexHeader>) -> Looked {
        if self.budget() == 0 {
            return Looked::Miss(Ticket { steps: u64::MAX });
        }
        let mut state = self.lock();
        let now = header();
        if now.is_none() {
            // A connection that has not read yet: its read tells nothing about the kept rows.
            return Looked::Miss(Ticket { steps: state.steps });
        }
        if state.valid_for != now {
            if !state.writing {
                // Another connection committed (or nothing was known yet).
                state.drop_all();
                state.valid_for = now;
            }
            return Looked::Miss(Ticket { steps: state.steps });
        }
        let hit = state.find(key).map(|entry| Row {
            key: key.clone(),
            type_name: state.types.name(entry.type_name).to_string(),
            body: entry.body.to_string(),
            canonical: entry.canonical,
            seq: entry.seq,
        });
        match hit {
            Some(row) => {
                state.hits += 1;
                Looked::Hit(row)
            }
            None => Looked::Miss(Ticket { steps: state.steps }),
        }
    }

    /// Keeps `row`, read from a snapshot of `read_under`, unless the database or the cache has
    /// moved since the lookup that gave `ticket`.
    pub fn fill(
        &self,
        ticket: Ticket,
        read_under: Option<WalIndexHeader>,
        header: impl FnOnce() -> Option<WalIndexHeader>,
        row: &Row,
    ) {
        let budget = self.budget();
        if budget == 0 || read_under.is_none() {
            return;
        }
        let mut state = self.lock();
        if state.writing || state.steps != ticket.steps || state.valid_for != read_under {
            return;
        }
        if header() != read_under {
            return;
        }
        state.insert(row, budget);
    }

    /// The writer's first step, inside its transaction just before the commit: `header` is the
    /// WAL index header there (no other connection can commit meanwhile).
    pub fn before_commit(&self, header: Option<WalIndexHeader>, touched: &Touched) {
        let mut state = self.lock();
        state.steps += 1;
        state.writing = true;
        if header.is_none() || state.valid_for != header || touched.everything {
            state.drop_all();
        } else {
            for &hash in &touched.rows {
                state.take(hash);
            }
            for root in &touched.trees {
                state.remove_tree(root);
            }
        }
        state.valid_for = header;
    }

    /// The writer's second step, after the commit: `before` as given to
    /// [`RowCache::before_commit`], `after` the header now.
    pub fn after_commit(&self, before: Option<WalIndexHeader>, after: Option<WalIndexHeader>) {
        let mut state = self.lock();
        state.steps += 1;
        state.writing = false;
        // A group that wrote nothing commits nothing: the header stays as it was.
        let own_commit = matches!((before, after),
            (Some(b), Some(a)) if a == b || a.commits() == b.commits().wrapping_add(1));
        if !own_commit {
            // Another commit came between, or the headers cannot be read: start again.
            state.drop_all();
        }
        state.valid_for = after;
    }

    /// The writer's second step when the commit failed: what the file holds is not known.
    pub fn commit_failed(&self) {
        let mut state = self.lock();
        state.steps += 1;
        state.writing = false;
        state.drop_all();
        state.valid_for = None;
    }
}

impl State {
    fn drop_all(&mut self) {
        self.rows.clear();
        self.order.clear();
        self.bytes = 0;
        if self.names_full() {
            self.tenants = Names::default();
            self.collections = Names::default();
            self.types = Names::default();
        }
    }

    fn names_full(&self) -> bool {
        [&self.tenants, &self.collections, &self.types]
            .iter()
            .any(|names| names.names.len() >= NAMES_LIMIT)
    }

    fn find(&self, key: &Key) -> Option<&Entry> {
        let scope = (
            self.tenants.number(&key.tenant)?,
            self.collections.number(&key.collection)?,
        );
        self.rows
            .get(&hash_of(key))
            .filter(|entry| entry.is(scope, key))
    }

    /// `root` and every row under it: rows of a collection below the root's, under its path.
    fn remove_tree(&mut self, root: &Key) {
        // The hash's row goes, whichever key it holds: dropping a row is always safe.
        self.take(hash_of(root));
        let (Some(tenant), below) = (
            self.tenants.number(&root.tenant),
            format!("{}/", root.collection),
        ) else {
            return;
        };
        let collections = &self.collections;
        if !collections.names.iter().any(|c| c.starts_with(&below)) {
            return;
        }
        let (path, path_below) = (root.child_parent(), format!("{}/", root.child_parent()));
        let doomed: Vec<u64> = self
            .rows
            .iter()
            .filter(|(_, e)| {
                let (parent, _) = e.path.split_at(e.parent_len as usize);
                e.tenant == tenant
                    && collections.name(e.collection).starts_with(&below)
                    && (parent == path || parent.starts_with(&path_below))
            })
            .map(|(hash, _)| *hash)
            .collect();
        for hash in doomed {
            self.take(hash);
        }
    }

    fn take(&mut self, hash: u64) {
        let Some(entry) = self.rows.remove(&hash) else {
            return;
        };
        self.bytes -= entry.size();
        let at = entry.at as usize;
        self.order.swap_remove(at);
        if let Some(&moved) = self.order.get(at) {
            if let Some(e) = self.rows.get_mut(&moved) {
                e.at = at as u32;
            }
        }
    }

    fn insert(&mut self, row: &Row, budget: usize) {
        if self.names_full() {
            self.drop_all();
        }
        let key = &row.key;
        let hash = hash_of(key);
        self.take(hash);
        let mut path = String::with_capacity(key.parent.len() + key.id.len());
        path.push_str(&key.parent);
        path.push_str(&key.id);
        let entry = Entry {
            tenant: self.tenants.add(&key.tenant),
            collection: self.collections.add(&key.collection),
            type_name: self.types.add(&row.type_name),
            canonical: row.canonical,
            seq: row.seq,
            path: path.into_boxed_str(),
            parent_len: key.parent.len() as u32,
            body: row.body.as_str().into(),
            at: self.order.len() as u32,
        };
        let size = entry.size();
        if size > budget / 16 {
            return;
        }
        while self.bytes + size > budget && !self.order.is_empty() {
            let pick = self.next_random() % self.order.len();
            let victim = self.order[pick];
            self.take(victim);
        }
        self.bytes += size;
        self.order.push(hash);
        let at = self.order.len() as u32 - 1;
        self.rows.insert(hash, Entry { at, ..entry });
    }

    fn next_random(&mut self) -> usize {
        // xorshift64: which row leaves needs no quality, only spread.
        let mut x = self.random;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random = x;
        x as usize
    }
}
