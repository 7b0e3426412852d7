//! `wal_index_header` changes with every commit, whoever makes it (another connection, another
//! process with SQLite's own VFS), and with nothing else.
#![allow(clippy::unwrap_used)]

mod common;

use common::{count, open};
use rusqlite::Connection;
use std::path::Path;
use std::process::Command;
use wal_buffer::wal_index_header;

/// The child half of the next test: one commit with SQLite's default VFS, then it exits.
#[test]
fn commit_once_as_child() {
    let Ok(path) = std::env::var("WAL_INDEX_CHILD_DB") else {
        return; // only as the child of the test below
    };
    let conn = Connection::open(Path::new(&path)).unwrap();
    conn.execute("INSERT INTO t (body) VALUES ('child')", [])
        .unwrap();
}

#[test]
fn the_header_moves_with_each_commit_by_anyone_and_with_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let writer = open(&path);
    writer
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        .unwrap();
    let reader = open(&path);
    assert_eq!(count(&reader), 0);
    let first = wal_index_header(&reader).unwrap();
    assert_eq!(count(&reader), 0);
    assert_eq!(
        wal_index_header(&reader),
        Some(first),
        "reads change nothing"
    );
    assert_eq!(wal_index_header(&writer), Some(first), "one index per file");

    writer
        .execute("INSERT INTO t (body) VALUES ('here')", [])
        .unwrap();
    let after_local = wal_index_header(&reader).unwrap();
    assert_ne!(after_local, first, "a commit by another connection");

    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "commit_once_as_child", "--test-threads=1"])
        .env("WAL_INDEX_CHILD_DB", &path)
        .status()
        .unwrap();
    assert!(status.success());
    let after_child = wal_index_header(&reader).unwrap();
    assert_ne!(after_child, after_local, "a commit by another process");
    assert_eq!(count(&reader), 2);
    assert_eq!(wal_index_header(&reader), Some(after_child));

    let plain = Connection::open(&path).unwrap();
    assert_eq!(
        wal_index_header(&plain),
        None,
        "a connection through another VFS"
    );
}
