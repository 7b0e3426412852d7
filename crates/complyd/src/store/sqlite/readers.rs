//! The reader connections: a small pool, tried on the calling thread first, whose connections
//! keep their read snapshot open from one read to the next while nothing has been committed.
//!
//! Beginning a read transaction costs system calls (a lock on the WAL index, the file's size); a
//! lookup by key costs little more. So a reader ends its snapshot only when it could be out of
//! date: when the WAL index header has changed since the snapshot began, which every commit to
//! the file does, by this process or another on the same folder (`wal_buffer::wal_index_header`);
//! or when it is older than [`SNAPSHOT_REUSE`], so that no snapshot holds the log's restart back
//! for long. A reused snapshot is therefore as new as a fresh one would be. A sweeper thread ends
//! snapshots that went idle, so that none holds back the checkpoints.

use crate::store::{StoreError, StoreFuture};
use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};
use wal_buffer::{wal_index_header, WalIndexHeader};

/// SQLite VM steps a read may run on an async worker before it moves to a blocking thread
/// (about a millisecond); the budget is checked every [`STEPS_PER_CHECK`] steps.
const INLINE_BUDGET_STEPS: u64 = 200_000;
const STEPS_PER_CHECK: i32 = 1_000;

/// The longest a reader reads from one snapshot (how long it may keep the log from restarting).
const SNAPSHOT_REUSE: Duration = Duration::from_millis(1);
/// How often the sweeper looks for snapshots to end while any is open.
const SWEEP_INTERVAL: Duration = Duration::from_millis(2);
/// How long it parks when none is open (it looks then whether the pool still exists).
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// The sweeper thread, which the writer wakes before a checkpoint that waits for every reader.
#[derive(Debug, Default)]
pub struct Sweeper(OnceLock<std::thread::Thread>);

impl Sweeper {
    /// Runs `checkpoint`, which waits for every reader of the log, with the sweeper ending the
    /// idle readers' snapshots meanwhile.
    pub fn around_checkpoint<T>(&self, checkpoint: impl FnOnce() -> T) -> T {
        self.wake();
        checkpoint()
    }

    fn wake(&self) {
        if let Some(sweeper) = self.0.get() {
            sweeper.unpark();
        }
    }
}

/// A reader connection and the snapshot it has open, if any.
pub struct Reader {
    conn: Connection,
    snapshot: Option<Snapshot>,
}

struct Snapshot {
    /// The WAL index header read just before it began: the snapshot holds every commit up to it.
    header: WalIndexHeader,
    began: Instant,
}

impl std::ops::Deref for Reader {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Reader {
    /// Ends the open snapshot, if any. A read that failed may have ended it already.
    pub fn end_snapshot(&mut self) -> Result<(), StoreError> {
        self.snapshot = None;
        if !self.conn.is_autocommit() {
            self.conn.prepare_cached("COMMIT")?.execute([])?;
        }
        Ok(())
    }

    /// The WAL index header now (`None` before this connection's first read).
    pub fn header(&self) -> Option<WalIndexHeader> {
        wal_index_header(&self.conn)
    }

    /// The header read just before the open snapshot began: it holds every commit up to it.
    pub fn snapshot_header(&self) -> Option<WalIndexHeader> {
        let open = !self.conn.is_autocommit();
        self.snapshot.as_ref().filter(|_| open).map(|s| s.header)
    }

    /// Whether the open snapshot holds every commit so far and is younger than `reuse`.
    fn current(&self, reuse: Duration) -> bool {
        self.snapshot.as_ref().is_some_and(|s| {
            s.began.elapsed() < reuse
                && wal_index_header(&self.conn).is_some_and(|now| now == s.header)
        }) && !self.conn.is_autocommit()
    }
}

pub struct Readers {
    conns: Vec<Mutex<Reader>>,
    next: AtomicUsize,
    sweeper: Arc<Sweeper>,
    /// Whether the sweeper is parked for long (no snapshot was open at its last look).
    sweeper_parked: AtomicBool,
    /// See [`INLINE_BUDGET_STEPS`].
    inline_budget_steps: AtomicU64,
    /// See [`SNAPSHOT_REUSE`], in microseconds.
    snapshot_reuse_us: AtomicU64,
}

/// The reader an async worker thread tries first, so that each worker tends to keep its own
/// connection (and that connection's page cache). Computed once per thread.
fn thread_slot() -> usize {
    thread_local! {
        static SLOT: usize = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            std::thread::current().id().hash(&mut hasher);
            hasher.finish() as usize
        };
    }
    SLOT.with(|slot| *slot)
}

