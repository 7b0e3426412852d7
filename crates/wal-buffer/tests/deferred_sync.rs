//! Inside `deferring_wal_sync` a commit's WAL sync is left to the caller, its frames are in the
//! file for every reader, and the deferral ends with the call. (Alone in its test binary: the
//! counter is per process.)
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{integrity, open};
use rusqlite::Connection;

fn rows(path: &std::path::Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_deferred_commit_is_published_whole_and_only_commits_inside_the_call_defer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = open(&path);
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        .unwrap();
    assert_eq!(
        wal_buffer::wal_syncs_deferred(),
        0,
        "a commit outside deferred"
    );

    let insert = |from: i64| {
        conn.execute_batch("BEGIN").unwrap();
        for i in from..from + 100 {
            conn.execute("INSERT INTO t VALUES (?1, ?2)", (i, "x".repeat(500)))
                .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
    };
    wal_buffer::deferring_wal_sync(|| insert(0));
    let deferred = wal_buffer::wal_syncs_deferred();
    assert!(deferred >= 1, "the commit's sync was made");
    // Published with its frames written: another connection on the default VFS reads them.
    assert_eq!(rows(&path), 100);

    // After the call, syncs are made again.
    insert(100);
    assert_eq!(wal_buffer::wal_syncs_deferred(), deferred);
    assert_eq!(rows(&path), 200);

    // A panic inside ends the deferral too.
    let caught = std::panic::catch_unwind(|| wal_buffer::deferring_wal_sync(|| panic!("job")));
    assert!(caught.is_err());
    insert(200);
    assert_eq!(wal_buffer::wal_syncs_deferred(), deferred);

    // Another thread's commits are not deferred by this one's call.
    let other_path = path.clone();
    wal_buffer::deferring_wal_sync(|| {
        std::thread::spawn(move || {
            open(&other_path)
                .execute("INSERT INTO t VALUES (1000, 'y')", [])
                .unwrap();
        })
        .join()
        .unwrap();
    });
    assert_eq!(wal_buffer::wal_syncs_deferred(), deferred);
    assert_eq!(rows(&path), 301);
    assert_eq!(integrity(&conn), "ok");
}
