//! The database stays whole through what makes SQLite write the WAL unusually: transactions
//! larger than the page cache (pages spilled mid-transaction and read back), rollbacks after a
//! spill, pages rewritten in one transaction, checkpoints, and a process killed mid-commit.
#![allow(clippy::unwrap_used)]

mod common;

use common::{count, integrity, open};
use rusqlite::Connection;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn spills_rollbacks_rewrites_and_checkpoints_keep_the_database_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = open(&path);
    // A 20-page cache: a transaction of hundreds of pages spills to the WAL before its commit.
    conn.pragma_update(None, "cache_size", 20).unwrap();
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT); CREATE INDEX t_body ON t(body)",
    )
    .unwrap();
    let reader = Connection::open(&path).unwrap();

    let insert = |from: i64, to: i64| {
        for i in from..to {
            conn.execute("INSERT INTO t VALUES (?1, ?2)", (i, format!("{i:0>600}")))
                .unwrap();
        }
    };
    // Committed, larger than the cache.
    conn.execute_batch("BEGIN").unwrap();
    insert(0, 2000);
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(count(&reader), 2000);

    // Spilled, then rolled back: nothing of it is seen, and the next commit lands.
    conn.execute_batch("BEGIN").unwrap();
    insert(2000, 4000);
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(count(&reader), 2000);
    conn.execute_batch("BEGIN").unwrap();
    insert(2000, 2500);
    // The same pages rewritten within the transaction.
    for _ in 0..3 {
        conn.execute("UPDATE t SET body = body || 'y' WHERE id >= 2000", [])
            .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(count(&reader), 2500);
    let rewritten: i64 = reader
        .query_row("SELECT count(*) FROM t WHERE body LIKE '%yyy'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rewritten, 500);

    // A checkpoint on another connection, a restart of the WAL, more commits.
    reader
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    conn.execute_batch("BEGIN").unwrap();
    insert(2500, 3000);
    conn.execute_batch("COMMIT").unwrap();
    conn.execute("DELETE FROM t WHERE id % 3 = 0", []).unwrap();
    assert_eq!(integrity(&reader), "ok");
    assert_eq!(count(&reader), 2000);
    drop(reader);
    drop(conn);

    // Reopened through the default VFS: the same.
    let plain = Connection::open(&path).unwrap();
    assert_eq!(integrity(&plain), "ok");
    assert_eq!(count(&plain), 2000);
}

/// The child half of the next test: commits rows forever, printing each committed total.
#[test]
fn writer_until_killed() {
    let Ok(path) = std::env::var("WAL_BUFFER_CHILD_DB") else {
        return; // only as the child of the test below
    };
    let conn = open(Path::new(&path));
    conn.execute_batch("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)")
        .unwrap();
    for batch in 0i64.. {
        conn.execute_batch("BEGIN").unwrap();
        for i in 0..50 {
            conn.execute(
                "INSERT INTO t VALUES (?1, ?2)",
                (batch * 50 + i, "z".repeat(700)),
            )
            .unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
        println!("committed {}", (batch + 1) * 50);
    }
}

#[test]
fn a_process_killed_mid_commit_keeps_every_commit_it_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "writer_until_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WAL_BUFFER_CHILD_DB", &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut reported = 0;
    while reported < 20_000 {
        let line = lines.next().unwrap().unwrap();
        if let Some(n) = line.strip_prefix("committed ") {
            reported = n.parse().unwrap();
        }
    }
    child.kill().unwrap(); // SIGKILL, mid-commit as likely as not
    child.wait().unwrap();

    let plain = Connection::open(&path).unwrap();
    assert_eq!(integrity(&plain), "ok");
    let rows = count(&plain);
    assert!(
        rows >= reported,
        "{rows} rows after {reported} were reported committed"
    );
    assert_eq!(rows % 50, 0, "a commit is whole or absent");
}
