//! Group commit, shared by every backend: requests hand their write to one writer thread, which
//! takes whatever is queued, runs each in its own savepoint inside one transaction (a job alone
//! in its group in the transaction itself), commits once, and answers every request once the
//! commit is durable (at once, or when a backend's syncer has the log on disk).

use super::{StoreError, WriteTx};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// The most write jobs one transaction commits together.
pub const GROUP_LIMIT: usize = 256;

/// Runs against the transaction; `true` keeps its changes, `false` rolls back its savepoint.
pub type JobFn = Box<dyn FnOnce(&mut dyn WriteTx) -> bool + Send>;

pub struct Job {
    pub run: JobFn,
    pub committed: Answer,
}

/// Where a job's request learns how its group ended.
pub type Answer = oneshot::Sender<Result<(), StoreError>>;

/// Answers each request with the group's outcome.
pub fn answer_now(answers: Vec<Answer>, outcome: Result<(), StoreError>) {
    for answer in answers {
        let _ = answer.send(outcome.clone());
    }
}

impl Job {
    /// Runs the job, refusing it like a failure if it panics: the writer thread lives on.
    pub fn run_in(&mut self, tx: &mut dyn WriteTx) -> bool {
        let run = std::mem::replace(&mut self.run, Box::new(|_| true));
        run_caught(run, tx)
    }
}

/// Runs `run`, reading a panic as a refusal.
pub fn run_caught(run: JobFn, tx: &mut dyn WriteTx) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(tx))).unwrap_or(false)
}

/// What the jobs of one group have established for the jobs after them in the same transaction
/// (a layer's note that it already wrote something once per transaction, as the engine's
/// re-evaluation mark). A layer adds a job's notes only when the job kept its changes.
#[derive(Debug, Default)]
pub struct GroupNotes(Vec<String>);

impl GroupNotes {
    pub fn has(&self, note: &str) -> bool {
        self.0.iter().any(|n| n == note)
    }

    pub fn add(&mut self, note: String) {
        if !self.has(&note) {
            self.0.push(note);
        }
    }

    pub fn remove(&mut self, note: &str) {
        self.0.retain(|n| n != note);
    }
}

/// Where a typed write leaves its result for the caller, once the job has run.
pub type Slot<T, E> = Arc<Mutex<Option<Result<T, E>>>>;

/// `f` as a job that keeps its changes when it returns `Ok`, and the slot that receives what it
/// returned.
pub fn typed_job<T, E>(
    f: impl FnOnce(&mut dyn WriteTx) -> Result<T, E> + Send + 'static,
) -> (JobFn, Slot<T, E>)
where
    T: Send + 'static,
    E: Send + 'static,
{
    let slot: Slot<T, E> = Arc::new(Mutex::new(None));
    let result_slot = slot.clone();
    let run: JobFn = Box::new(move |tx| {
        let result = f(tx);
        let ok = result.is_ok();
        if let Ok(mut guard) = result_slot.lock() {
            *guard = Some(result);
        }
        ok
    });
    (run, slot)
}

/// What the job left in `slot`; a writer that stopped before running it is an error.
pub fn take<T, E: From<StoreError>>(slot: &Slot<T, E>) -> Result<T, E> {
    let result = slot.lock().ok().and_then(|mut g| g.take());
    result.unwrap_or_else(|| Err(E::from(stopped())))
}

fn stopped() -> StoreError {
    StoreError::Backend("the writer has stopped".into())
}

/// Jobs handed to the writer and not yet taken into a group.
pub fn queued(writer: &mpsc::Sender<Job>) -> usize {
    writer.max_capacity() - writer.capacity()
}

/// Hands `run` to the writer and waits until its group is committed (or refused).
pub async fn submit(writer: &mpsc::Sender<Job>, run: JobFn) -> Result<(), StoreError> {
    let (committed, done) = oneshot::channel();
    writer
        .send(Job { run, committed })
        .await
        .map_err(|_| stopped())?;
    done.await.map_err(|_| stopped())?
}

/// The writer thread's loop: `commit` runs one group and says how it ended, `answer` tells the
/// group's requests (see [`answer_now`]).
pub fn run_writer(
    mut rx: mpsc::Receiver<Job>,
    mut commit: impl FnMut(&mut [Job]) -> Result<(), StoreError>,
    mut answer: impl FnMut(Vec<Answer>, Result<(), StoreError>),
) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < GROUP_LIMIT {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let outcome = commit(&mut jobs);
        answer(jobs.into_iter().map(|job| job.committed).collect(), outcome);
    }
}
