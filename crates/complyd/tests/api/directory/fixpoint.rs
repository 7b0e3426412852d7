//! A property test: for random directories and random membership changes (adds, removes,
//! deletions, cycles included), every group's `transitiveMembers` and every object's
//! `transitiveMemberOf` equal a naive fixpoint over the links a model of the same changes keeps,
//! and every change gets the answer that model expects.

use super::support::*;
use crate::support::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

const GROUPS: usize = 5;
const USERS: usize = 3;
const OBJECTS: usize = GROUPS + USERS;

#[derive(Debug, Clone)]
enum Change {
    Add(usize, usize),
    Remove(usize, usize),
    Delete(usize),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        6 => (0..GROUPS, 0..OBJECTS).prop_map(|(g, m)| Change::Add(g, m)),
        2 => (0..GROUPS, 0..OBJECTS).prop_map(|(g, m)| Change::Remove(g, m)),
        1 => (0..OBJECTS).prop_map(Change::Delete),
    ]
}

/// The links, as the model of the changes keeps them.
#[derive(Default)]
struct Naive {
    links: BTreeSet<(usize, usize)>,
    deleted: BTreeSet<usize>,
}

impl Naive {
    /// Every object reachable from `from` (forwards, or backwards), `from` itself left out.
    fn closure(&self, from: usize, backwards: bool) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut frontier = vec![from];
        while let Some(at) = frontier.pop() {
            for &(owner, member) in &self.links {
                let next = match (backwards, owner == at, member == at) {
                    (false, true, _) => member,
                    (true, _, true) => owner,
                    _ => continue,
                };
                if seen.insert(next) {
                    frontier.push(next);
                }
            }
        }
        seen.remove(&from);
        seen
    }
}

fn check(ok: bool, what: String) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(what))
    }
}

async fn run_case(server: &Server, changes: &[Change]) -> Result<(), TestCaseError> {
    let tenant = uuid::Uuid::new_v4().to_string();
    let c = server.client_with_token(Some(token_for(&claims(
        json!({"tid": tenant, "scp": DIRECTORY_WRITE}),
    ))));
    let mut ids = Vec::new();
    for i in 0..GROUPS {
        ids.push(create(&c, "v1.0", "groups", &group(&format!("G{i}"))).await);
    }
    for i in 0..USERS {
        ids.push(create(&c, "v1.0", "users", &user(&format!("U{i}"))).await);
    }
    let mut naive = Naive::default();
    for change in changes {
        match *change {
            Change::Add(g, m) => {
                let path = format!("groups/{}/members/$ref", ids[g]);
                let status = c.post("v1.0", &path, &reference(&ids[m])).await.status;
                let expected = if naive.deleted.contains(&g) || naive.deleted.contains(&m) {
                    404
                } else if g == m || naive.links.contains(&(g, m)) {
                    400
                } else {
                    naive.links.insert((g, m));
                    204
                };
                check(
                    status == expected,
                    format!("{change:?}: {status}, expected {expected}"),
                )?;
            }
            Change::Remove(g, m) => {
                let path = format!("groups/{}/members/{}/$ref", ids[g], ids[m]);
                let status = c.delete("v1.0", &path).await.status;
                let expected = if naive.links.remove(&(g, m)) {
                    204
                } else {
                    404
                };
                check(
                    status == expected,
                    format!("{change:?}: {status}, expected {expected}"),
                )?;
            }
            Change::Delete(x) => {
                let status = c
                    .delete("v1.0", &format!("directoryObjects/{}", ids[x]))
                    .await
                    .status;
                let expected = if naive.deleted.insert(x) { 204 } else { 404 };
                naive.links.retain(|(o, m)| *o != x && *m != x);
                check(
                    status == expected,
                    format!("{change:?}: {status}, expected {expected}"),
                )?;
            }
        }
    }
    let index: BTreeMap<&String, usize> = ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let live = (0..OBJECTS).filter(|i| !naive.deleted.contains(i));
    for i in live {
        let mut walks = vec![("transitiveMemberOf", true)];
        if i < GROUPS {
            walks.push(("transitiveMembers", false));
        }
        for (walk, backwards) in walks {
            let root = if i < GROUPS { "groups" } else { "users" };
            let found: BTreeSet<usize> = c
                .ids("v1.0", &format!("{root}/{}/{walk}", ids[i]))
                .await
                .iter()
                .map(|id| index[id])
                .collect();
            let expected = naive.closure(i, backwards);
            check(
                found == expected,
                format!("{walk} of {i}: {found:?}, expected {expected:?} after {changes:?}"),
            )?;
        }
    }
    Ok(())
}

#[test]
fn transitive_walks_equal_a_naive_fixpoint() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(Server::start());
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(change(), 1..30), |changes| {
        runtime.block_on(run_case(&server, &changes))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
