//! The fast path of [`TaskFuture`](super::TaskFuture): a task that can only end by its
//! own attempts (work, timeout, retries, descriptive settings) runs the shared pieces
//! with no check for the features it cannot have.

use std::task::{Context, Poll};

use super::general::Extras;
use super::parts::{
    Parts, Phase, begin_attempt, poll_attempt, schedule_retry, task_result, waiting,
};
use crate::error::TaskError;
use crate::task::cancel::CancelNode;
use crate::task::result::TaskResult;
use crate::task::work::AsyncWork;

/// Whether the task can take the fast path: the work, a timeout, retries (with a retry
/// predicate) and descriptive settings (label, span fields, context), but no breaker,
/// scope, recovery, tracing, metrics, delayed start, deadline or cancellation token;
/// not spawned; not blocking work; valid settings.
///
/// A task polled inside another task's work joins that task's cancellation scope and
/// takes the general path (the scope found here is kept for it).
#[inline]
pub(super) fn eligible<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    ext: &mut Option<Extras<T, E>>,
) -> bool {
    let cfg = &*this.cfg;
    if cfg.cold().is_some_and(|c| !c.descriptive_only())
        || cfg.record_error.is_some()
        || cfg.metrics
        || cfg.invalid.is_some()
        || ext.is_some()
        || this.work.requires_runtime()
    {
        return false;
    }
    match CancelNode::child_of_current() {
        None => true,
        Some(node) => {
            // Inside another task's work: join its scope on the general path.
            let mut x = Extras::default();
            x.node = Some(node);
            *ext = Some(x);
            false
        }
    }
}

/// Attempts under the timeout, backoff sleeps between them.
#[inline(always)]
pub(super) fn poll<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    cx: &mut Context<'_>,
) -> Poll<TaskResult<T, E>> {
    loop {
        let err = match this.st.phase {
            Phase::Attempt => match poll_attempt(this, None, None, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(value)) => return Poll::Ready(finish(this, Ok(value))),
                Poll::Ready(Err(err)) => err,
            },
            Phase::Backoff => {
                if waiting(this.timer.as_mut(), cx) {
                    return Poll::Pending;
                }
                this.st.phase = Phase::Start;
                continue;
            }
            _ => match begin_attempt(this, None, false) {
                Ok(()) => continue,
                Err(err) => err,
            },
        };
        if let Err(err) = schedule_retry(this, err) {
            return Poll::Ready(finish(this, Err(err)));
        }
    }
}

/// The result (no status, span or metrics to record).
#[inline(never)]
fn finish<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    outcome: Result<T, TaskError<E>>,
) -> TaskResult<T, E> {
    task_result(this, outcome, false, None)
}
