//! A round's writes: every managed device of a tenant evaluated, in writes of about
//! [`WRITE_FOR`] each. The devices come from `ahead::read_ahead` (bodies parsed, directory
//! devices read, evaluations that change nothing proved) into one queue that each write takes
//! from in order. Two writes are in flight at a time, so the writer starts the next while the
//! last one's commit is being synced, and a write runs on across chunks.

use super::ahead::{read_ahead, Ahead, Chunk, DirectoryAhead, Prover};
use super::queue::generation;
use super::tally::SharedTally;
use super::{DeviceAhead, Engine};
use crate::error::ApiError;
use crate::service::Service;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// How long one write evaluates before it commits (give or take one device): long enough that
/// a commit's sync is a small part of it, short enough that a client's write waits little.
const WRITE_FOR: Duration = Duration::from_millis(40);
/// Before each write the round lets the writes clients wait on go first, for at most this long.
const YIELD_MS: u64 = 1_000;
/// Writes of a round queued or running at once.
const IN_FLIGHT: usize = 2;
/// The queue is fed a chunk whenever it holds fewer devices than this.
const FEED_BELOW: usize = 500;

/// The devices a round has yet to write, each with the directory devices of its chunk.
type Pending = Arc<Mutex<VecDeque<(Ahead, Option<Arc<DirectoryAhead>>)>>>;

/// What a round did: devices evaluated, proved ahead to change nothing, and of those the ones
/// whose proof still held in the write (not evaluated again).
#[derive(Default)]
struct Done {
    evaluated: usize,
    proved: usize,
    held: usize,
}

impl Done {
    fn add(&mut self, other: Done) {
        self.evaluated += other.evaluated;
        self.proved += other.proved;
        self.held += other.held;
    }
}

fn failed(e: tokio::task::JoinError) -> ApiError {
    ApiError::Internal(format!("a round's task failed: {e}"))
}

fn len(pending: &Pending) -> usize {
    pending.lock().unwrap_or_else(PoisonError::into_inner).len()
}

impl Service {
    /// Waits while client writes are queued for the writer (bounded): re-evaluation fills the
    /// writer's idle time instead of holding clients' answers back.
    async fn let_clients_write_first(&self) {
        let started = Instant::now();
        while self.store.queued_writes() > 0 && started.elapsed() < Duration::from_millis(YIELD_MS)
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Every managed device of `tenant`, evaluated: returns how many.
    pub(super) async fn reevaluate_tenant(&self, tenant: &str) -> Result<usize, ApiError> {
        let (sender, mut chunks) = tokio::sync::mpsc::channel(1);
        let prover = self.engine.kept_view(tenant).map(|(generation, view)| {
            Arc::new(Prover {
                engine: Arc::clone(&self.engine),
                generation,
                view,
            })
        });
        let reader = tokio::spawn(read_ahead(
            Arc::clone(&self.store),
            tenant.to_string(),
            prover,
            sender,
        ));
        let pending: Pending = Arc::default();
        let mut writes: VecDeque<JoinHandle<Result<Done, ApiError>>> = VecDeque::new();
        let mut done = Done::default();
        let mut read_all = false;
        loop {
            while !read_all && len(&pending) < FEED_BELOW {
                match chunks.recv().await {
                    Some(chunk) => {
                        let Chunk { devices, directory } = chunk.await.map_err(failed)??;
                        done.proved += devices.iter().filter(|d| d.proof.is_some()).count();
                        let mut queue = pending.lock().unwrap_or_else(PoisonError::into_inner);
                        queue.extend(devices.into_iter().map(|d| (d, directory.clone())));
                    }
                    None => read_all = true,
                }
            }
            if writes.len() >= IN_FLIGHT || (read_all && len(&pending) == 0) {
                match writes.pop_front() {
                    Some(write) => done.add(write.await.map_err(failed)??),
                    None => break,
                }
                continue;
            }
            self.let_clients_write_first().await;
            writes.push_back(self.write_some(tenant, Arc::clone(&pending)));
        }
        reader.await.map_err(failed)??;
        tracing::debug!(
            tenant,
            devices = done.evaluated,
            proved_ahead = done.proved,
            proofs_held = done.held,
            "re-evaluated a tenant"
        );
        Ok(done.evaluated)
    }

    /// One write of a round: evaluates devices from the front of `pending`, in order, until it
    /// has worked for [`WRITE_FOR`] or none are left.
    fn write_some(&self, tenant: &str, pending: Pending) -> JoinHandle<Result<Done, ApiError>> {
        let (store, engine, tenant) = (
            Arc::clone(&self.store),
            Arc::clone(&self.engine),
            tenant.to_string(),
        );
        tokio::spawn(async move {
            store
                .write(move |tx| {
                    Engine::hold_tenant(tx, &tenant)?;
                    let now = crate::service::time::now_ms(tx, &tenant)? / 1000;
                    let generation = generation(tx, &tenant)?;
                    let view = engine.view_at(tx, &tenant, generation.clone())?;
                    let started = Instant::now();
                    let tally = SharedTally::default();
                    let mut done = Done::default();
                    // The directory devices of the chunk last met, if still current.
                    let mut chunk: Option<(Arc<DirectoryAhead>, bool)> = None;
                    loop {
                        let next = pending
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .pop_front();
                        let Some((ahead, directory)) = next else {
                            break;
                        };
                        if let Some(read) = &directory {
                            if !chunk.as_ref().is_some_and(|(c, _)| Arc::ptr_eq(c, read)) {
                                let current = read.if_current(tx, &tenant)?.is_some();
                                chunk = Some((Arc::clone(read), current));
                            }
                        }
                        let directory = match (&directory, &chunk) {
                            (Some(_), Some((read, true))) => Some(read.devices()),
                            _ => None,
                        };
                        let Ahead {
                            id,
                            type_name,
                            row,
                            record,
                            proof,
                            mark,
                        } = ahead;
                        done.evaluated += 1;
                        // Proved ahead to change nothing, and all the proof read holds (its
                        // directory devices too: `directory` is there only while current).
                        let held = match (&proof, directory) {
                            (Some(proof), Some(_)) => {
                                proof.holds(tx, &tenant, &id, now, &generation)?
                            }
                            _ => false,
                        };
                        if held {
                            done.held += 1;
                        } else {
                            let ahead = DeviceAhead {
                                row,
                                record,
                                directory,
                                unread: mark.map(|mark| (type_name, mark)),
                            };
                            match engine.evaluate_in(tx, &view, &tenant, &id, now, &tally, ahead) {
                                // Deleted since the page was read.
                                Ok(_) | Err(ApiError::NotFound(_)) => {}
                                Err(other) => return Err(other),
                            }
                        }
                        if started.elapsed() >= WRITE_FOR {
                            break;
                        }
                    }
                    tally.into_inner().flush(tx, engine.model, &tenant)?;
                    Ok::<_, ApiError>(done)
                })
                .await
        })
    }
}
