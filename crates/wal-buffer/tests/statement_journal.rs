//! A savepoint's journal larger than the 1 MiB SQLite keeps in memory moves to a file in one
//! write of its whole buffer; the VFS writes that in pieces the unix VFS accepts. (Alone in its
//! test binary: the spill size is set before SQLite starts, by the first registration.)
#![allow(clippy::unwrap_used)]

use rusqlite::{Connection, OpenFlags};

#[test]
fn a_savepoint_journal_past_the_memory_limit_spills_and_rolls_back() {
    let vfs = wal_buffer::register().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conn =
        Connection::open_with_flags_and_vfs(dir.path().join("t.db"), OpenFlags::default(), vfs)
            .unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    // The trigger gives every update a statement journal, as complyd's count triggers do.
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT);
         CREATE TABLE changes (n INTEGER);
         INSERT INTO changes VALUES (0);
         CREATE TRIGGER counted AFTER UPDATE ON t BEGIN UPDATE changes SET n = n + 1; END;",
    )
    .unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..3000 {
        conn.execute("INSERT INTO t VALUES (?1, ?2)", (i, "a".repeat(1000)))
            .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();

    // ~3 MB of existing pages changed under one savepoint: its journal cannot stay in memory.
    conn.execute_batch("BEGIN; SAVEPOINT job").unwrap();
    conn.execute("UPDATE t SET body = ?1", [&"b".repeat(1000)])
        .unwrap();
    let changed: i64 = conn
        .query_row("SELECT count(*) FROM t WHERE body LIKE 'b%'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(changed, 3000);
    conn.execute_batch("ROLLBACK TO job; RELEASE job; COMMIT")
        .unwrap();

    let (kept, counted): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM t WHERE body LIKE 'a%'), (SELECT n FROM changes)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((kept, counted), (3000, 0));
}
