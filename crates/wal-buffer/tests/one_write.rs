//! A commit's WAL frames reach the file in writes of up to 128 KiB, and the file holds what SQLite wrote.
//! (Alone in its test binary: the write counts are per process.)
#![allow(clippy::unwrap_used)]

mod common;

use common::{integrity, open};
use rusqlite::Connection;

#[test]
fn a_commit_of_many_pages_is_a_few_writes_and_reads_back_through_the_default_vfs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = open(&path);
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        .unwrap();

    let before = wal_buffer::wal_writes();
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..300 {
        conn.execute("INSERT INTO t VALUES (?1, ?2)", (i, "x".repeat(1000)))
            .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
    let after = wal_buffer::wal_writes();
    let received = after.received - before.received;
    let issued = after.issued - before.issued;
    // 300 rows of 1 KB are ~75 pages of 4 KiB: a header and a page per frame.
    assert!(received >= 150, "SQLite wrote {received} times");
    // ~310 KB of frames: three writes of at most 128 KiB.
    assert!(issued <= 3, "{received} writes became {issued}");

    // Another connection on the default VFS reads the commit from the WAL file itself.
    let other = Connection::open(&path).unwrap();
    let (rows, bytes): (i64, i64) = other
        .query_row("SELECT count(*), sum(length(body)) FROM t", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((rows, bytes), (300, 300_000));
    assert_eq!(integrity(&other), "ok");
}
