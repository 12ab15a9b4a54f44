//! The timer heap: tasks waiting for a retry backoff or their start time hold no slot;
//! one tokio timer is armed for the earliest.

use std::cmp::Reverse;
use std::future::Future;
use std::task::{Context, Poll};

use tokio::time::Instant;

use crate::error::TaskError;
use crate::orchestra::TaskKey;
use crate::task::timing::try_sleep_until;

use super::{Phase, Scheduler};

impl<T, E, I> Scheduler<T, E, I>
where
    T: Send + 'static,
    E: Send + 'static,
    I: TaskKey,
{
    /// Moves due timers to the ready queues; arms the sleep for the next one.
    pub(super) fn poll_timers(&mut self, cx: &mut Context<'_>) -> bool {
        if self.timers.is_empty() && self.sleep.is_none() {
            return false;
        }
        let mut progressed = false;
        loop {
            let Some(&Reverse((at, _))) = self.timers.peek() else {
                self.sleep = None;
                self.sleep_at = None;
                return progressed;
            };
            let now = Instant::now();
            if at <= now {
                while let Some(&Reverse((at, s))) = self.timers.peek() {
                    if at > now {
                        break;
                    }
                    self.timers.pop();
                    let phase = self.nodes.get(s as usize).map(|n| n.phase);
                    if matches!(phase, Some(Phase::Backoff | Phase::Delayed)) {
                        if let Some(n) = self.node(s) {
                            n.phase = Phase::Idle;
                        }
                        self.make_ready(s);
                    }
                }
                progressed = true;
                continue;
            }
            if self.sleep_at != Some(at) {
                match self.sleep.as_mut() {
                    Some(sleep) => sleep.as_mut().reset(at),
                    None => match try_sleep_until(at) {
                        Some(sleep) => self.sleep = Some(Box::pin(sleep)),
                        None => {
                            // No time driver on this runtime: the waits cannot happen.
                            self.fail_timers();
                            continue;
                        }
                    },
                }
                self.sleep_at = Some(at);
            }
            match self.sleep.as_mut().map(|s| s.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => {
                    self.sleep_at = None;
                    continue;
                }
                _ => return progressed,
            }
        }
    }

    pub(super) fn fail_timers(&mut self) {
        while let Some(Reverse((_, s))) = self.timers.pop() {
            self.end_ran(s, Err(TaskError::NoRuntime), false);
        }
        self.drain_ends();
    }
}
