//! What the test binaries share: a connection through the VFS, as complyd opens one.
#![allow(clippy::unwrap_used, dead_code)]

use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// A connection through the VFS, in WAL mode with `synchronous=FULL`.
pub fn open(path: &Path) -> Connection {
    let vfs = wal_buffer::register().unwrap();
    let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn
}

pub fn integrity(conn: &Connection) -> String {
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// The rows of the tests' table `t`.
pub fn count(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap()
}
