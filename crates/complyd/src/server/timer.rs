//! hyper's head-read timer, taught to tell a kept-alive connection at rest from a head that
//! trickles in. hyper starts it whenever it waits for a request head: the first head of a
//! connection gets the header timeout from the start; a later one may rest for the idle timeout,
//! and has the header timeout from its first byte.
//!
//! hyper drops its timer once a head is read and asks for a new one at the next head. Each
//! connection keeps the dropped tokio timer and moves it forward instead: a later deadline is one
//! atomic step in tokio, where a new timer costs two allocations and a fresh one is cancelled
//! under the timer driver's lock.

use super::watched::Activity;
use hyper::rt::{Sleep, Timer};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub(super) struct HeadTimer {
    activity: Arc<Activity>,
    header: Duration,
    idle: Duration,
    /// Set once the first head has been waited for.
    served_one: AtomicBool,
    /// The tokio timer of the last head's deadline, once hyper has dropped it.
    spare: Arc<Spare>,
}

type Spare = Mutex<Option<Pin<Box<tokio::time::Sleep>>>>;

impl HeadTimer {
    pub(super) fn new(activity: Arc<Activity>, header: Duration, idle: Duration) -> Self {
        Self {
            activity,
            header,
            idle,
            served_one: AtomicBool::new(false),
            spare: Arc::new(Mutex::new(None)),
        }
    }

    /// The deadline for the head hyper now waits for (`deadline` is hyper's: now + header).
    fn window(&self, deadline: Instant) -> (tokio::time::Instant, Option<u64>) {
        let deadline = tokio::time::Instant::from_std(deadline);
        if self.served_one.swap(true, Ordering::Relaxed) {
            let rest_until = deadline - self.header + self.idle;
            (rest_until, Some(self.activity.bytes_read()))
        } else {
            (deadline, None)
        }
    }

    /// A tokio timer for `until`: the spare one moved there, else a new one.
    fn timer_until(&self, until: tokio::time::Instant) -> Pin<Box<tokio::time::Sleep>> {
        let spare = self.spare.lock().ok().and_then(|mut s| s.take());
        match spare {
            Some(mut sleep) => {
                sleep.as_mut().reset(until);
                sleep
            }
            None => Box::pin(tokio::time::sleep_until(until)),
        }
    }
}

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        let (until, resting_since) = self.window(deadline);
        Box::pin(HeadDeadline {
            sleep: Some(self.timer_until(until)),
            activity: self.activity.clone(),
            header: self.header,
            resting_since,
            spare: self.spare.clone(),
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HeadDeadline>() {
            Some(current) => {
                let (until, resting_since) = self.window(deadline);
                let current = current.get_mut();
                match &mut current.sleep {
                    Some(sleep) => sleep.as_mut().reset(until),
                    None => current.sleep = Some(self.timer_until(until)),
                }
                current.resting_since = resting_since;
            }
            None => *sleep = self.sleep_until(deadline),
        }
    }
}

struct HeadDeadline {
    /// Always present but while being dropped, when it goes back to the connection's spare.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    activity: Arc<Activity>,
    header: Duration,
    /// While the connection rests: the bytes read when it began to.
    resting_since: Option<u64>,
    spare: Arc<Spare>,
}

impl Drop for HeadDeadline {
    fn drop(&mut self) {
        if let (Some(sleep), Ok(mut spare)) = (self.sleep.take(), self.spare.lock()) {
            *spare = Some(sleep);
        }
    }
}

impl Future for HeadDeadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(sleep) = this.sleep.as_mut() else {
            return Poll::Pending;
        };
        if let Some(at_rest) = this.resting_since {
            if this.activity.bytes_read() > at_rest {
                // A head has begun: it gets the header timeout from now, rest or not.
                this.resting_since = None;
                let head_deadline = tokio::time::Instant::now() + this.header;
                if head_deadline < sleep.deadline() {
                    sleep.as_mut().reset(head_deadline);
                }
            }
        }
        sleep.as_mut().poll(cx)
    }
}

impl Sleep for HeadDeadline {}
