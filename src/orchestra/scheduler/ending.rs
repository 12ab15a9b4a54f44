//! How tasks end: the cascade to their dependents (by the failure strategy, with a work
//! list, never recursion), the report, fail-fast, cancellation, and the waiters on groups
//! and on `join_all`.

use std::sync::atomic::Ordering;

use tokio::sync::oneshot;

use crate::error::TaskError;
use crate::orchestra::TaskKey;
use crate::orchestra::builder::FailureStrategy;
use crate::orchestra::report::{OutcomeKind, TaskOutcome};
use crate::orchestra::stats::Ended;
use crate::task::{CancellationLevel, TaskResult, TaskStatus};

use super::{Phase, Scheduler, Waiter, cancelled_outcome, task_name};

impl<T, E, I> Scheduler<T, E, I>
where
    T: Send + 'static,
    E: Send + 'static,
    I: TaskKey,
{
    /// Queues the end of a task; `drain_ends` processes the cascade.
    pub(super) fn end(&mut self, s: u32, outcome: TaskOutcome<T, E, u32>) {
        self.to_end.push((s, outcome));
    }

    pub(super) fn drain_ends(&mut self) {
        while let Some((s, outcome)) = self.to_end.pop() {
            self.finish(s, outcome);
        }
    }

    pub(super) fn finish(&mut self, s: u32, outcome: TaskOutcome<T, E, u32>) {
        let failure = self.cfg.failure;
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        if n.phase == Phase::Done {
            return;
        }
        let kind = outcome.kind();
        n.phase = Phase::Done;
        n.work = None;
        n.join = None;
        let status = match kind {
            OutcomeKind::Succeeded => TaskStatus::Completed,
            OutcomeKind::Failed => TaskStatus::Failed,
            OutcomeKind::Cancelled | OutcomeKind::Skipped => TaskStatus::Cancelled,
        };
        if let TaskOutcome::Skipped { because } = &outcome {
            if let Some(sh) = self.shared.get(s) {
                sh.skipped.store(true, Ordering::Release);
            }
            n.rare().skipped_because = Some(*because);
        }
        if let Some(sh) = self.shared.get(s) {
            let _ = sh.status.transition(status);
        }
        let cause = match &outcome {
            TaskOutcome::Skipped { because } => *because,
            _ => s,
        };
        let took = outcome.result().map(TaskResult::execution_time);
        if self.cfg.tracing {
            tracing::debug!(
                target: "sweet_async::orchestra",
                task = task_name(n),
                outcome = ?kind,
                "task ended"
            );
        }
        if n.activated {
            self.unfinished = self.unfinished.saturating_sub(1);
        }
        let waiters = n
            .rare
            .as_mut()
            .map(|r| std::mem::take(&mut r.waiters))
            .unwrap_or_default();
        let dependents = std::mem::take(&mut n.dependents);
        if let Some(st) = &mut self.stats {
            let how = match kind {
                OutcomeKind::Succeeded => Ended::Completed,
                OutcomeKind::Failed => Ended::Failed,
                OutcomeKind::Cancelled => Ended::Cancelled,
                OutcomeKind::Skipped => Ended::Skipped,
            };
            st.ended(how, took);
        }
        self.record(s, kind, outcome);
        for w in waiters {
            self.waiter_done(w);
        }
        if kind == OutcomeKind::Failed && failure == FailureStrategy::FailFast && !self.halted {
            self.halt();
        }
        let success = kind == OutcomeKind::Succeeded;
        let halted = self.halted;
        for &d in dependents.iter() {
            let Some(dn) = self.nodes.get_mut(d as usize) else {
                continue;
            };
            if dn.phase == Phase::Done {
                continue;
            }
            dn.pending = dn.pending.saturating_sub(1);
            if !success {
                dn.failed_dep.get_or_insert(cause);
            }
            if dn.phase != Phase::Waiting {
                continue;
            }
            match (dn.failed_dep, failure) {
                (Some(_), FailureStrategy::ContinueAll) | (None, _) => {
                    if dn.pending == 0 {
                        self.make_ready(d);
                    }
                }
                (Some(_), _) if halted => {
                    let o = cancelled_outcome(dn, CancellationLevel::Graceful);
                    self.end(d, o);
                }
                (Some(because), _) => self.end(d, TaskOutcome::Skipped { because }),
            }
        }
    }

    /// Adds the outcome of slot `s` to the report, by id.
    pub(super) fn record(&mut self, s: u32, kind: OutcomeKind, outcome: TaskOutcome<T, E, u32>) {
        let id = if kind == OutcomeKind::Succeeded {
            self.ids.get_mut(s as usize).and_then(Option::take)
        } else {
            self.ids.get(s as usize).and_then(Clone::clone)
        };
        // Every registered slot has its id: a missing one would be a bug, not an input.
        let Some(id) = id else { return };
        let ids = &self.ids;
        let outcome = outcome.map_id(|because| {
            ids.get(because as usize)
                .and_then(Clone::clone)
                .unwrap_or_else(|| id.clone())
        });
        self.ended.push((id, outcome));
    }

    /// Fail-fast: cancel every started task that has not ended.
    pub(super) fn halt(&mut self) {
        self.halted = true;
        for s in 0..self.nodes.len() {
            let Ok(s) = u32::try_from(s) else { break };
            let active = self
                .nodes
                .get(s as usize)
                .is_some_and(|n| n.activated && n.phase != Phase::Done);
            if active {
                self.cancel(s, CancellationLevel::Graceful);
            }
        }
    }

    pub(super) fn cancel(&mut self, s: u32, level: CancellationLevel) {
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        match n.phase {
            Phase::Done => {}
            Phase::Running | Phase::Recovering => {
                n.rare().cancel.get_or_insert(level);
                let scoped = match (n.task_shared(), n.phase) {
                    (Some(ts), Phase::Running) => {
                        ts.node.cancel(level);
                        true
                    }
                    _ => false,
                };
                // A plain attempt has no scope of its own (and no cleanup): stopping it
                // at its next `.await` is an abort.
                if level == CancellationLevel::KillHard || !scoped {
                    if let Some(j) = &n.join {
                        j.abort();
                    }
                }
            }
            Phase::Backoff => {
                n.rare().cancel = Some(level);
                self.end_ran(s, Err(TaskError::Cancelled { level }), false);
            }
            Phase::Idle | Phase::Waiting | Phase::Delayed | Phase::Ready => {
                n.rare().cancel = Some(level);
                let o = cancelled_outcome(n, level);
                self.end(s, o);
            }
        }
    }

    pub(super) fn add_waiter(
        &mut self,
        slots: Vec<u32>,
        reply: oneshot::Sender<Result<(), u32>>,
        must_be_started: bool,
    ) {
        // It may answer at once: the counters it answers after must be out.
        self.flush_stats();
        let mut remaining: usize = 0;
        for &s in &slots {
            match self.nodes.get(s as usize) {
                Some(n) if n.phase == Phase::Done => {}
                Some(n) if must_be_started && !n.activated => {
                    let _ = reply.send(Err(s));
                    return;
                }
                Some(_) => remaining = remaining.saturating_add(1),
                None => {}
            }
        }
        if remaining == 0 {
            let _ = reply.send(Ok(()));
            return;
        }
        let w = Waiter {
            remaining,
            reply: Some(reply),
        };
        let id = match self.free_waiters.pop() {
            Some(id) => {
                if let Some(slot) = self.waiters.get_mut(id as usize) {
                    *slot = w;
                }
                id
            }
            None => {
                self.waiters.push(w);
                u32::try_from(self.waiters.len().saturating_sub(1)).unwrap_or(u32::MAX)
            }
        };
        for s in slots {
            if let Some(n) = self.node(s) {
                if n.phase != Phase::Done {
                    n.rare().waiters.push(id);
                }
            }
        }
    }

    pub(super) fn waiter_done(&mut self, id: u32) {
        let Some(w) = self.waiters.get_mut(id as usize) else {
            return;
        };
        w.remaining = w.remaining.saturating_sub(1);
        if w.remaining == 0 {
            if let Some(st) = &mut self.stats {
                st.flush();
            }
            if let Some(reply) = w.reply.take() {
                let _ = reply.send(Ok(()));
            }
            self.free_waiters.push(id);
        }
    }

    pub(super) fn check_join_all(&mut self) {
        if self.unfinished > 0 || !self.to_end.is_empty() {
            return;
        }
        if let Some(reply) = self.join_all.take() {
            self.flush_stats();
            let _ = reply.send(std::mem::take(&mut self.ended));
        }
    }
}
