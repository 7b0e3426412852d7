//! Which rows the writer wrote lately, so that a write can tell that rows a reader read are still
//! as read without reading them again (a round's proofs, `service/engine/proof.rs`).
//!
//! A reader takes a [`WriteMark`] before it reads: the number of write groups that had ended.
//! Its reads see at least every group up to the mark. The writer notes the key of every row each
//! group inserts, updates or deletes, by group. A later write asks whether any of some keys (or
//! a tree holding one) was written by a group after the mark. Writes the log cannot name (a
//! whole collection or tenant cleared, another process's commit, a log forgotten to stay small)
//! make every mark before them unanswerable, and the caller reads the rows instead. A hash that
//! collides only sends the caller to read.

use super::Key;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many keys one generation of the log holds; two are kept.
const KEYS_PER_GENERATION: usize = 1 << 16;

/// The write groups that had ended when a reader began to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteMark(u64);

/// The count of ended write groups, shared by the writer and the readers.
#[derive(Debug, Default)]
pub struct GroupsEnded(AtomicU64);

impl GroupsEnded {
    /// Taken before a read: the read sees every group counted.
    pub fn mark(&self) -> WriteMark {
        WriteMark(self.0.load(Ordering::Acquire))
    }

    /// The writer's count, and the number of the group it begins next.
    fn next_group(&self) -> u64 {
        self.0.load(Ordering::Acquire) + 1
    }

