#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::store::tables;
use crate::store::{PageRow, Store};
use rusqlite::params;

fn status(i: usize) -> Key {
    Key::new(
        "t",
        "deviceCompliancePolicies/deviceStatuses",
        "p",
        &format!("s{i:04}"),
    )
}

/// A read over its inline budget is abandoned and run again on a blocking thread, with the
/// same answer as a read that stays within it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_over_the_inline_budget_move_to_a_blocking_thread_with_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    let store: &dyn Store = &sqlite;
    store
        .write(|tx| {
            (0..500).try_for_each(|i| tx.insert(&status(i), "x", &format!("{{\"n\":{i}}}")))
        })
        .await
        .unwrap();
    let query = || Query::all("t", "deviceCompliancePolicies/deviceStatuses", "p");
    let ids =
        |rows: Vec<PageRow>| -> Vec<String> { rows.into_iter().map(|(r, _)| r.key.id).collect() };
    let inline = ids(store.query(query()).await.unwrap());
    assert_eq!(inline.len(), 500);
    assert_eq!(store.count_matching(query()).await.unwrap(), 500);

    sqlite.readers.set_inline_budget(10);
    let tight: &dyn Store = &sqlite;
    assert_eq!(ids(tight.query(query()).await.unwrap()), inline);
    assert_eq!(tight.count_matching(query()).await.unwrap(), 500);
    // The abandoned attempt left no progress handler behind on the reader.
    assert_eq!(
        tight.get(&status(7)).await.unwrap().unwrap().body,
        "{\"n\":7}"
    );
}

/// Reads together answer in their order, as the single reads do; a batch over the inline budget
/// is abandoned (its transaction ended) and answered the same on a blocking thread; no reader is
/// left inside a transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_together_answer_as_the_single_reads_and_end_their_transaction() {
    use crate::store::{Answers, GroupsOf, Read};
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    let store: &dyn Store = &sqlite;
    insert_statuses(store, 300, &["compliant", "nonCompliant", "error"]).await;
    let query = || Query::all("t", "deviceCompliancePolicies/deviceStatuses", "p");
    let reads = || {
        vec![
            Read::Get(status(5)),
            Read::Get(status(999)),
            Read::CountMatching(query()),
            Read::Query(query()),
            Read::CountBy(GroupsOf {
                tenant: "t".into(),
                collection: "deviceCompliancePolicies/deviceStatuses".into(),
                parent: Some("p".into()),
                property: "status".into(),
            }),
        ]
    };
    let check = |found| {
        let mut answers = Answers::new(found);
        let row = answers.take().unwrap().into_row().unwrap().unwrap();
        assert_eq!(
            (row.key.id.as_str(), row.body),
            ("s0005", status_body("error"))
        );
        assert!(answers.take().unwrap().into_row().unwrap().is_none());
        assert_eq!(answers.take().unwrap().into_count().unwrap(), 300);
        assert_eq!(answers.take().unwrap().into_page().unwrap().len(), 300);
        let groups = answers.take().unwrap().into_groups().unwrap();
        assert_eq!(
            groups,
            [
                ("compliant".to_string(), 100),
                ("error".to_string(), 100),
                ("nonCompliant".to_string(), 100)
            ]
        );
        assert!(answers.take().is_err(), "five reads, five answers");
    };
    check(store.read_together(reads()).await.unwrap());
    sqlite.readers.set_inline_budget(10);
    let tight: &dyn Store = &sqlite;
    check(tight.read_together(reads()).await.unwrap());
    // Snapshots outlive a read by at most the reuse bound: then the sweep ends them.
    // (A reader the sweeper thread is looking at counts as open: asked again.)
    let swept = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(2));
        !sqlite.readers.sweep()
    });
    assert!(swept, "no snapshot left open");
    for i in 0..READERS {
        assert!(sqlite.readers.any(i).unwrap().is_autocommit(), "reader {i}");
    }
}

/// A data folder written before the key index led with the id opens with its rows, finds
/// them by key, and still refuses a second entity with a taken key.
#[tokio::test]
async fn a_folder_from_an_older_schema_keeps_its_rows_and_its_unique_keys() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut conn = connection::open(&dir.path().join("complyd.db")).unwrap();
        for (version, sql) in MIGRATIONS[..3].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", version + 1)
                .unwrap();
        }
        let tx = conn.transaction().unwrap();
        for i in 0..3 {
            let k = status(i);
            tx.execute(
                "INSERT INTO entity (tenant, collection, parent, id, type_name, body) VALUES (?1, ?2, ?3, ?4, 'x', '{}')",
                params![k.tenant, k.collection, k.parent, k.id],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let sqlite = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    let store: &dyn Store = &sqlite;
    assert!(store.get(&status(2)).await.unwrap().is_some());
    let taken = store
        .write(|tx| tx.insert(&status(1), "x", "{}"))
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict), "{taken}");
    let reader = sqlite.readers.any(0).unwrap();
    let (version, key_columns): (usize, String) = (
        reader
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap(),
        reader
            .query_row(
                "SELECT group_concat(name) FROM pragma_index_info('entity_key')",
                [],
                |r| r.get(0),
            )
            .unwrap(),
    );
    assert_eq!(version, MIGRATIONS.len());
    assert_eq!(key_columns, "id,tenant,collection,parent");
}

fn status_body(status: &str) -> String {
    format!("{{\"status\":\"{status}\",\"n\":1}}")
}

/// Statuses `status(0)`..`status(n - 1)` under `p`, their states taken from `states` in turn.
async fn insert_statuses(store: &dyn Store, n: usize, states: &'static [&'static str]) {
    store
        .write(move |tx| {
            (0..n).try_for_each(|i| {
                tx.insert(&status(i), "x", &status_body(states[i % states.len()]))
            })
        })
        .await
        .unwrap();
}

fn statuses_by_status() -> CountBy<'static> {
    CountBy {
        tenant: "t",
        collection: "deviceCompliancePolicies/deviceStatuses",
        parent: Some("p"),
        property: "status",
    }
}

/// The kept counts of the statuses under `p`, checked against a count of the rows.
async fn kept_counts(sqlite: &SqliteStore) -> Vec<(String, u64)> {
    let mut kept = sqlite.count_by(statuses_by_status()).await.unwrap();
    kept.sort();
    let sql = sql::count_by(
        Dialect::Sqlite,
        &statuses_by_status(),
        false,
        sqlite
            .slots
            .layout("deviceCompliancePolicies/deviceStatuses"),
    )
    .unwrap();
    let reader = sqlite.readers.any(0).unwrap();
    // Rows without the property group as "" there; no overview counts them.
    let mut rows = read::count_by(&reader, &sql).unwrap();
    rows.retain(|(value, _)| !value.is_empty());
    rows.sort();
    assert_eq!(kept, rows, "kept counts differ from the rows");
    kept
}

