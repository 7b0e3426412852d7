//! hyper's head-read timer, taught to tell a kept-alive connection at rest from a head that
//! trickles in. hyper starts it whenever it waits for a request head: the first head of a
//! connection gets the header timeout from the start; a later one may rest for the idle timeout,
//! and has the header timeout from its first byte.

use super::watched::Activity;
use hyper::rt::{Sleep, Timer};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub(super) struct HeadTimer {
    activity: Arc<Activity>,
    header: Duration,
    idle: Duration,
    /// Set once the first head has been waited for.
    served_one: AtomicBool,
}

impl HeadTimer {
    pub(super) fn new(activity: Arc<Activity>, header: Duration, idle: Duration) -> Self {
        Self {
            activity,
            header,
            idle,
            served_one: AtomicBool::new(false),
        }
    }

    /// The deadline for the head hyper now waits for (`deadline` is hyper's: now + header).
    fn window(&self, deadline: Instant) -> (tokio::time::Instant, Option<u64>) {
        if self.served_one.swap(true, Ordering::Relaxed) {
            let rest_until = tokio::time::Instant::now() + self.idle;
            (rest_until, Some(self.activity.bytes_read()))
        } else {
            (tokio::time::Instant::from_std(deadline), None)
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
            sleep: Box::pin(tokio::time::sleep_until(until)),
            activity: self.activity.clone(),
            header: self.header,
            resting_since,
        })
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HeadDeadline>() {
            Some(current) => {
                let (until, resting_since) = self.window(deadline);
                let current = current.get_mut();
                current.sleep.as_mut().reset(until);
                current.resting_since = resting_since;
            }
            None => *sleep = self.sleep_until(deadline),
        }
    }
}

struct HeadDeadline {
    sleep: Pin<Box<tokio::time::Sleep>>,
    activity: Arc<Activity>,
    header: Duration,
    /// While the connection rests: the bytes read when it began to.
    resting_since: Option<u64>,
}

impl Future for HeadDeadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Some(at_rest) = this.resting_since {
            if this.activity.bytes_read() > at_rest {
                // A head has begun: it gets the header timeout from now, rest or not.
                this.resting_since = None;
                let head_deadline = tokio::time::Instant::now() + this.header;
                if head_deadline < this.sleep.deadline() {
                    this.sleep.as_mut().reset(head_deadline);
                }
            }
        }
        this.sleep.as_mut().poll(cx)
    }
}

impl Sleep for HeadDeadline {}
