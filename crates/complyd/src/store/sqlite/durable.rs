//! Answers a committed group once its WAL frames are on disk, without holding up the writer.
//!
//! The writer commits with the WAL's sync deferred (`wal_buffer::deferring_wal_sync`): the
//! frames are written and the commit is published, and the writer goes on to the next group. It
//! hands the group's answers here; this thread syncs the log once for every group that arrived
//! meanwhile, then answers them. So no request hears of its write before the write is on disk,
//! as with a sync inside each commit, and the disk's wait overlaps the next group's work.
//!
//! Until that sync, other requests may already read what the group wrote: a crash of the
//! machine (not of the process, whose writes the kernel keeps) in that millisecond can take back
//! a write that was read but never answered. A sync that fails stops every later write: after a
//! failed `fsync` the kernel may have dropped pages it reported written.

use super::{id_of, FileId};
use crate::store::writer::{answer_now, Answer};
use crate::store::StoreError;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

pub struct Syncer {
    groups: mpsc::Sender<Vec<Answer>>,
    failed: Arc<AtomicBool>,
}

impl Syncer {
    /// Starts the thread that syncs the WAL at `wal`.
    pub fn start(wal: PathBuf) -> Result<Self, StoreError> {
        let (groups, arrived) = mpsc::channel();
        let failed = Arc::new(AtomicBool::new(false));
        let flag = failed.clone();
        std::thread::Builder::new()
            .name("complyd-wal-sync".into())
            .spawn(move || sync_loop(&wal, &arrived, &flag))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Self { groups, failed })
    }

    /// Answers a committed group's requests once the WAL is on disk.
    pub fn answer_when_durable(&self, answers: Vec<Answer>) {
        if let Err(mpsc::SendError(answers)) = self.groups.send(answers) {
            answer_now(answers, Err(failure()));
        }
    }

    /// Set once a sync failed: the writer refuses every later group.
    pub fn failure(&self) -> Option<StoreError> {
        self.failed.load(Ordering::Acquire).then(failure)
    }
}

fn failure() -> StoreError {
    StoreError::Backend(
        "the write-ahead log could not be synced to disk; complyd takes no more writes until it \
         restarts"
            .into(),
    )
}

fn sync_loop(wal: &Path, arrived: &mpsc::Receiver<Vec<Answer>>, failed: &AtomicBool) {
    let mut log = LogFile::default();
    while let Ok(first) = arrived.recv() {
        let mut answers = first;
        while let Ok(more) = arrived.try_recv() {
            answers.extend(more);
        }
        let outcome = if failed.load(Ordering::Acquire) {
            Err(failure())
        } else {
            log.sync(wal).map_err(|e| {
                tracing::error!(error = %e, wal = %wal.display(), "syncing the WAL failed");
                failed.store(true, Ordering::Release);
                failure()
            })
        };
        answer_now(answers, outcome);
    }
}

/// The WAL, opened on first use and again whenever the path names another file.
#[derive(Default)]
struct LogFile {
    open: Option<(std::fs::File, FileId)>,
}

impl LogFile {
    fn sync(&mut self, wal: &Path) -> std::io::Result<()> {
        let named = id_of(&std::fs::metadata(wal)?);
        let file = match &mut self.open {
            Some((file, id)) if *id == named => file,
            open => {
                let file = std::fs::File::open(wal)?;
                let id = id_of(&file.metadata()?);
                &open.insert((file, id)).0
            }
        };
        // fdatasync also writes the size the WAL grew to.
        file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::sync::oneshot;

    fn group(n: usize) -> (Vec<Answer>, Vec<oneshot::Receiver<Result<(), StoreError>>>) {
        (0..n).map(|_| oneshot::channel()).unzip()
    }

    #[test]
    fn groups_are_answered_after_a_sync_and_a_failed_sync_refuses_every_later_write() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("complyd.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let syncer = Syncer::start(wal.clone()).unwrap();
        let (answers, told) = group(3);
        syncer.answer_when_durable(answers);
        for answer in told {
            assert!(matches!(answer.blocking_recv(), Ok(Ok(()))));
        }
        assert!(syncer.failure().is_none());

        // The log is replaced: the next sync opens the new file.
        std::fs::remove_file(&wal).unwrap();
        std::fs::write(&wal, b"new").unwrap();
        let (answers, told) = group(1);
        syncer.answer_when_durable(answers);
        assert!(matches!(
            told.into_iter().next().map(|t| t.blocking_recv()),
            Some(Ok(Ok(())))
        ));

        // No log to sync: the group hears of the failure, and so does every later one.
        std::fs::remove_file(&wal).unwrap();
        let (answers, told) = group(2);
        syncer.answer_when_durable(answers);
        for answer in told {
            assert!(matches!(answer.blocking_recv(), Ok(Err(_))));
        }
        assert!(syncer.failure().is_some());
        std::fs::write(&wal, b"back").unwrap();
        let (answers, told) = group(1);
        syncer.answer_when_durable(answers);
        assert!(matches!(
            told.into_iter().next().map(|t| t.blocking_recv()),
            Some(Ok(Err(_)))
        ));
    }
}
