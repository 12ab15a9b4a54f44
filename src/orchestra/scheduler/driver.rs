//! [`Driver`]: the spawned future that runs a scheduler.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::orchestra::TaskKey;

use super::Scheduler;

impl<T, E, I> Scheduler<T, E, I> {
    /// Runs the scheduler until the orchestra is dropped.
    pub(crate) fn run(self) -> Driver<T, E, I> {
        Driver {
            sched: self,
            deferred: false,
        }
    }
}

/// The spawned future that runs a scheduler.
pub(crate) struct Driver<T, E, I> {
    sched: Scheduler<T, E, I>,
    /// The last poll put off its events (see `poll`).
    deferred: bool,
}

impl<T, E, I> Drop for Driver<T, E, I> {
    fn drop(&mut self) {
        // Shut down, or dropped with its runtime: either way nobody reads commands now,
        // and the counters of its last round must still be published.
        self.sched.inbox.stop();
        if let Some(st) = &mut self.sched.stats {
            st.flush();
        }
    }
}

// Nothing in the driver is pinned in place: the timer is boxed, the rest moves freely.
impl<T, E, I> Unpin for Driver<T, E, I> {}

impl<T, E, I> Future for Driver<T, E, I>
where
    T: Send + 'static,
    E: Send + 'static,
    I: TaskKey,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut first = true;
        loop {
            let mut progressed = false;
            this.sched.now = None;
            this.sched.inbox.register(cx);
            if this.sched.inbox.is_closed() {
                this.sched.shutdown();
                return Poll::Ready(());
            }
            let mut commands = std::mem::take(&mut this.sched.commands);
            this.sched.mailbox.drain(&mut commands);
            let no_commands = commands.is_empty();
            if !commands.is_empty() {
                progressed = true;
                for cmd in commands.drain(..) {
                    this.sched.apply(cmd);
                }
            }
            this.sched.commands = commands;
            let mut events = std::mem::take(&mut this.sched.events);
            this.sched.inbox.drain(&mut events);
            // Woken by the first few of many attempts in flight (a multi-thread runtime
            // runs a freshly woken task next, so each attempt would cost a whole round):
            // put the events off once, behind the tasks already queued, and handle them
            // together. Never twice in a row, so nothing waits on a slow attempt.
            if first
                && no_commands
                && !this.deferred
                && !events.is_empty()
                && events.len().saturating_mul(2) < this.sched.running
            {
                this.sched.events = events;
                this.deferred = true;
                // Waking itself while running reschedules the task behind the queue.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            first = false;
            this.deferred = false;
            if !events.is_empty() {
                progressed = true;
                for ev in events.drain(..) {
                    this.sched.on_event(ev);
                }
            }
            this.sched.events = events;
            if this.sched.poll_timers(cx) {
                progressed = true;
            }
            this.sched.drain_ends();
            this.sched.pump();
            this.sched.check_join_all();
            if !progressed {
                this.sched.flush_stats();
                return Poll::Pending;
            }
        }
    }
}