    /// Counts a group once its commit is visible to readers.
    pub fn ended(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// The writer's log: the last group that wrote each key, in two generations.
#[derive(Debug, Default, Clone)]
pub struct Written {
    group: u64,
    current: HashMap<u64, u64>,
    /// The first group `current` holds.
    current_from: u64,
    previous: HashMap<u64, u64>,
    /// Marks before this group are not answered.
    answers_from: u64,
}

impl Written {
    /// Begins the next group of `ended`; `others_committed`: another connection committed since
    /// the last group began (their writes are not in the log).
    pub fn begin_group(&mut self, ended: &GroupsEnded, others_committed: bool) {
        self.group = ended.next_group();
        if others_committed {
            self.unnamed_write();
        }
        if self.current.len() >= KEYS_PER_GENERATION {
            // Groups before `current_from` are forgotten: a mark just before it still has all
            // it needs.
            self.previous = std::mem::take(&mut self.current);
            self.answers_from = self.answers_from.max(self.current_from.saturating_sub(1));
            self.current_from = self.group;
        }
    }

    /// The row `key` was inserted, updated or deleted.
    pub fn row(&mut self, key: &Key) {
        self.current.insert(key_hash(key), self.group);
    }

    /// `root` and everything it contains were deleted.
    pub fn tree(&mut self, root: &Key) {
        if is_tree_path(root) {
            self.row(root);
        } else {
            self.unnamed_write();
        }
    }

    /// Rows the log cannot name were written in this group.
    pub fn unnamed_write(&mut self) {
        self.answers_from = self.answers_from.max(self.group);
    }

    /// True when no group after `mark` wrote any of `keys` or a tree holding one; false when one
    /// did, or when the log cannot tell.
    pub fn unwritten_since(&self, mark: WriteMark, keys: &[&Key]) -> bool {
        let WriteMark(mark) = mark;
        if mark < self.answers_from {
            return false;
        }
        let written_after = |hash: u64| {
            [&self.current, &self.previous]
                .iter()
                .any(|log| log.get(&hash).is_some_and(|&group| group > mark))
        };
        keys.iter().all(|key| match tree_hashes(key) {
            Some(hashes) => !hashes.into_iter().any(written_after),
            None => false,
        })
    }
}

fn hash_of(tenant: &str, collection: &str, parent: &str, id: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    (tenant, collection, parent, id).hash(&mut h);
    h.finish()
}

fn key_hash(key: &Key) -> u64 {
    hash_of(&key.tenant, &key.collection, &key.parent, &key.id)
}

/// Whether the key's parent names one entity per containing collection, and its id no more:
/// the shape in which the trees holding a key can be named from it.
fn is_tree_path(key: &Key) -> bool {
    let depth = key.collection.split('/').count();
    let parents = if key.parent.is_empty() {
        0
    } else {
        key.parent.split('/').count()
    };
    parents + 1 == depth && !key.id.contains('/')
}

/// The hashes of `key` and of each entity containing it (whose deletion took it too); `None`
/// when its path has another shape.
fn tree_hashes(key: &Key) -> Option<Vec<u64>> {
    if !is_tree_path(key) {
        return None;
    }
    let collections: Vec<usize> = ends_of_segments(&key.collection);
    let parents: Vec<usize> = ends_of_segments(&key.parent);
    let mut hashes = Vec::with_capacity(collections.len());
    for (depth, &end) in collections.iter().enumerate() {
        let collection = &key.collection[..end];
        let hash = if depth + 1 == collections.len() {
            key_hash(key)
        } else {
            let parent_end = if depth == 0 { 0 } else { parents[depth - 1] };
            let id_start = if depth == 0 { 0 } else { parent_end + 1 };
            hash_of(
                &key.tenant,
                collection,
                &key.parent[..parent_end],
                &key.parent[id_start..parents[depth]],
            )
        };
        hashes.push(hash);
    }
    Some(hashes)
}

/// Where each `/`-separated segment of `path` ends (none for an empty path).
fn ends_of_segments(path: &str) -> Vec<usize> {
    if path.is_empty() {
        return Vec::new();
    }
    path.match_indices('/')
        .map(|(at, _)| at)
        .chain(std::iter::once(path.len()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(id: &str) -> Key {
        Key::new("t", "deviceCompliancePolicies", "", id)
    }

    fn action_config(policy: &str, rule: &str, id: &str) -> Key {
        Key::new(
            "t",
            "deviceCompliancePolicies/scheduledActionsForRule/scheduledActionConfigurations",
            &format!("{policy}/{rule}"),
            id,
        )
    }

    /// A log whose next group is the first after `ended` groups.
    fn log_after(ended: &GroupsEnded, groups: u64) -> Written {
        let mut log = Written::default();
        for _ in 0..groups {
            log.begin_group(ended, false);
            ended.ended();
        }
        log
    }

    /// A key written after the mark is written; one written before, or another key, is not.
    #[test]
    fn a_mark_sees_the_keys_written_after_it() {
        let ended = GroupsEnded::default();
        let mut log = log_after(&ended, 1);
        log.begin_group(&ended, false);
        log.row(&policy("a"));
        ended.ended();
        let mark = ended.mark();
        assert!(log.unwritten_since(mark, &[&policy("a"), &policy("b")]));
        log.begin_group(&ended, false);
        log.row(&policy("b"));
        assert!(
            !log.unwritten_since(mark, &[&policy("b")]),
            "written by the open group"
        );
        assert!(log.unwritten_since(mark, &[&policy("a")]));
        ended.ended();
        assert!(log.unwritten_since(ended.mark(), &[&policy("b")]));
    }

    /// Deleting a tree writes every key in it; a tree beside it is not touched.
    #[test]
    fn a_deleted_tree_writes_what_it_held() {
        let ended = GroupsEnded::default();
        let mut log = log_after(&ended, 1);
        let mark = ended.mark();
        log.begin_group(&ended, false);
        log.tree(&policy("p"));
        let inside = action_config("p", "r", "c");
        assert!(!log.unwritten_since(mark, &[&inside]));
        assert!(log.unwritten_since(mark, &[&action_config("q", "r", "c")]));
        let rule = Key::new(
            "t",
            "deviceCompliancePolicies/scheduledActionsForRule",
            "q",
            "r",
        );
        log.tree(&rule);
        assert!(!log.unwritten_since(mark, &[&action_config("q", "r", "c")]));
        assert!(log.unwritten_since(mark, &[&action_config("q", "s", "c")]));
    }

    /// What the log cannot name (another process's commit, a path of another shape, a log
    /// forgotten) leaves earlier marks unanswered, and later ones answered.
    #[test]
    fn what_the_log_cannot_name_leaves_earlier_marks_unanswered() {
        let ended = GroupsEnded::default();
        let mut log = log_after(&ended, 2);
        let mark = ended.mark();
        log.begin_group(&ended, true);
        assert!(!log.unwritten_since(mark, &[&policy("a")]));
        ended.ended();
        assert!(log.unwritten_since(ended.mark(), &[&policy("a")]));

        let mark = ended.mark();
        log.begin_group(&ended, false);
        log.tree(&Key::new("t", "a/b", "", "x"));
        ended.ended();
        assert!(!log.unwritten_since(mark, &[&policy("a")]), "an odd tree");
        let odd = Key::new("t", "deviceCompliancePolicies", "x", "a");
        assert!(!log.unwritten_since(ended.mark(), &[&odd]), "an odd key");

        let mark = ended.mark();
        for n in 0..2 * KEYS_PER_GENERATION + 1 {
            log.begin_group(&ended, false);
            log.row(&policy(&n.to_string()));
            ended.ended();
        }
        assert!(
            !log.unwritten_since(mark, &[&policy("a")]),
            "its writes may be forgotten"
        );
        let recent = WriteMark(ended.mark().0 - 10);
        assert!(log.unwritten_since(recent, &[&policy("a")]));
        let written = policy(&(2 * KEYS_PER_GENERATION).to_string());
        assert!(!log.unwritten_since(recent, &[&written]));
    }
}