impl Readers {
    /// The pool over `conns`, with its sweeper thread (which ends with the pool).
    pub fn start(conns: Vec<Connection>, sweeper: Arc<Sweeper>) -> Result<Arc<Self>, StoreError> {
        let readers = Arc::new(Self {
            conns: conns
                .into_iter()
                .map(|conn| {
                    Mutex::new(Reader {
                        conn,
                        snapshot: None,
                    })
                })
                .collect(),
            next: AtomicUsize::new(0),
            sweeper,
            sweeper_parked: AtomicBool::new(false),
            inline_budget_steps: AtomicU64::new(INLINE_BUDGET_STEPS),
            snapshot_reuse_us: AtomicU64::new(SNAPSHOT_REUSE.as_micros() as u64),
        });
        let pool = Arc::downgrade(&readers);
        let sweeper = std::thread::Builder::new()
            .name("complyd-snapshots".into())
            .spawn(move || sweep_loop(pool))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let _ = readers.sweeper.0.set(sweeper.thread().clone());
        Ok(readers)
    }

    /// Sets the inline budget (tests make it tiny to send reads to blocking threads).
    #[cfg(test)]
    pub fn set_inline_budget(&self, steps: u64) {
        self.inline_budget_steps.store(steps, Ordering::Relaxed);
    }

    /// Sets the snapshot reuse bound (tests make it long, so that only the WAL index header
    /// can end a snapshot).
    #[cfg(test)]
    pub fn set_snapshot_reuse(&self, reuse: Duration) {
        self.snapshot_reuse_us
            .store(reuse.as_micros() as u64, Ordering::Relaxed);
    }

    fn snapshot_reuse(&self) -> Duration {
        Duration::from_micros(self.snapshot_reuse_us.load(Ordering::Relaxed))
    }

