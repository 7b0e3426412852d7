//! Live pages across instances: each instance's changes (a tenant, or every tenant) are sent with
//! `NOTIFY complyd_changes` and heard by the others, which move their change numbers
//! (`common::Changes`) as if the write had been theirs. Two threads with a connection each: one
//! sends what this instance changed (each tenant once per pass), one listens and skips what its own
//! sender sent. Lost news (a dropped connection, a full queue) only delays a page until its next
//! load; both threads reconnect.

use super::connection::connect;
use crate::common::{Changes, EVERY_TENANT};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{mpsc, Arc, Weak};
use std::time::Duration;

const CHANNEL: &str = "complyd_changes";
/// News waiting to be sent at most (past it, news is dropped).
const QUEUED: usize = 10_000;
/// A tenant id longer than this is sent as "every tenant" (NOTIFY payloads are bounded).
const LONGEST: usize = 200;
const RETRY: Duration = Duration::from_secs(2);
/// How long the listener waits for news before it looks whether the server is still there.
const LOOK: Duration = Duration::from_secs(1);

/// Starts relaying `changes` through the database at `config`.
pub fn start(config: postgres::Config, changes: Arc<Changes>) -> std::io::Result<()> {
    let (tx, rx) = mpsc::sync_channel(QUEUED);
    changes.relay_to(tx);
    let sender_pid = Arc::new(AtomicI32::new(0));
    let (config_send, pid) = (config.clone(), sender_pid.clone());
    std::thread::Builder::new()
        .name("changes-send".into())
        .spawn(move || send_loop(&config_send, &rx, &pid))?;
    // The listener holds the numbers weakly: when the server's state goes, both threads end
    // (the sender when its queue's last sender, in `changes`, is dropped).
    let changes = Arc::downgrade(&changes);
    std::thread::Builder::new()
        .name("changes-hear".into())
        .spawn(move || hear_loop(&config, &changes, &sender_pid))?;
    Ok(())
}

fn send_loop(config: &postgres::Config, news: &mpsc::Receiver<String>, own_pid: &AtomicI32) {
    loop {
        let mut conn = match connect(config) {
            Ok(conn) => conn,
            Err(e) => {
                tracing::debug!(error = %e, "the change relay cannot connect; retrying");
                std::thread::sleep(RETRY);
                // The server is gone when its side of the queue is.
                if let Err(mpsc::TryRecvError::Disconnected) = news.try_recv() {
                    return;
                }
                continue;
            }
        };
        if let Ok(row) = conn.client.query_one("SELECT pg_backend_pid()", &[]) {
            own_pid.store(row.get(0), Ordering::Relaxed);
        }
        loop {
            let Ok(first) = news.recv() else {
                return;
            };
            let mut pass = BTreeSet::from([first]);
            while let Ok(more) = news.try_recv() {
                pass.insert(more);
            }
            let every = pass.iter().any(|t| t == EVERY_TENANT || t.len() > LONGEST);
            if every {
                pass = BTreeSet::from([EVERY_TENANT.to_string()]);
            }
            let sent = pass.iter().try_for_each(|what| {
                conn.client
                    .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, what])
                    .map(|_| ())
            });
            if let Err(e) = sent {
                tracing::debug!(error = %e, "the change relay lost its connection");
                break;
            }
        }
    }
}

fn hear_loop(config: &postgres::Config, changes: &Weak<Changes>, sender_pid: &AtomicI32) {
    while changes.strong_count() > 0 {
        let mut conn = match connect(config) {
            Ok(conn) => conn,
            Err(_) => {
                std::thread::sleep(RETRY);
                continue;
            }
        };
        if conn
            .client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .is_err()
        {
            std::thread::sleep(RETRY);
            continue;
        }
        // Whatever happened while not listening: every page looks again.
        let Some(alive) = changes.upgrade() else {
            return;
        };
        alive.heard(EVERY_TENANT);
        drop(alive);
        loop {
            let next = {
                let mut notifications = conn.client.notifications();
                let mut heard = notifications.timeout_iter(LOOK);
                postgres::fallible_iterator::FallibleIterator::next(&mut heard)
            };
            let Some(alive) = changes.upgrade() else {
                return;
            };
            match next {
                Ok(Some(n)) => {
                    if n.process_id() != sender_pid.load(Ordering::Relaxed) {
                        alive.heard(n.payload());
                    }
                }
                // Quiet: make sure the connection is still there.
                Ok(None) if conn.client.batch_execute("").is_ok() => {}
                _ => break,
            }
        }
        std::thread::sleep(RETRY);
    }
}
