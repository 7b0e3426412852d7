//! Keeping the WAL short: passive checkpoints on a thread of their own, a restart by the writer
//! when the log grows past a limit (once that thread has synced the database file), and an
//! emptied log at a clean stop.

use super::readers::Sweeper;
use super::BUSY_TIMEOUT;
use crate::store::StoreError;
use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Past this size the writer restarts the WAL between two groups (the background checkpoints
/// have copied most of it by then; under constant writes a passive checkpoint never resets it).
/// RESTART, not TRUNCATE: the next frames overwrite the file's first blocks instead of growing
/// an emptied file again block by block, and `journal_size_limit` trims what is past the limit.
/// 256 MiB, not 64: each restart holds the writer while it copies and syncs; check-ins measured
/// 1.09 of before with the checkpoint thread's sync (`RestartReady`) and this limit together.
pub const WAL_LIMIT_BYTES: u64 = 256 * 1024 * 1024;

/// Past this size the writer restarts the WAL without waiting for the checkpoint thread's sync
/// (that thread has fallen behind): the log stays bounded.
const WAL_HARD_LIMIT_BYTES: u64 = 2 * WAL_LIMIT_BYTES;

/// Set by the checkpoint thread once the log is past the restart's limit, a checkpoint has
/// copied it and the database file is synced; taken by the writer's restart, which then has
/// only the frames since to copy and sync. Without it the writer waited for the whole file's
/// sync between two groups (up to 190 ms, a fifth of its time under check-ins).
#[derive(Debug, Default)]
pub struct RestartReady(AtomicBool);

impl RestartReady {
    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

/// Starts the checkpoint thread on `conn`; it ends when `alive` can no longer be upgraded.
pub fn start(
    conn: Connection,
    alive: std::sync::Weak<()>,
) -> Result<Arc<RestartReady>, StoreError> {
    let ready = Arc::new(RestartReady::default());
    let signal = Arc::clone(&ready);
    std::thread::Builder::new()
        .name("complyd-checkpoint".into())
        .spawn(move || checkpoint_loop(conn, alive, &signal))
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(ready)
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
///
/// Once the log is past the restart's limit, this thread syncs the database file after its
/// checkpoint and tells the writer (`RestartReady`), so that the restart's own sync is short.
fn checkpoint_loop(conn: Connection, alive: std::sync::Weak<()>, ready: &RestartReady) {
    let database = conn.path().and_then(|path| std::fs::File::open(path).ok());
    let frame_bytes = conn
        .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .unwrap_or(4096)
        + WAL_FRAME_HEADER;
    let writeback_frames = (WAL_LIMIT_BYTES as f64 * WRITEBACK_FROM) as i64 / frame_bytes;
    let restart_frames = WAL_LIMIT_BYTES as i64 / frame_bytes;
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
                if log >= restart_frames && copied > 0 && !ready.is_set() {
                    match database.as_ref().map(std::fs::File::sync_data) {
                        Some(Ok(())) | None => ready.set(),
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "syncing the database file failed")
                        }
                    }
                } else if log >= writeback_frames && copied > 0 && copied != last_copied {
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

/// What the writer restarts the WAL with: the log's path, the readers' sweeper and the checkpoint
/// thread's signal.
pub struct Restart {
    pub wal: std::path::PathBuf,
    pub sweeper: Arc<Sweeper>,
    pub ready: Arc<RestartReady>,
}

impl Restart {
    /// Restarts the WAL when the file is past [`WAL_LIMIT_BYTES`] and the checkpoint thread has
    /// synced the database file for it, or past [`WAL_HARD_LIMIT_BYTES`] (called by the writer
    /// between groups). A restart waits for every reader of the log, so the readers' snapshots
    /// are let go for it (`Sweeper::around_checkpoint`).
    pub fn if_long(&self, conn: &Connection) {
        let length = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        if restart_due(length, &self.ready) {
            let restarted = self.sweeper.around_checkpoint(|| {
                conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
            });
            if let Err(e) = restarted {
                tracing::warn!(error = %e, "WAL restart failed");
            }
        }
    }
}

/// Whether a log of `length` bytes is restarted now: past the limit once the checkpoint thread
/// is ready (taking its signal), past the hard limit in any case. The restart syncs what it
/// copies itself either way; the signal only makes that sync short.
fn restart_due(length: u64, ready: &RestartReady) -> bool {
    if length <= WAL_LIMIT_BYTES {
        return false;
    }
    ready.take() || length > WAL_HARD_LIMIT_BYTES
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_restarts_a_long_log_once_the_checkpoint_thread_has_synced_or_past_the_hard_limit()
    {
        let ready = RestartReady::default();
        let long = WAL_LIMIT_BYTES + 1;
        assert!(!restart_due(WAL_LIMIT_BYTES, &ready), "not past the limit");
        assert!(
            !restart_due(long, &ready),
            "the database file is not synced yet"
        );
        ready.set();
        assert!(
            !restart_due(WAL_LIMIT_BYTES, &ready),
            "a short log keeps the signal"
        );
        assert!(ready.is_set());
        assert!(restart_due(long, &ready));
        assert!(!ready.is_set(), "the restart takes the signal");
        assert!(!restart_due(long, &ready), "one signal, one restart");
        assert!(
            restart_due(WAL_HARD_LIMIT_BYTES + 1, &ready),
            "bounded without the thread"
        );
        ready.set();
        assert!(restart_due(WAL_HARD_LIMIT_BYTES + 1, &ready));
        assert!(
            !ready.is_set(),
            "a restart past the hard limit takes the signal too"
        );
    }
}
