//! Starting attempts and hearing back from them: the retry decision (one
//! [`RetryState`](crate::task::retry::RetryState) per task), recovery, the result of a task
//! that ran.

use std::cmp::Reverse;
use std::sync::Arc;

use tokio::time::Instant;

use crate::error::TaskError;
use crate::orchestra::TaskKey;
use crate::orchestra::job::{Attempt, AttemptEnv, Event, spawn_recovery};
use crate::orchestra::report::TaskOutcome;
use crate::task::cancel::CancelNode;
use crate::task::retry::recoverable;
use crate::task::timing::after;
use crate::task::{CancellationLevel, MetricsSnapshot, TaskResult, TaskShared, TaskStatus};

use super::{Node, Phase, Scheduler, run_meta, task_name};

impl<T, E, I> Scheduler<T, E, I>
where
    T: Send + 'static,
    E: Send + 'static,
    I: TaskKey,
{
    pub(super) fn start_attempt(&mut self, s: u32) {
        let now = self.now();
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        if n.prep
            .as_ref()
            .and_then(|p| p.plan.deadline)
            .is_some_and(|d| d <= now)
        {
            let outcome = Err(TaskError::DeadlineExceeded);
            self.end_ran(s, outcome, false);
            return;
        }
        let Some(work) = n.work.take() else {
            self.end_ran(
                s,
                Err(TaskError::Cancelled {
                    level: CancellationLevel::KillHard,
                }),
                false,
            );
            return;
        };
        let scope = if n.prep.as_ref().is_none_or(|p| p.plan.plain) {
            None
        } else {
            let ts = n
                .rare()
                .task_shared
                .get_or_insert_with(|| Arc::new(TaskShared::new(CancelNode::root())))
                .clone();
            Some((Arc::clone(&ts.node), ts))
        };
        n.phase = Phase::Running;
        n.retry.start(now);
        if let Some(sh) = self.shared.get(s) {
            let _ = sh.status.transition(TaskStatus::Running);
        }
        if self.cfg.tracing {
            tracing::debug!(
                target: "sweet_async::orchestra",
                task = task_name(n),
                attempt = n.retry.attempts().saturating_add(1),
                "attempt started"
            );
        }
        let env = AttemptEnv {
            handle: &self.cfg.handle,
            inbox: Arc::clone(&self.inbox),
            slot: s,
            scope,
            // Only a task with settings can be retried.
            keep_work: n.prep.is_some(),
        };
        n.join = Some(work.spawn(n.prep.as_ref().map(|p| &p.plan.attempt), env));
        self.running = self.running.saturating_add(1);
        if let Some(st) = &mut self.stats {
            st.started();
        }
    }

    pub(super) fn slot_freed(&mut self) {
        self.running = self.running.saturating_sub(1);
        if let Some(st) = &mut self.stats {
            st.stopped();
        }
    }

    /// Handles what a spawned attempt or recovery reported.
    pub(crate) fn on_event(&mut self, ev: Event<T, E>) {
        match ev {
            Event::Attempted {
                slot,
                outcome,
                attempts,
                metrics,
                work,
            } => {
                self.slot_freed();
                self.attempted(slot, outcome, attempts, metrics, work);
            }
            Event::Ended { slot, outcome } => {
                self.slot_freed();
                if let Some(n) = self.nodes.get_mut(slot as usize) {
                    n.work = None;
                    n.join = None;
                    n.retry.count(1);
                }
                // No retry, no recovery: the outcome is final. Ended now, not via the list:
                // no cascade is under way.
                if let Some(o) = self.ran_outcome(slot, outcome, false) {
                    self.finish(slot, o);
                }
            }
            Event::Recovered { slot, outcome } => {
                self.slot_freed();
                let ok = outcome.is_ok();
                self.end_ran(slot, outcome, ok);
            }
            Event::Lost { slot } => {
                self.slot_freed();
                let level = self
                    .nodes
                    .get(slot as usize)
                    .and_then(Node::cancel_level)
                    .unwrap_or(CancellationLevel::KillHard);
                self.end_ran(slot, Err(TaskError::Cancelled { level }), false);
            }
        }
        self.drain_ends();
    }

    pub(super) fn attempted(
        &mut self,
        s: u32,
        outcome: Result<T, TaskError<E>>,
        attempts: u32,
        metrics: Option<Box<MetricsSnapshot>>,
        work: Option<Box<dyn Attempt<T, E>>>,
    ) {
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        n.work = work;
        n.join = None;
        n.retry.count(attempts);
        if metrics.is_some() || n.rare.is_some() {
            n.rare().metrics = metrics;
        }
        let err = match outcome {
            Ok(v) => {
                // The hot path: no cascade is under way, so end it now, not via the list.
                if let Some(o) = self.ran_outcome(s, Ok(v), false) {
                    self.finish(s, o);
                }
                return;
            }
            Err(e) => e,
        };
        let Some(prep) = n.prep.as_deref() else {
            // No retry policy, no recovery: the error is final.
            return self.final_error(s, err);
        };
        if n.cancel_level().is_some() || self.halted {
            return self.final_error(s, err);
        }
        let now = Instant::now();
        let delay =
            match n
                .retry
                .after_failure(&prep.plan.retry, prep.plan.retry_if.as_ref(), err, now)
            {
                Ok(delay) => delay,
                Err(err) => return self.final_error(s, err),
            };
        if let Some(st) = &mut self.stats {
            st.retried();
        }
        if self.cfg.tracing {
            tracing::debug!(
                target: "sweet_async::orchestra",
                task = task_name(n),
                attempts = n.retry.attempts(),
                delay = ?delay,
                "attempt failed, retrying after backoff"
            );
        }
        let mut at = after(now, delay);
        if let Some(deadline) = prep.plan.deadline {
            at = at.min(deadline);
        }
        if at <= now {
            n.phase = Phase::Idle;
            self.make_ready(s);
        } else {
            n.phase = Phase::Backoff;
            self.timers.push(Reverse((at, s)));
        }
    }

    /// The task failed for good: run its recovery fallback, or end it.
    pub(super) fn final_error(&mut self, s: u32, err: TaskError<E>) {
        let recoverable = recoverable(&err);
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        let recover = n.prep.as_ref().and_then(|p| p.plan.recover.as_ref());
        match (recover, recoverable && n.cancel_level().is_none()) {
            (Some(recover), true) => {
                n.phase = Phase::Recovering;
                n.join = Some(spawn_recovery(
                    &self.cfg.handle,
                    Arc::clone(&self.inbox),
                    s,
                    recover,
                    err,
                ));
                self.running = self.running.saturating_add(1);
                if let Some(st) = &mut self.stats {
                    st.started();
                }
            }
            _ => self.end_ran(s, Err(err), false),
        }
    }

    /// Ends a task that ran (or tried to), with its full result.
    pub(super) fn end_ran(&mut self, s: u32, outcome: Result<T, TaskError<E>>, recovered: bool) {
        if let Some(o) = self.ran_outcome(s, outcome, recovered) {
            self.end(s, o);
        }
    }

    /// The outcome of a task that ran, with its full result.
    pub(super) fn ran_outcome(
        &mut self,
        s: u32,
        outcome: Result<T, TaskError<E>>,
        recovered: bool,
    ) -> Option<TaskOutcome<T, E, u32>> {
        let now = self.now();
        let n = self.nodes.get_mut(s as usize)?;
        let metrics = n.rare.as_mut().and_then(|r| r.metrics.take());
        let meta = run_meta(n, now, recovered, metrics);
        Some(TaskOutcome::Finished(TaskResult::new(outcome, meta)))
    }
}
