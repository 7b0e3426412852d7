//! Keeping the WAL short: passive checkpoints on a thread of their own, a restart by the writer
//! when the log grows past a limit, and an emptied log at a clean stop.

use super::readers::Sweeper;
use super::BUSY_TIMEOUT;
use crate::store::StoreError;
use rusqlite::Connection;

/// Past this size the writer restarts the WAL between two groups (the background checkpoints
/// have copied most of it by then; under constant writes a passive checkpoint never resets it).
/// RESTART, not TRUNCATE: the next frames overwrite the file's first blocks instead of growing
/// an emptied file again block by block, and `journal_size_limit` trims what is past the limit.
pub const WAL_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// Starts the checkpoint thread on `conn`; it ends when `alive` can no longer be upgraded.
pub fn start(conn: Connection, alive: std::sync::Weak<()>) -> Result<(), StoreError> {
    std::thread::Builder::new()
        .name("complyd-checkpoint".into())
        .spawn(move || checkpoint_loop(conn, alive))
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(())
}

/// How often the checkpoint thread looks at a WAL that did not grow since its last look.
const IDLE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);
/// How often it checkpoints while the WAL grows: often enough that the writer's restart finds
/// the log nearly all copied and does not copy tens of megabytes itself between two groups.
const BUSY_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

/// How far into the restart's limit the log is when the checkpoint thread starts writing the
/// copied pages back (see `checkpoint_loop`).
const WRITEBACK_FROM: f64 = 0.75;
/// The bytes each WAL frame adds to its page.
const WAL_FRAME_HEADER: i64 = 24;

/// Checkpoints the WAL off the commit path, passively: every [`BUSY_INTERVAL`] while writes
/// arrive, every [`IDLE_INTERVAL`] when none did. Ends when the store is dropped.
///
/// A passive checkpoint under constant writes rarely copies the whole log, and SQLite syncs the
/// database file only when it does: the pages it copied stay dirty until the writer's restart
/// syncs them, writing them back on the writer's thread. So after each checkpoint that copied
/// frames once the log is past [`WRITEBACK_FROM`] of the restart's limit, this thread starts
/// their write-back itself (without waiting for it or flushing the disk's cache, which would
/// hold up the commits' syncs), and a restart finds most of them written. Not earlier: a page
/// written back every few checkpoints would be written to disk again and again, where the
/// restart's sync writes it once (creates of device statuses measured 0.79 of before so).
fn checkpoint_loop(conn: Connection, alive: std::sync::Weak<()>) {
    let database = conn.path().and_then(|path| std::fs::File::open(path).ok());
    let frame_bytes = conn
        .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .unwrap_or(4096)
        + WAL_FRAME_HEADER;
    let writeback_frames = (WAL_LIMIT_BYTES as f64 * WRITEBACK_FROM) as i64 / frame_bytes;
    let mut last_log = 0;
    let mut last_copied = 0;
    let mut interval = IDLE_INTERVAL;
    while alive.upgrade().is_some() {
        std::thread::sleep(interval);
        // (busy, frames in the log, frames copied): the log's length tells whether it grew.
        let counts = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match counts {
            Ok((log, copied)) => {
                interval = if log != last_log {
                    BUSY_INTERVAL
                } else {
                    IDLE_INTERVAL
                };
                if log >= writeback_frames && copied > 0 && copied != last_copied {
                    if let Some(Err(e)) = database.as_ref().map(wal_buffer::start_writeback) {
                        tracing::warn!(error = %e, "writing the database file back failed");
                    }
                }
                (last_log, last_copied) = (log, copied);
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

/// Restarts the WAL when the file at `wal` is past [`WAL_LIMIT_BYTES`] (called by the writer
/// between groups). A restart waits for every reader of the log, so the readers' snapshots are
/// let go for it (`Sweeper::around_checkpoint`).
pub fn restart_if_long(conn: &Connection, wal: &std::path::Path, sweeper: &Sweeper) {
    if std::fs::metadata(wal).is_ok_and(|m| m.len() > WAL_LIMIT_BYTES) {
        let restarted = sweeper
            .around_checkpoint(|| conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())));
        if let Err(e) = restarted {
            tracing::warn!(error = %e, "WAL restart failed");
        }
    }
}

/// Copies the WAL into the database file and empties it, waiting at most `patience` for the
/// readers of other processes.
pub fn truncate_wal(conn: &Connection, patience: std::time::Duration) -> Result<(), StoreError> {
    conn.busy_timeout(patience)?;
    let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>("busy")
    });
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if busy? != 0 {
        return Err(StoreError::Unavailable(
            "another process is reading; the WAL stays".into(),
        ));
    }
    Ok(())
}
