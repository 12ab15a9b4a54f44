//! The state every path of a task's future uses ([`Phase`], [`RunState`], [`Parts`]) and
//! the pieces that act on it: starting an attempt (counted, its timeout armed, the work
//! called with panics caught), polling it, the retry decision after a failure, the timers,
//! and the result.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};
use tracing::Span;

use crate::error::TaskError;
use crate::task::attempt::{caught, poll_caught};
use crate::task::cancel::CancelNode;
use crate::task::config::TaskConfig;
use crate::task::id::LazyTaskId;
use crate::task::result::{RunMeta, TaskResult};
use crate::task::retry::RetryState;
use crate::task::timing::{after, arm_in};
use crate::task::work::AsyncWork;
use crate::task::{MetricsSnapshot, TaskLabel};

/// Where the state machine stands. The fast path uses `Start`, `Attempt` and `Backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Not polled yet.
    Init,
    /// Sleeping until the delayed start.
    Waiting,
    /// The next attempt starts.
    Start,
    /// An attempt is running (`attempt` holds it, `timer` its timeout).
    Attempt,
    /// Sleeping before a retry (`timer`).
    Backoff,
    /// The recovery fallback is running.
    Recovering,
    /// The `on_cancel` cleanup is running, bounded by the grace period (`timer`).
    Cleanup,
    /// The result was handed out.
    Done,
}

/// Bookkeeping that is not pinned: what every task needs.
pub(super) struct RunState {
    pub(super) phase: Phase,
    pub(super) id: LazyTaskId,
    pub(super) retry: RetryState,
}

/// The projection without the general path's state, so both can be borrowed at once.
pub(super) struct Parts<'a, T, E, W: AsyncWork<T, E>> {
    pub(super) cfg: &'a mut TaskConfig<T, E>,
    pub(super) work: &'a mut W,
    pub(super) attempt: Pin<&'a mut Option<W::Future>>,
    pub(super) timer: Pin<&'a mut Option<Sleep>>,
    pub(super) st: &'a mut RunState,
}

/// Arms `timer` for `at` ([`arm_in`]); [`TaskError::NoRuntime`] when no runtime with a
/// time driver is running.
#[inline]
pub(super) fn arm<E>(timer: Pin<&mut Option<Sleep>>, at: Instant) -> Result<(), TaskError<E>> {
    if arm_in(timer, at) {
        Ok(())
    } else {
        Err(TaskError::NoRuntime)
    }
}

/// Polls `timer`: `None` when none is armed.
#[inline]
pub(super) fn poll_timer(timer: Pin<&mut Option<Sleep>>, cx: &mut Context<'_>) -> Option<Poll<()>> {
    timer.as_pin_mut().map(|sleep| sleep.poll(cx))
}

/// Whether the armed `timer` has fired (`false` when none is armed).
#[inline]
pub(super) fn fired(timer: Pin<&mut Option<Sleep>>, cx: &mut Context<'_>) -> bool {
    matches!(poll_timer(timer, cx), Some(Poll::Ready(())))
}

/// Whether a sleep (a delayed start, a backoff) is still under way: its timer is armed
/// and has not fired.
#[inline]
pub(super) fn waiting(timer: Pin<&mut Option<Sleep>>, cx: &mut Context<'_>) -> bool {
    matches!(poll_timer(timer, cx), Some(Poll::Pending))
}

/// Starts an attempt: counts it, arms its timeout and calls the work (inside `scope`),
/// then `phase` is `Attempt`. `NoRuntime` when the timeout cannot be armed (nothing was
/// called), `Panicked` when the call panicked.
#[inline(always)]
pub(super) fn begin_attempt<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    scope: Option<&Arc<CancelNode>>,
    delayed: bool,
) -> Result<(), TaskError<E>> {
    let n = this.st.retry.count(1);
    if let Some(timeout) = this.cfg.timeout {
        // The first attempt of a task that starts at once starts when the task does: no
        // second clock read.
        let now = match (n, this.st.retry.started(), delayed) {
            (1, Some(started), false) => started,
            _ => Instant::now(),
        };
        arm(this.timer.as_mut(), after(now, timeout))?;
    }
    let work = &mut *this.work;
    let fut = caught(|| match scope {
        Some(node) => node.enter(|| work.call()),
        None => work.call(),
    })?;
    this.attempt.set(Some(fut));
    this.st.phase = Phase::Attempt;
    Ok(())
}

/// Polls the running attempt (inside `scope`, under `span`), then its timeout. Ready
/// (the attempt dropped) with its value, its error, its panic, or `Timeout`.
#[inline]
pub(super) fn poll_attempt<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    scope: Option<&Arc<CancelNode>>,
    span: Option<&Span>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, TaskError<E>>> {
    let attempt = this.attempt.as_mut();
    let polled = poll_caught(|| {
        let _entered = span.map(Span::enter);
        match (scope, attempt.as_pin_mut()) {
            (Some(node), Some(fut)) => node.enter(|| fut.poll(cx)),
            (None, Some(fut)) => fut.poll(cx),
            (_, None) => Poll::Pending,
        }
    });
    let out = match (polled, this.cfg.timeout) {
        (Poll::Ready(out), _) => out,
        (Poll::Pending, Some(timeout)) if fired(this.timer.as_mut(), cx) => {
            Err(TaskError::Timeout { after: timeout })
        }
        (Poll::Pending, _) => return Poll::Pending,
    };
    this.attempt.set(None);
    Poll::Ready(out)
}

/// An attempt failed with `err`: `phase` becomes `Start` (no wait) or `Backoff` (the
/// timer armed), or the task's final error comes back (see [`RetryState::after_failure`];
/// `NoRuntime` when the backoff cannot be armed).
pub(super) fn schedule_retry<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    err: TaskError<E>,
) -> Result<(), TaskError<E>> {
    let retry_if = this.cfg.cold().and_then(|c| c.retry_if.as_ref());
    let now = Instant::now();
    let delay = this
        .st
        .retry
        .after_failure(&this.cfg.retry, retry_if, err, now)?;
    if delay.is_zero() {
        this.st.phase = Phase::Start;
    } else {
        arm(this.timer.as_mut(), after(now, delay))?;
        this.st.phase = Phase::Backoff;
    }
    Ok(())
}

/// The task is over: drops the attempt and the timer, builds the result.
pub(super) fn task_result<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    outcome: Result<T, TaskError<E>>,
    recovered: bool,
    metrics: Option<Box<MetricsSnapshot>>,
) -> TaskResult<T, E> {
    this.st.phase = Phase::Done;
    this.attempt.set(None);
    this.timer.set(None);
    let started = this.st.retry.started().unwrap_or_else(Instant::now);
    TaskResult::new(
        outcome,
        RunMeta {
            task_id: std::mem::take(&mut this.st.id),
            label: this.cfg.label().cloned().unwrap_or(TaskLabel::EMPTY),
            priority: this.cfg.priority,
            attempts: this.st.retry.attempts(),
            started,
            execution_time: started.elapsed(),
            recovered,
            metrics,
        },
    )
}
