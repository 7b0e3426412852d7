#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::store::{PageRow, Store};
use rusqlite::params;

fn status(i: usize) -> Key {
    Key {
        tenant: "t".into(),
        collection: "deviceCompliancePolicies/deviceStatuses".into(),
        parent: "p".into(),
        id: format!("s{i:04}"),
    }
}

/// A read over its inline budget is abandoned and run again on a blocking thread, with the
/// same answer as a read that stays within it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_over_the_inline_budget_move_to_a_blocking_thread_with_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = SqliteStore::open(dir.path(), &[]).unwrap();
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

    Arc::get_mut(&mut sqlite.readers)
        .expect("one owner")
        .inline_budget_steps = 10;
    let tight: &dyn Store = &sqlite;
    assert_eq!(ids(tight.query(query()).await.unwrap()), inline);
    assert_eq!(tight.count_matching(query()).await.unwrap(), 500);
    // The abandoned attempt left no progress handler behind on the reader.
    assert_eq!(
        tight.get(&status(7)).await.unwrap().unwrap().body,
        "{\"n\":7}"
    );
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
    let sqlite = SqliteStore::open(dir.path(), &[]).unwrap();
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