    /// A free reader connection, trying from `first` on; when all are busy, waits for `first`.
    /// Its snapshot is as the last read left it (see [`Readers::reading`]).
    pub fn any(&self, first: usize) -> Result<MutexGuard<'_, Reader>, StoreError> {
        self.free(first).map(Ok).unwrap_or_else(|| {
            self.conns[first % self.conns.len()]
                .lock()
                .map_err(|_| StoreError::Backend("reader poisoned".into()))
        })
    }

    fn free(&self, first: usize) -> Option<MutexGuard<'_, Reader>> {
        (0..self.conns.len())
            .map(|i| (first + i) % self.conns.len())
            .find_map(|i| self.conns[i].try_lock().ok())
    }

    /// Makes `reader` read from a snapshot that holds every commit so far: the open one when it
    /// still does, a new one otherwise. When a snapshot cannot be begun the reader reads in
    /// autocommit mode, which is as current.
    pub fn reading(&self, reader: &mut Reader) {
        if reader.current(self.snapshot_reuse()) {
            return;
        }
        // Read before the snapshot begins (at the first read after BEGIN), so it holds at least
        // every commit up to this header. None before the reader's first read: no reuse then.
        let header = wal_index_header(&reader.conn);
        let begun = reader.end_snapshot().and_then(|()| {
            reader.conn.prepare_cached("BEGIN")?.execute([])?;
            Ok(())
        });
        if begun.is_ok() {
            reader.snapshot = header.map(|header| Snapshot {
                header,
                began: Instant::now(),
            });
            if self.sweeper_parked.swap(false, Ordering::SeqCst) {
                self.sweeper.wake();
            }
        }
    }

    /// A free reader for a read on the calling thread, which costs less than a hop to a
    /// blocking thread when the read is short.
    pub fn inline(&self) -> Option<MutexGuard<'_, Reader>> {
        let mut reader = self.free(thread_slot())?;
        self.reading(&mut reader);
        Some(reader)
    }

    /// A free reader on the calling thread, its snapshot as the last read left it (see
    /// [`Readers::reading`]).
    pub fn inline_unread(&self) -> Option<MutexGuard<'_, Reader>> {
        self.free(thread_slot())
    }

    /// Runs `f` on a blocking thread (a read that may take long).
    pub fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        self.on_blocking_thread(move |this| {
            let first = this.next.fetch_add(1, Ordering::Relaxed);
            let mut reader = this.any(first)?;
            this.reading(&mut reader);
            f(&reader)
        })
    }

    /// Runs `f` on a blocking thread with no snapshot open on any reader (a checkpoint that
    /// empties the WAL waits for every open snapshot).
    pub fn blocking_without_snapshots<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        self.on_blocking_thread(move |this| {
            for i in 1..this.conns.len() {
                this.any(i)?.end_snapshot()?;
            }
            let mut reader = this.any(0)?;
            reader.end_snapshot()?;
            f(&reader)
        })
    }

    fn on_blocking_thread<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Self) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        let this = self.clone();
        StoreFuture::pending(async move {
            tokio::task::spawn_blocking(move || f(&this))
                .await
                .map_err(|e| StoreError::Backend(e.to_string()))?
        })
    }

    /// Runs a read on the calling thread when a reader is free and the read stays within
    /// [`INLINE_BUDGET_STEPS`]: a hop to a blocking thread costs more than a lookup or a
    /// page read through an index. A read that is over budget is abandoned and runs again on
    /// a blocking thread, so a long scan never holds up the async workers.
    pub fn bounded<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl Fn(&Connection) -> Result<T, StoreError> + Send + Sync + 'static,
    ) -> StoreFuture<'static, T> {
        if let Some(conn) = self.inline() {
            let exceeded = Arc::new(AtomicBool::new(false));
            let flag = exceeded.clone();
            let (mut steps, budget) = (0u64, self.inline_budget_steps.load(Ordering::Relaxed));
            conn.progress_handler(
                STEPS_PER_CHECK,
                Some(move || {
                    steps += STEPS_PER_CHECK as u64;
                    let over = steps > budget;
                    if over {
                        flag.store(true, Ordering::Relaxed);
                    }
                    over
                }),
            );
            let result = f(&conn);
            conn.progress_handler(0, None::<fn() -> bool>);
            if !exceeded.load(Ordering::Relaxed) {
                return StoreFuture::ready(result);
            }
        }
        self.blocking(move |c| f(c))
    }

    /// Ends the snapshots that are out of date or past [`SNAPSHOT_REUSE`] on the readers that are
    /// free. Returns whether any reader still has one open (or is busy).
    pub fn sweep(&self) -> bool {
        let mut open = false;
        for conn in &self.conns {
            let Ok(mut reader) = conn.try_lock() else {
                open = true;
                continue;
            };
            if reader.snapshot.is_none() && reader.conn.is_autocommit() {
                continue;
            }
            if reader.current(self.snapshot_reuse()) {
                open = true;
            } else if reader.end_snapshot().is_err() {
                tracing::warn!("ending a reader's snapshot failed");
            }
        }
        open
    }
}

/// Sweeps every [`SWEEP_INTERVAL`] while snapshots are open (and at once when a checkpoint waits
/// for them); parks while none is (the next snapshot begun wakes it). Ends when the pool is dropped.
fn sweep_loop(pool: Weak<Readers>) {
    let mut wait = SWEEP_INTERVAL;
    loop {
        std::thread::park_timeout(wait);
        let Some(readers) = pool.upgrade() else {
            return;
        };
        // Parked is announced before the look, so that a snapshot begun after the look wakes it.
        readers.sweeper_parked.store(true, Ordering::SeqCst);
        wait = if readers.sweep() {
            readers.sweeper_parked.store(false, Ordering::SeqCst);
            SWEEP_INTERVAL
        } else {
            IDLE_WAIT
        };
    }
}