fn counts(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
    expected.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

/// The counts the database keeps equal a count of the rows: built from the rows a folder
/// already holds when the counts are first declared, then moved by inserts, updates that change
/// the value or not, deletes and deletes of whole trees; a rolled-back write moves none.
#[tokio::test]
async fn kept_counts_follow_every_write_and_start_from_the_stored_rows() {
    let dir = tempfile::tempdir().unwrap();
    {
        let sqlite = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
        let store: &dyn Store = &sqlite;
        insert_statuses(store, 30, &["compliant", "nonCompliant", "unknown"]).await;
    }
    // The model keeps statuses in a table of their own: opening moves them there first.
    let model = odata::Model::intune().unwrap();
    let slots = indexes::declared(model).unwrap().1;
    let declared = crate::store::counts::declared(model, &slots).unwrap();
    let sqlite = SqliteStore::open(dir.path(), &[], slots, &declared).unwrap();
    let store: &dyn Store = &sqlite;
    let all_three = counts(&[("compliant", 10), ("nonCompliant", 10), ("unknown", 10)]);
    assert_eq!(kept_counts(&sqlite).await, all_three);
    store
        .write(|tx| {
            tx.update(&status(0), &status_body("nonCompliant"))?;
            tx.update(&status(1), "{\"status\":\"nonCompliant\",\"n\":2}")?;
            tx.update(&status(2), "{\"n\":3}")?;
            tx.delete_tree(&status(3))?;
            tx.insert(&status(99), "x", &status_body("error"))
        })
        .await
        .unwrap();
    let moved = counts(&[
        ("compliant", 8),
        ("error", 1),
        ("nonCompliant", 11),
        ("unknown", 9),
    ]);
    assert_eq!(kept_counts(&sqlite).await, moved);
    let refused = store
        .write(|tx| {
            tx.update(&status(4), &status_body("error"))?;
            Err::<(), StoreError>(StoreError::Conflict)
        })
        .await;
    assert!(refused.is_err());
    assert_eq!(kept_counts(&sqlite).await, moved);
    store
        .write(|tx| tx.delete_tenant("t").map(|_| ()))
        .await
        .unwrap();
    assert_eq!(kept_counts(&sqlite).await, counts(&[]));
}

/// A page of the statuses under `p` with `filter` and `orderby` ($filter/$orderby text), bound as
/// the service binds them.
fn statuses_where(filter: &str, orderby: &str) -> Query {
    use odata::query::{bind, QueryOptions};
    let model = odata::Model::intune().unwrap();
    let ty = model
        .structured("microsoft.graph.deviceComplianceDeviceStatus")
        .unwrap();
    let options = QueryOptions::parse([("$filter", filter), ("$orderby", orderby)], false).unwrap();
    let bound = bind::bind(model, odata::Version::Beta, ty, &options).unwrap();
    let mut q = Query::all("t", "deviceCompliancePolicies/deviceStatuses", "p");
    q.filter = bound.filter;
    q.order = bound.orderby;
    q
}

fn reported(status: &str, upn: &str, at: &str) -> String {
    format!(
        "{{\"status\":\"{status}\",\"userPrincipalName\":\"{upn}\",\"lastReportedDateTime\":\"{at}\",\"deviceDisplayName\":\"d\"}}"
    )
}

/// Rows whose slot differs from the expression it stands for, over every declared slot.
fn stale_slots(sqlite: &SqliteStore, indexes: &[ModelIndex]) -> i64 {
    let reader = sqlite.readers.any(0).unwrap();
    let mut stale = 0;
    for index in indexes {
        for slot in &index.slots {
            let sql = sql::in_table(
                &format!(
                    "SELECT count(*) FROM {{T}} WHERE collection = {{C}} AND {} IS NOT {}",
                    slot.column, slot.expression
                ),
                &index.collection,
                &index.table,
            )
            .unwrap();
            stale += reader.query_row(&sql, [], |r| r.get::<_, i64>(0)).unwrap();
        }
    }
    stale
}

/// A folder from before slot columns gets them filled from its rows when it opens; after inserts
/// and updates (of one slot's value, of several, to a body without the values, in a write rolled
/// back) every slot still holds what its expression computes, and filters and sorts that read the
/// slots find the rows the bodies say, through the slot's index.
#[tokio::test]
async fn slots_hold_what_their_expressions_compute_through_an_upgrade_and_every_write() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut conn = connection::open(&dir.path().join("complyd.db")).unwrap();
        for (version, sql) in MIGRATIONS[..8].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", version + 1)
                .unwrap();
        }
        let tx = conn.transaction().unwrap();
        for i in 0..4 {
            let k = status(i);
            let status = ["compliant", "nonCompliant"][i % 2];
            let at = format!("2026-01-0{}T00:00:00Z", i + 1);
            tx.execute(
                "INSERT INTO entity (tenant, collection, parent, id, type_name, body) VALUES (?1, ?2, ?3, ?4, 'x', ?5)",
                params![k.tenant, k.collection, k.parent, k.id, reported(status, "old@x", &at)],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let model = odata::Model::intune().unwrap();
    let (indexes, slots) = indexes::declared(model).unwrap();
    let sqlite = SqliteStore::open(dir.path(), &indexes, slots, &[]).unwrap();
    let store: &dyn Store = &sqlite;
    assert_eq!(stale_slots(&sqlite, &indexes), 0);
    let ids =
        |rows: Vec<PageRow>| -> Vec<String> { rows.into_iter().map(|(r, _)| r.key.id).collect() };
    let noncompliant = || statuses_where("status eq 'nonCompliant'", "lastReportedDateTime desc");
    assert_eq!(
        ids(store.query(noncompliant()).await.unwrap()),
        ["s0003", "s0001"]
    );

    store
        .write(|tx| {
            // Only the time moves; then the status and the user; then a body without them.
            tx.update(
                &status(0),
                &reported("compliant", "old@x", "2026-02-01T00:00:00Z"),
            )?;
            tx.update(
                &status(1),
                &reported("compliant", "new@x", "2026-01-02T00:00:00Z"),
            )?;
            tx.update(&status(2), "{\"n\":1}")?;
            tx.insert(
                &status(4),
                "x",
                &reported("nonCompliant", "new@x", "2026-03-01T00:00:00Z"),
            )?;
            assert!(!tx.update(&status(9), "{}")?, "no such row");
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
    let refused = store
        .write(|tx| {
            tx.update(
                &status(3),
                &reported("compliant", "x@x", "2027-01-01T00:00:00Z"),
            )?;
            Err::<(), StoreError>(StoreError::Conflict)
        })
        .await;
    assert!(refused.is_err());
    assert_eq!(stale_slots(&sqlite, &indexes), 0);
    assert_eq!(
        ids(store.query(noncompliant()).await.unwrap()),
        ["s0004", "s0003"]
    );
    let recent = statuses_where(
        "lastReportedDateTime ge 2026-01-04T00:00:00Z and userPrincipalName eq 'old@x'",
        "lastReportedDateTime",
    );
    assert_eq!(ids(store.query(recent).await.unwrap()), ["s0003", "s0000"]);
    let without = statuses_where("status eq null", "status");
    assert_eq!(ids(store.query(without).await.unwrap()), ["s0002"]);
    assert_eq!(store.count_matching(noncompliant()).await.unwrap(), 2);

    // The filter reads the status's slot, through the index over it.
    let by_status = indexes
        .iter()
        .find(|i| i.collection == status(0).collection && i.property == "status")
        .unwrap();
    let plan = store
        .explain(statuses_where("status eq 'nonCompliant'", "status"))
        .await
        .unwrap()
        .join("\n");
    assert!(plan.contains(&by_status.sqlite_name), "{plan}");
}

/// Every slot of the model reads one top-level member, so a write gives SQL only the members its
/// slots read (`slots::source`). The slots of rows written so hold what their expressions compute
/// over the whole stored body: with the members there (escaped, or spaced out), absent while
/// nested elsewhere under the same names, null, and after updates from one body to another.
#[tokio::test]
async fn slots_from_the_picked_members_equal_their_expressions_over_the_whole_body() {
    let model = odata::Model::intune().unwrap();
    let (indexes, slots) = indexes::declared(model).unwrap();
    let mut members: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for index in &indexes {
        for slot in &index.slots {
            let member = slot.member.as_deref();
            assert!(
                member.is_some(),
                "{} reads more than one member",
                slot.over_new
            );
            members
                .entry(index.collection.as_str())
                .or_default()
                .extend(member);
        }
    }
    assert!(members.len() >= 5, "{members:?}");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path(), &indexes, slots, &[]).unwrap();
    let store: &dyn Store = &sqlite;
    let bodies = |names: &[&str]| -> Vec<String> {
        let with = |value: &str, sep: &str| {
            let pairs: Vec<String> = names
                .iter()
                .map(|n| format!(r#""{n}"{sep}:{sep}{value}"#))
                .collect();
            pairs.join(&format!(",{sep}"))
        };
        vec![
            format!(
                r#"{{"id":"x",{},"z":[1,{{"a":"}}"}}]}}"#,
                with(r#""2026-01-02T03:04:05Z""#, "")
            ),
            format!("{{ {} }}", with(r#""2026-03-01T00:00:00\u002B01:00""#, " ")),
            format!(
                r#"{{"nested":{{{}}},"list":[{{{}}}]}}"#,
                with(r#""n""#, ""),
                with("1", "")
            ),
            format!("{{{}}}", with("null", "")),
            format!(r#"{{"n":7,{}}}"#, with(r#""q\"\\ \u00e9""#, "")),
        ]
    };
    let rows: Vec<(Key, String, String)> = members
        .iter()
        .flat_map(|(collection, names)| {
            let parent = if collection.contains('/') { "p" } else { "" };
            let all = bodies(names);
            // Each row is inserted with one body, then moved to the next row's.
            (0..all.len())
                .map(|i| {
                    let key = Key::new("t", collection, parent, &format!("r{i}"));
                    (key, all[i].clone(), all[(i + 1) % all.len()].clone())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    store
        .write(move |tx| {
            for (key, first, _) in &rows {
                tx.insert(key, "x", first)?;
            }
            for (key, _, next) in &rows {
                assert!(tx.update(key, next)?);
            }
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
    assert_eq!(stale_slots(&sqlite, &indexes), 0);
    // And the slots hold values: the first body's dates are found by their slot.
    let recent = statuses_where(
        "lastReportedDateTime ge 2026-01-02T03:04:05Z",
        "lastReportedDateTime",
    );
    let found: Vec<String> = store
        .query(recent)
        .await
        .unwrap()
        .into_iter()
        .map(|(r, _)| r.key.id)
        .collect();
    assert_eq!(found, ["r4", "r0"]);
}

/// An upgrade's slot fill commits range by range: rows far apart in `seq` (several ranges, gaps
/// between) are all filled. A start that stopped between a fill's commits and its index (here:
/// the index gone, its slots cleared) fills them again and makes the index.
#[tokio::test]
async fn an_upgrade_fills_every_range_and_a_start_cut_short_is_taken_up() {
    use crate::store::generated::FILL_RANGE;
    let dir = tempfile::tempdir().unwrap();
    let seqs = [1, FILL_RANGE - 1, FILL_RANGE, 3 * FILL_RANGE + 7];
    {
        let conn = connection::open(&dir.path().join("complyd.db")).unwrap();
        for (version, sql) in MIGRATIONS[..8].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", version + 1)
                .unwrap();
        }
        for (i, seq) in seqs.iter().enumerate() {
            let k = status(i);
            let at = format!("2026-01-0{}T00:00:00Z", i + 1);
            conn.execute(
                "INSERT INTO entity (seq, tenant, collection, parent, id, type_name, body) VALUES (?1, ?2, ?3, ?4, ?5, 'x', ?6)",
                params![seq, k.tenant, k.collection, k.parent, k.id, reported("nonCompliant", "u@x", &at)],
            )
            .unwrap();
        }
    }
    let model = odata::Model::intune().unwrap();
    let (indexes, slots) = indexes::declared(model).unwrap();
    let by_status = indexes
        .iter()
        .find(|i| i.collection == status(0).collection && i.property == "status")
        .unwrap();
    let column = by_status.slots[0].column.clone();
    // The statuses are moved to their table of their own first, and filled there.
    let table = by_status.table.clone();
    assert_ne!(table, crate::store::tables::SHARED);
    let filled = |dir: &std::path::Path| -> (i64, bool) {
        let conn = rusqlite::Connection::open(dir.join("complyd.db")).unwrap();
        let filled = conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE {column} = 'nonCompliant'"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        let indexed = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
                [&by_status.sqlite_name],
                |r| r.get::<_, i64>(0),
            )
            .unwrap();
        (filled, indexed == 1)
    };
    let sqlite = SqliteStore::open(dir.path(), &indexes, slots.clone(), &[]).unwrap();
    assert_eq!(stale_slots(&sqlite, &indexes), 0);
    drop(sqlite);
    assert_eq!(filled(dir.path()), (seqs.len() as i64, true));

    {
        let conn = rusqlite::Connection::open(dir.path().join("complyd.db")).unwrap();
        conn.execute_batch(&format!(
            "DROP INDEX {}; UPDATE {table} SET {column} = NULL",
            by_status.sqlite_name
        ))
        .unwrap();
    }
    assert_eq!(filled(dir.path()), (0, false));
    let sqlite = SqliteStore::open(dir.path(), &indexes, slots, &[]).unwrap();
    assert_eq!(stale_slots(&sqlite, &indexes), 0);
    let store: &dyn Store = &sqlite;
    let noncompliant = statuses_where("status eq 'nonCompliant'", "status");
    assert_eq!(store.count_matching(noncompliant).await.unwrap(), 4);
    drop(sqlite);
    assert_eq!(filled(dir.path()), (seqs.len() as i64, true));
}

/// A read that begins after a write was answered sees that write, through `get`, a page and
/// `read_together`, though reads ran on the pool just before the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_after_an_answered_write_sees_it_though_reads_ran_just_before() {
    use crate::store::{Answers, Read};
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    sqlite
        .readers
        .set_snapshot_reuse(std::time::Duration::from_secs(600));
    let store: &dyn Store = &sqlite;
    insert_statuses(store, 1, &["compliant"]).await;
    let query = || Query::all("t", "deviceCompliancePolicies/deviceStatuses", "p");
    for round in 0..200usize {
        for _ in 0..READERS {
            store.get(&status(0)).await.unwrap().unwrap();
        }
        let body = format!("{{\"status\":\"compliant\",\"n\":{round}}}");
        let written = body.clone();
        store
            .write(move |tx| tx.update(&status(0), &written).map(|_| ()))
            .await
            .unwrap();
        let got = store.get(&status(0)).await.unwrap().unwrap();
        assert_eq!(got.body, body, "get, round {round}");
        let page = store.query(query()).await.unwrap();
        assert_eq!(page[0].0.body, body, "page, round {round}");
        let read = vec![Read::Get(status(0))];
        let mut answers = Answers::new(store.read_together(read).await.unwrap());
        let together = answers.take().unwrap().into_row().unwrap().unwrap();
        assert_eq!(together.body, body, "read together, round {round}");
    }
}

/// Commits status 0 as `error` through a connection of its own (as another process would).
fn fail_status_0_from_another_connection(dir: &Path) {
    let other = connection::open(&dir.join("complyd.db")).unwrap();
    other
        .execute(
            "UPDATE entity SET body = ?1 WHERE id = 's0000'",
            params![status_body("error")],
        )
        .unwrap();
}

/// A commit by another connection on the same file (another process on the same folder) is
/// seen by the next reads, though reads ran on the pool just before it.
#[tokio::test]
async fn another_connections_commit_is_seen_by_the_next_read() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    sqlite
        .readers
        .set_snapshot_reuse(std::time::Duration::from_secs(600));
    let store: &dyn Store = &sqlite;
    insert_statuses(store, 1, &["compliant"]).await;
    for _ in 0..READERS {
        store.get(&status(0)).await.unwrap().unwrap();
    }
    fail_status_0_from_another_connection(dir.path());
    for _ in 0..READERS {
        let got = store.get(&status(0)).await.unwrap().unwrap();
        assert_eq!(got.body, status_body("error"));
    }
}

/// Whether a write finds `keys` unwritten since `mark`.
async fn unwritten(store: &dyn Store, mark: WriteMark, keys: Vec<Key>) -> bool {
    store
        .write(move |tx| {
            let keys: Vec<&Key> = keys.iter().collect();
            Ok::<_, StoreError>(tx.unwritten_since(mark, &keys))
        })
        .await
        .unwrap()
}

/// The writer's log answers for its own writes by key, and for none once another connection on
/// the file (another process on the folder) has committed after the mark.
#[tokio::test]
async fn a_mark_is_answered_for_the_writers_keys_and_not_past_another_connections_commit() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    let store: &dyn Store = &sqlite;
    insert_statuses(store, 2, &["compliant"]).await;
    let mark = store.write_mark().unwrap();
    assert!(unwritten(store, mark, vec![status(0), status(1)]).await);
    let body = status_body("error");
    store
        .write(move |tx| tx.update(&status(1), &body))
        .await
        .unwrap();
    assert!(unwritten(store, mark, vec![status(0)]).await);
    assert!(!unwritten(store, mark, vec![status(1)]).await);
    assert!(unwritten(store, store.write_mark().unwrap(), vec![status(1)]).await);

    let mark = store.write_mark().unwrap();
    fail_status_0_from_another_connection(dir.path());
    assert!(!unwritten(store, mark, vec![status(0)]).await);
    assert!(
        unwritten(store, store.write_mark().unwrap(), vec![status(0)]).await,
        "a mark after it"
    );
}

fn audit_event(i: usize) -> Key {
    Key::new("t", "auditEvents", "", &format!("e{i:04}"))
}

/// An audit event's stored body, as the service writes it (`activityDateTime` in day `i`).
fn event_body(i: usize, activity: &str) -> String {
    format!(
        r##"{{"displayName":"{activity}","componentName":"Compliance","actor":{{"@odata.type":"#microsoft.graph.auditActor","type":"ItPro","auditActorType":"ItPro","userPermissions":["*"],"applicationId":"c0c0c0c0-1d0e-4a2b-8f00-00000000c0de","userId":"u{i}"}},"activity":"{activity}","activityDateTime":"2026-01-{:02}T00:00:00Z","activityType":"{activity}","activityOperationType":"Create","activityResult":"Success","correlationId":"c{i}","resources":[{{"@odata.type":"#microsoft.graph.auditResource","displayName":"<null>","modifiedProperties":[{{"@odata.type":"#microsoft.graph.auditProperty","displayName":"DeviceDisplayName","oldValue":null,"newValue":"device-{i}"}}],"type":"DeviceComplianceDeviceStatus","auditResourceType":"DeviceComplianceDeviceStatus","resourceId":"r{i}"}}],"category":"Compliance"}}"##,
        i + 1
    )
}

fn events_where(filter: &str, orderby: &str) -> Query {
    use odata::query::{bind, QueryOptions};
    let model = odata::Model::intune().unwrap();
    let ty = model.structured("microsoft.graph.auditEvent").unwrap();
    let options = QueryOptions::parse([("$filter", filter), ("$orderby", orderby)], false).unwrap();
    let bound = bind::bind(model, odata::Version::Beta, ty, &options).unwrap();
    let mut q = Query::all("t", "auditEvents", "");
    q.filter = bound.filter;
    q.order = bound.orderby;
    q
}

/// The model packs audit events. A folder whose events were stored as text before opens with
/// them as they were; new and rewritten events are stored packed, several times smaller; every
/// read answers the text that was written; filters and sorts (on slotted and other properties)
/// read the unpacked body, through the slot's index; every slot holds what its expression says.
#[tokio::test]
async fn packed_bodies_are_stored_small_and_read_back_as_written_beside_older_text_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (create, patch) = ("Create DeviceComplianceDeviceStatus", "Patch X");
    {
        let plain = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
        let store: &dyn Store = &plain;
        store
            .write(|tx| {
                (0..2).try_for_each(|i| tx.insert(&audit_event(i), "x", &event_body(i, create)))
            })
            .await
            .unwrap();
    }
    let model = odata::Model::intune().unwrap();
    let (indexes, slots) = indexes::declared(model).unwrap();
    assert!(slots.layout("auditEvents").packed.is_some());
    let events = slots.table("auditEvents").to_string();
    let sqlite = SqliteStore::open(dir.path(), &indexes, slots, &[]).unwrap();
    let store: &dyn Store = &sqlite;
    store
        .write(|tx| {
            (2..5).try_for_each(|i| tx.insert(&audit_event(i), "x", &event_body(i, create)))?;
            tx.update(&audit_event(1), &event_body(1, patch))
                .map(|_| ())
        })
        .await
        .unwrap();
    let written = |i| event_body(i, if i == 1 { patch } else { create });

    let stored: Vec<(String, String, i64)> = sqlite
        .readers
        .any(0)
        .unwrap()
        .prepare(&format!("SELECT id, typeof(body), length(body) FROM {events} WHERE collection = 'auditEvents' ORDER BY id"))
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let kinds: Vec<&str> = stored.iter().map(|(_, kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["text", "blob", "blob", "blob", "blob"]);
    for (id, _, length) in &stored[1..] {
        assert!(
            *length * 3 < written(1).len() as i64,
            "{id}: {length} bytes"
        );
    }

    for i in 0..5 {
        let row = store.get(&audit_event(i)).await.unwrap().unwrap();
        assert_eq!(row.body, written(i), "get {i}");
    }
    let all = store
        .query(Query::all("t", "auditEvents", ""))
        .await
        .unwrap();
    let bodies: Vec<String> = all.into_iter().map(|(r, _)| r.body).collect();
    assert_eq!(bodies, (0..5).map(written).collect::<Vec<_>>());
    let scanned = store.scan(0, 100).await.unwrap();
    assert_eq!(scanned.len(), 5);
    assert!(scanned
        .iter()
        .all(|r| r.body == written(r.key.id[1..].parse().unwrap())));

    let ids =
        |rows: Vec<PageRow>| -> Vec<String> { rows.into_iter().map(|(r, _)| r.key.id).collect() };
    let recent = events_where(
        &format!("category eq 'Compliance' and activityType eq '{create}' and activityDateTime ge 2026-01-02T00:00:00Z"),
        "activityDateTime desc",
    );
    assert_eq!(
        ids(store.query(recent).await.unwrap()),
        ["e0004", "e0003", "e0002"]
    );
    // The text row left from before (e0000) is filtered and sorted like the packed ones.
    let created = events_where(
        &format!("activityType eq '{create}'"),
        "activityDateTime desc",
    );
    assert_eq!(
        ids(store.query(created).await.unwrap()),
        ["e0004", "e0003", "e0002", "e0000"]
    );
    let deep = events_where("resources/any(r: r/resourceId eq 'r3')", "activityDateTime");
    assert_eq!(ids(store.query(deep).await.unwrap()), ["e0003"]);
    assert_eq!(
        store
            .count_matching(events_where(&format!("activity eq '{patch}'"), "id"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(stale_slots(&sqlite, &indexes), 0);
    let by_time = indexes
        .iter()
        .find(|i| i.collection == "auditEvents" && i.property == "activityDateTime")
        .unwrap();
    let plan = store
        .explain(events_where(
            "activityDateTime ge 2026-01-02T00:00:00Z",
            "activityDateTime",
        ))
        .await
        .unwrap()
        .join("\n");
    assert!(plan.contains(&by_time.sqlite_name), "{plan}");
}

/// A collection given a table of its own keeps its rows and their `seq` when they move in; new
/// rows number from the table's own range; an export scan reads every table in one `seq` order;
/// a whole tree's delete reaches into the table; and a collection no longer given one moves back.
#[tokio::test]
async fn rows_move_into_a_table_of_their_own_and_back_keeping_their_order() {
    let policies = |i: usize| Key::new("t", "deviceCompliancePolicies", "", &format!("p{i}"));
    let status_of = |policy: usize, i: usize| {
        Key::new(
            "t",
            "deviceCompliancePolicies/deviceStatuses",
            &format!("p{policy}"),
            &format!("s{i}"),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    {
        let shared = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
        let store: &dyn Store = &shared;
        store
            .write(move |tx| {
                for i in 0..2 {
                    tx.insert(&policies(i), "x", "{}")?;
                    for s in 0..3 {
                        tx.insert(&status_of(i, s), "x", &status_body("compliant"))?;
                    }
                }
                Ok::<(), StoreError>(())
            })
            .await
            .unwrap();
    }
    let scanned = |rows: Vec<Row>| -> Vec<(i64, String)> {
        rows.into_iter().map(|r| (r.seq, r.key.id)).collect()
    };
    let mut own = Slots::default();
    own.give_own_table("deviceCompliancePolicies/deviceStatuses")
        .unwrap();
    let table = own
        .table("deviceCompliancePolicies/deviceStatuses")
        .to_string();
    let sqlite = SqliteStore::open(dir.path(), &[], own.clone(), &[]).unwrap();
    let store: &dyn Store = &sqlite;
    let before = scanned(store.scan(0, 100).await.unwrap());
    assert_eq!(before.len(), 8);
    assert!(before.windows(2).all(|w| w[0].0 < w[1].0), "{before:?}");
    let in_table: i64 = sqlite
        .readers
        .any(0)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap();
    assert_eq!(in_table, 6);
    let old = store.get(&status_of(0, 1)).await.unwrap().unwrap();
    assert!(before.contains(&(old.seq, "s1".to_string())));
    store
        .write(move |tx| tx.insert(&status_of(1, 9), "x", &status_body("error")))
        .await
        .unwrap();
    let new = store.get(&status_of(1, 9)).await.unwrap().unwrap();
    let first = own.own_tables().next().unwrap().first_seq;
    assert_eq!(new.seq, first);
    let page = store
        .query(Query::all(
            "t",
            "deviceCompliancePolicies/deviceStatuses",
            "p1",
        ))
        .await
        .unwrap();
    let ids: Vec<String> = page.into_iter().map(|(r, _)| r.key.id).collect();
    assert_eq!(ids, ["s0", "s1", "s2", "s9"]);
    // An export resumes after any row, in one order across the tables.
    let after = scanned(store.scan(before[3].0, 3).await.unwrap());
    assert_eq!(after, before[4..7].to_vec());
    let last = scanned(store.scan(before[7].0, 10).await.unwrap());
    assert_eq!(last, [(first, "s9".to_string())]);
    store
        .write(move |tx| tx.delete_tree(&policies(0)).map(|_| ()))
        .await
        .unwrap();
    assert!(store.get(&status_of(0, 1)).await.unwrap().is_none());
    assert_eq!(store.scan(0, 100).await.unwrap().len(), 5);
    drop(sqlite);

    let shared = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    let store: &dyn Store = &shared;
    let back = scanned(store.scan(0, 100).await.unwrap());
    let ids: Vec<&str> = back.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids, ["p1", "s0", "s1", "s2", "s9"]);
    assert!(back.iter().all(|(seq, _)| *seq < first));
    let tables: i64 = shared
        .readers
        .any(0)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = ?1",
            [&table],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0);
    assert!(store.get(&status_of(1, 9)).await.unwrap().is_some());
}

/// In a table of its own, a lookup by key and a page of one parent's members go through the
/// table's key and paging indexes with the tenant and parent: ids repeat across parents (each
/// device's state of one policy has the policy's id), so the id alone would read a row per parent.
#[test]
fn a_table_of_its_own_is_searched_by_id_and_scope() {
    let dir = tempfile::tempdir().unwrap();
    let mut own = Slots::default();
    let states = "managedDevices/deviceCompliancePolicyStates";
    own.give_own_table(states).unwrap();
    let table = own.table(states).to_string();
    let sqlite = SqliteStore::open(dir.path(), &[], own.clone(), &[]).unwrap();
    let reader = sqlite.readers.any(0).unwrap();
    let plan = |template: &str, values: &[&dyn rusqlite::ToSql]| -> String {
        let sql = sql::in_table(template, states, &table).unwrap();
        reader
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(values, |r| r.get::<_, String>("detail"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .join("; ")
    };
    // The same templates the store's reads and writes use.
    let get = plan(
        "SELECT body FROM {T} WHERE {P} AND id = ?3",
        params!["t", "d1", "p1"],
    );
    assert!(
        get.contains(&format!("{table}_scope_key (id=? AND scope=?)")),
        "{get}"
    );
    let page = plan(
        "SELECT id FROM {T} WHERE {P} ORDER BY seq LIMIT ?3",
        params!["t", "d1", 10],
    );
    assert!(
        page.contains(&format!("{table}_scope_page (scope=?)")),
        "{page}"
    );
}

/// The device statuses' collection, in a table of its own in the scope tests.
const STATUSES: &str = "deviceCompliancePolicies/deviceStatuses";

fn statuses_in_a_table_of_their_own() -> Slots {
    let mut own = Slots::default();
    own.give_own_table(STATUSES).unwrap();
    own
}

#[tokio::test]
async fn a_path_whose_number_is_another_paths_is_refused_not_mixed() {
    let dir = tempfile::tempdir().unwrap();
    let (statuses, own) = (STATUSES, statuses_in_a_table_of_their_own());
    let sqlite = SqliteStore::open(dir.path(), &[], own, &[]).unwrap();
    let store: &dyn Store = &sqlite;
    let status = |parent: &str| Key::new("t", statuses, parent, "s1");
    store
        .write(move |tx| tx.insert(&status("p1"), "x", &status_body("compliant")))
        .await
        .unwrap();
    let registered = |parent: &str| -> Option<i64> {
        sqlite
            .readers
            .any(0)
            .unwrap()
            .query_row(
                "SELECT hash FROM scope WHERE tenant = 't' AND parent = ?1",
                params![parent],
                |r| r.get(0),
            )
            .ok()
    };
    assert_eq!(registered("p1"), Some(tables::scope_number(b"t", b"p1")));
    // Another path that had p2's number (a hash collision, made here by hand): the first row
    // under p2 is refused, and nothing of it is kept.
    let number = tables::scope_number(b"t", b"p2");
    super::connection::open(&dir.path().join("complyd.db"))
        .unwrap()
        .execute(
            "INSERT INTO scope (tenant, parent, hash) VALUES ('elsewhere', 'p2', ?1)",
            params![number],
        )
        .unwrap();
    let refused = store
        .write(move |tx| tx.insert(&status("p2"), "x", &status_body("error")))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::Backend(m) if m.contains("another path")),
        "{refused:?}"
    );
    assert!(store.get(&status("p2")).await.unwrap().is_none());
    assert_eq!(registered("p2"), None);
    // The path registered before still takes rows.
    store
        .write(move |tx| {
            tx.insert(
                &Key::new("t", statuses, "p1", "s2"),
                "x",
                &status_body("error"),
            )
        })
        .await
        .unwrap();
}

/// A job refused in a group takes its scopes back with it: the writer does not remember them as
/// registered, so the next row under them registers them again.
#[tokio::test]
async fn a_refused_jobs_scopes_are_registered_again_by_the_next_row() {
    let dir = tempfile::tempdir().unwrap();
    let (statuses, own) = (STATUSES, statuses_in_a_table_of_their_own());
    let sqlite = SqliteStore::open(dir.path(), &[], own, &[]).unwrap();
    let store: &dyn Store = &sqlite;
    let status = |parent: &str, id: &str| Key::new("t", statuses, parent, id);
    let refused = store
        .write(move |tx| {
            tx.insert(&status("p1", "s1"), "x", &status_body("compliant"))?;
            Err::<(), _>(StoreError::Conflict)
        })
        .await;
    assert!(refused.is_err());
    let scopes = || -> i64 {
        sqlite
            .readers
            .any(0)
            .unwrap()
            .query_row("SELECT count(*) FROM scope", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(scopes(), 0);
    store
        .write(move |tx| tx.insert(&status("p1", "s2"), "x", &status_body("compliant")))
        .await
        .unwrap();
    assert_eq!(scopes(), 1);
    // The row is found under its parent.
    let page = store.query(Query::all("t", statuses, "p1")).await.unwrap();
    assert_eq!(page.len(), 1);
}

/// Inside one group too: the jobs after a refused one do not take its path as registered, so a
/// kept job under that path registers it itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_jobs_scopes_in_a_group_are_registered_by_the_job_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (statuses, own) = (STATUSES, statuses_in_a_table_of_their_own());
    let sqlite = std::sync::Arc::new(SqliteStore::open(dir.path(), &[], own, &[]).unwrap());
    let store: std::sync::Arc<dyn Store> = sqlite.clone();
    let status = |parent: &str, id: &str| Key::new("t", statuses, parent, id);
    let insert = |parent: &'static str, id: &'static str, refuse: bool| {
        let store = std::sync::Arc::clone(&store);
        tokio::spawn(async move {
            store
                .write(move |tx| {
                    tx.insert(&status(parent, id), "x", &status_body("compliant"))?;
                    if refuse {
                        return Err(StoreError::Conflict);
                    }
                    Ok(())
                })
                .await
        })
    };
    // Holds the writer so that the next three jobs queue up and run as one group.
    let holder =
        crate::store::hold_writer(store.clone(), std::time::Duration::from_millis(300)).await;
    let refused = insert("p1", "s1", true);
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let other = insert("p2", "s1", false);
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let kept = insert("p1", "s2", false);
    holder.await.unwrap().unwrap();
    assert!(refused.await.unwrap().is_err());
    other.await.unwrap().unwrap();
    kept.await.unwrap().unwrap();
    let registered: Vec<String> = sqlite
        .readers
        .any(0)
        .unwrap()
        .prepare("SELECT parent FROM scope ORDER BY parent")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(registered, ["p1", "p2"]);
}

#[tokio::test]
async fn a_table_made_before_scopes_is_given_them_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (statuses, own) = (STATUSES, statuses_in_a_table_of_their_own());
    let table = own.table(statuses).to_string();
    let status = |parent: &str, id: &str| Key::new("t", statuses, parent, id);
    {
        let sqlite = SqliteStore::open(dir.path(), &[], own.clone(), &[]).unwrap();
        let store: &dyn Store = &sqlite;
        store
            .write(move |tx| {
                for policy in ["p1", "p2"] {
                    tx.insert(
                        &Key::new("t", "deviceCompliancePolicies", "", policy),
                        "x",
                        "{}",
                    )?;
                }
                for (parent, id) in [("p1", "s1"), ("p1", "s2"), ("p2", "s1")] {
                    tx.insert(&status(parent, id), "x", &status_body("compliant"))?;
                }
                Ok::<(), StoreError>(())
            })
            .await
            .unwrap();
    }
    // Back to the tables as stop 56 made them: no scope column, registry or indexes by scope.
    {
        let conn = super::connection::open(&dir.path().join("complyd.db")).unwrap();
        conn.execute_batch(&format!(
            "DROP INDEX {table}_scope_key; DROP INDEX {table}_scope_page;
            ALTER TABLE {table} DROP COLUMN scope; DELETE FROM scope;
            CREATE UNIQUE INDEX {table}_key ON {table} (id, tenant, parent);
            CREATE INDEX {table}_page ON {table} (tenant, parent, seq);"
        ))
        .unwrap();
    }
    let sqlite = SqliteStore::open(dir.path(), &[], own, &[]).unwrap();
    let store: &dyn Store = &sqlite;
    assert!(store.get(&status("p2", "s1")).await.unwrap().is_some());
    let page = store.query(Query::all("t", statuses, "p1")).await.unwrap();
    let ids: Vec<String> = page.into_iter().map(|(r, _)| r.key.id).collect();
    assert_eq!(ids, ["s1", "s2"]);
    let (scopes, indexes) = {
        let reader = sqlite.readers.any(0).unwrap();
        let scopes: i64 = reader
            .query_row("SELECT count(*) FROM scope", [], |r| r.get(0))
            .unwrap();
        let indexes: Vec<String> = reader
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 ORDER BY name",
        )
        .unwrap()
        .query_map(params![table], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
        (scopes, indexes)
    };
    assert_eq!(scopes, 2);
    assert_eq!(
        indexes,
        [format!("{table}_scope_key"), format!("{table}_scope_page")]
    );
    // A tree's delete reaches the rows through the registry.
    store
        .write(move |tx| {
            tx.delete_tree(&Key::new("t", "deviceCompliancePolicies", "", "p1"))
                .map(|_| ())
        })
        .await
        .unwrap();
    assert!(store.get(&status("p1", "s2")).await.unwrap().is_none());
    assert!(store.get(&status("p2", "s1")).await.unwrap().is_some());
}

/// A row read by key is kept and answers the next read of it; a write to it drops it before the
/// commit (the other rows stay kept), and the read after the write has the new body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_row_answers_until_the_writer_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    let store: &dyn Store = &sqlite;
    insert_statuses(store, 2, &["compliant"]).await;
    for i in 0..2 {
        store.get(&status(i)).await.unwrap().unwrap();
    }
    assert_eq!(sqlite.rows.stats().0, 2, "both rows kept");
    for _ in 0..3 {
        let got = store.get(&status(1)).await.unwrap().unwrap();
        assert_eq!(got.body, status_body("compliant"));
        assert_eq!(got.key, status(1));
    }
    assert!(
        sqlite.rows.stats().2 >= 3,
        "the reads of row 1 were answered kept"
    );

    let body = status_body("error");
    store
        .write(move |tx| tx.update(&status(0), &body))
        .await
        .unwrap();
    assert_eq!(sqlite.rows.stats().0, 1, "row 0 dropped, row 1 kept");
    assert_eq!(
        store.get(&status(0)).await.unwrap().unwrap().body,
        status_body("error")
    );
    assert_eq!(
        store.get(&status(1)).await.unwrap().unwrap().body,
        status_body("compliant")
    );
    assert_eq!(sqlite.rows.stats().0, 2);
}

/// Another connection's commit (another process on the folder) drops every kept row at the next
/// lookup, while this process's writer is idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_connections_commit_drops_every_kept_row() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    let store: &dyn Store = &sqlite;
    insert_statuses(store, 3, &["compliant"]).await;
    for _ in 0..2 {
        for i in 0..3 {
            store.get(&status(i)).await.unwrap().unwrap();
        }
    }
    assert_eq!(sqlite.rows.stats().0, 3);
    fail_status_0_from_another_connection(dir.path());
    assert_eq!(
        store.get(&status(0)).await.unwrap().unwrap().body,
        status_body("error")
    );
    assert_eq!(sqlite.rows.stats().0, 1, "only the row read since is kept");
    // The writer's next group starts from the state the other commit left.
    let body = status_body("unknown");
    store
        .write(move |tx| tx.update(&status(1), &body))
        .await
        .unwrap();
    assert_eq!(
        store.get(&status(0)).await.unwrap().unwrap().body,
        status_body("error")
    );
    assert_eq!(
        store.get(&status(1)).await.unwrap().unwrap().body,
        status_body("unknown")
    );
}

/// Deleting an entity drops the kept rows under it, and they read as gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_entity_leaves_no_kept_row_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    let store: &dyn Store = &sqlite;
    let policy = Key::new("t", "deviceCompliancePolicies", "", "p");
    let other = Key::new("t", "deviceCompliancePolicies", "", "q");
    let other_status = Key::new("t", "deviceCompliancePolicies/deviceStatuses", "q", "s0000");
    let (p, q, qs) = (policy.clone(), other.clone(), other_status.clone());
    store
        .write(move |tx| {
            tx.insert(&p, "x", "{}")?;
            tx.insert(&q, "x", "{}")?;
            tx.insert(&qs, "x", &status_body("compliant"))
        })
        .await
        .unwrap();
    insert_statuses(store, 2, &["compliant"]).await;
    for key in [&policy, &other, &other_status, &status(0), &status(1)] {
        store.get(key).await.unwrap().unwrap();
    }
    assert_eq!(sqlite.rows.stats().0, 5);
    let p = policy.clone();
    assert!(store.write(move |tx| tx.delete_tree(&p)).await.unwrap());
    assert!(store.get(&status(0)).await.unwrap().is_none());
    assert!(store.get(&status(1)).await.unwrap().is_none());
    assert!(store.get(&policy).await.unwrap().is_none());
    assert_eq!(
        sqlite.rows.stats().0,
        2,
        "the other policy and its status stay"
    );
    assert!(store.get(&other_status).await.unwrap().is_some());
}

/// The kept rows' bytes stay within the bound, and every read still answers its own row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_rows_stay_within_their_bound() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap();
    let store: &dyn Store = &sqlite;
    insert_statuses(store, 200, &["compliant", "error"]).await;
    let bound = 16 * 1024;
    sqlite.rows.set_budget(bound);
    for round in 0..3 {
        for i in 0..200 {
            let got = store.get(&status(i)).await.unwrap().unwrap();
            let state = ["compliant", "error"][i % 2];
            assert_eq!(got.body, status_body(state), "row {i}, round {round}");
            let (kept, bytes, _) = sqlite.rows.stats();
            assert!(bytes <= bound, "{bytes} bytes kept");
            assert!(kept < 200);
        }
    }
    let (kept, _, hits) = sqlite.rows.stats();
    assert!(kept > 20, "{kept} rows kept");
    assert!(hits > 0);
}

/// Reads racing the writer never answer older than the last write answered before they began:
/// a row kept from before a commit is never served after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_racing_writes_never_answer_older_than_the_last_answered_write() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(SqliteStore::open(dir.path(), &[], Default::default(), &[]).unwrap());
    let store: Arc<dyn Store> = sqlite.clone();
    insert_statuses(&*store, 4, &["compliant"]).await;
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = |n: usize| format!("{{\"status\":\"compliant\",\"n\":{n}}}");
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let (store, answered) = (store.clone(), answered.clone());
            tokio::spawn(async move {
                let mut reads = 0;
                loop {
                    let before = answered.load(Ordering::SeqCst);
                    let key = status(reads % 4);
                    let row = store.get(&key).await.unwrap().unwrap();
                    let body: serde_json::Value = serde_json::from_str(&row.body).unwrap();
                    let n = body["n"].as_u64().unwrap() as usize;
                    if reads % 4 == 0 {
                        assert!(
                            n >= before,
                            "reader {r}: read {n} after write {before} was answered"
                        );
                    }
                    reads += 1;
                    if before >= 300 {
                        return reads;
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for n in 2..=300 {
        let body = counter(n);
        store
            .write(move |tx| {
                tx.update(&status(0), &body)?;
                tx.update(&status(n % 3 + 1), &body)
            })
            .await
            .unwrap();
        answered.store(n, Ordering::SeqCst);
    }
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }
    assert_eq!(
        store.get(&status(0)).await.unwrap().unwrap().body,
        counter(300)
    );
    assert!(sqlite.rows.stats().2 > 0, "some reads were answered kept");
}

/// A body readied off the writer (`Store::ready`) is stored as the writer stores its text: the
/// same (packed) body and slot values. What was readied for another collection is not used.
#[tokio::test]
async fn a_readied_body_is_stored_as_its_text_would_be() {
    let dir = tempfile::tempdir().unwrap();
    let model = odata::Model::intune().unwrap();
    let (indexes, slots) = indexes::declared(model).unwrap();
    let sqlite = SqliteStore::open(dir.path(), &indexes, slots, &[]).unwrap();
    let store: &dyn Store = &sqlite;
    const EVENTS: &str = "auditEvents";
    let event = |i: usize| Key::new("t", EVENTS, "", &format!("e{i}"));
    let status_text = reported("nonCompliant", "u@x", "2026-01-01T00:00:00Z");
    let event_text = "{\"activityDateTime\":\"2026-01-01T00:00:00Z\",\"category\":\"Compliance\",\"activityType\":\"Create DeviceComplianceDeviceStatus\"}";
    let ready_status = store.ready(&status(0).collection, status_text.clone());
    let ready_event = store.ready(EVENTS, event_text.to_string());
    let ready_elsewhere = store.ready(EVENTS, status_text.clone());
    assert!(ready_status.derived_for(&status(0).collection).is_some());
    assert!(ready_event
        .derived_for(EVENTS)
        .is_some_and(|d| d.slot_source.is_some()));
    assert!(ready_elsewhere.derived_for(&status(0).collection).is_none());
    let texts = (status_text.clone(), event_text);
    store
        .write(move |tx| {
            tx.insert(&status(1), "x", &texts.0)?;
            tx.insert_ready(&status(2), "x", &ready_status)?;
            tx.insert_ready(&status(3), "x", &ready_elsewhere)?;
            tx.insert(&event(1), "x", texts.1)?;
            tx.insert_ready(&event(2), "x", &ready_event)
        })
        .await
        .unwrap();
    // Every column but the id and seq, as stored.
    let stored = |key: &Key| -> Vec<rusqlite::types::Value> {
        let reader = sqlite.readers.any(0).unwrap();
        let table = sqlite.slots.table(&key.collection).to_string();
        let mut st = reader
            .prepare(&format!("SELECT * FROM {table} WHERE id = ?1"))
            .unwrap();
        let names: Vec<String> = st.column_names().iter().map(|n| n.to_string()).collect();
        st.query_row([&key.id], |r| {
            (0..names.len())
                .filter(|&i| names[i] != "id" && names[i] != "seq")
                .map(|i| r.get::<_, rusqlite::types::Value>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap()
    };
    let first = stored(&status(1));
    assert!(first.len() > 6, "the statuses' table has slot columns");
    assert_eq!(stored(&status(2)), first);
    assert_eq!(stored(&status(3)), first);
    let event_row = stored(&event(1));
    assert!(
        event_row
            .iter()
            .any(|v| matches!(v, rusqlite::types::Value::Blob(_))),
        "an audit event's body is packed"
    );
    assert_eq!(stored(&event(2)), event_row);
    assert_eq!(stale_slots(&sqlite, &indexes), 0);
    for (key, text) in [(status(2), status_text.as_str()), (event(2), event_text)] {
        assert_eq!(store.get(&key).await.unwrap().unwrap().body, text);
    }
}
