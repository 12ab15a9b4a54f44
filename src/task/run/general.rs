//! The general path of [`TaskFuture`](super::TaskFuture): every feature (delayed start,
//! deadline, cancellation scope and cleanup, circuit breaker, recovery, status, tracing
//! spans, metrics) around the shared attempt pieces.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;
use tracing::Span;

use super::parts::{
    Parts, Phase, arm, begin_attempt, fired, poll_attempt, schedule_retry, task_result, waiting,
};
use crate::error::TaskError;
use crate::task::attempt::caught;
use crate::task::cancel::CancelNode;
use crate::task::result::TaskResult;
use crate::task::retry::recoverable;
use crate::task::shared::TaskShared;
use crate::task::timing::{after, try_sleep_until};
use crate::task::work::AsyncWork;
use crate::task::{CancellationLevel, CircuitPermit, TaskMetrics, TaskStatus, trace};

/// State only the general path uses (deadline, cancellation scope, recovery, cleanup,
/// breaker permit, status, metrics, spans): absent on the fast path, so a plain task
/// drops it with one check.
pub(crate) struct Extras<T, E> {
    deadline: Option<Pin<Box<Sleep>>>,
    cancelled: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    recovering: Option<BoxFuture<'static, Result<T, TaskError<E>>>>,
    cleanup: Option<BoxFuture<'static, ()>>,
    permit: Option<CircuitPermit>,
    pub(super) node: Option<Arc<CancelNode>>,
    pub(super) shared: Option<Arc<TaskShared>>,
    pub(super) metrics: Option<TaskMetrics>,
    span: Option<Box<Span>>,
    attempt_span: Option<Box<Span>>,
    cancel_level: CancellationLevel,
    recovered: bool,
    /// Set when the task has finished (its result built).
    done: bool,
}

impl<T, E> Default for Extras<T, E> {
    fn default() -> Self {
        Extras {
            deadline: None,
            cancelled: None,
            recovering: None,
            cleanup: None,
            permit: None,
            node: None,
            shared: None,
            metrics: None,
            span: None,
            attempt_span: None,
            cancel_level: CancellationLevel::Graceful,
            recovered: false,
            done: false,
        }
    }
}

impl<T, E> Drop for Extras<T, E> {
    fn drop(&mut self) {
        // Dropped before finishing (aborted, or the owner lost interest): record it.
        if !self.done {
            // The running futures go first, as the work and the timers did.
            self.recovering = None;
            self.cleanup = None;
            self.deadline = None;
            self.cancelled = None;
            if let Some(shared) = &self.shared {
                let _ = shared.status.transition(TaskStatus::Cancelled);
            }
            if let Some(node) = &self.node {
                // Children started in this task's scope must not outlive it.
                node.cancel(CancellationLevel::Kill);
            }
        }
    }
}

/// Outcome of one step of the state machine.
enum Step<T, E> {
    Continue,
    Pending,
    Finish(Result<T, TaskError<E>>),
}

/// One poll of the general path: enters the span and measures the poll if asked to.
#[inline(never)]
pub(super) fn poll<T, E, W: AsyncWork<T, E>>(
    mut this: Parts<'_, T, E, W>,
    ext: &mut Option<Extras<T, E>>,
    cx: &mut Context<'_>,
) -> Poll<TaskResult<T, E>> {
    let x = ext.get_or_insert_with(Extras::default);
    let this = &mut this;
    if this.st.phase == Phase::Init {
        if this.cfg.record_error.is_some() {
            let cold = this.cfg.cold();
            x.span = Some(Box::new(trace::task_span(
                this.st.id.get(),
                cold.map(|c| &c.label),
                this.cfg.priority,
                cold.and_then(|c| c.fields.as_deref()),
            )));
        }
        if this.cfg.metrics && x.metrics.is_none() {
            x.metrics = Some(TaskMetrics::new());
        }
    }
    if x.span.is_none() && x.metrics.is_none() {
        // No span to enter, no poll to measure.
        return match run_steps(this, x, cx, None) {
            None => Poll::Pending,
            Some(outcome) => Poll::Ready(finish(this, x, outcome, None)),
        };
    }
    let span = x.span.take();
    let entered = span.as_deref().map(Span::enter);
    let metrics = x.metrics.clone();
    let poll_guard = metrics.as_ref().map(TaskMetrics::enter_poll);
    let outcome = run_steps(this, x, cx, span.as_deref());
    drop(poll_guard);
    drop(entered);
    let out = match outcome {
        None => Poll::Pending,
        Some(outcome) => Poll::Ready(finish(this, x, outcome, span.as_deref())),
    };
    x.span = span;
    out
}

/// Steps until the task waits (`None`) or finishes.
fn run_steps<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    x: &mut Extras<T, E>,
    cx: &mut Context<'_>,
    span: Option<&Span>,
) -> Option<Result<T, TaskError<E>>> {
    loop {
        match step(this, x, cx, span) {
            Step::Continue => continue,
            Step::Pending => return None,
            Step::Finish(outcome) => return Some(outcome),
        }
    }
}

/// One transition of the state machine.
fn step<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    x: &mut Extras<T, E>,
    cx: &mut Context<'_>,
    span: Option<&Span>,
) -> Step<T, E> {
    match this.st.phase {
        Phase::Init => init(this, x),
        // A delayed start and a backoff both sleep, then start an attempt.
        Phase::Waiting | Phase::Backoff => {
            if let Some(step) = check_cancel_and_deadline(this, x, cx) {
                return step;
            }
            if waiting(this.timer.as_mut(), cx) {
                return Step::Pending;
            }
            this.st.phase = Phase::Start;
            Step::Continue
        }
        Phase::Start => start_attempt(this, x, span),
        Phase::Attempt => {
            if let Some(step) = check_cancel(this, x, cx) {
                return step;
            }
            let scope = x.node.as_ref();
            match poll_attempt(this, scope, x.attempt_span.as_deref(), cx) {
                Poll::Ready(Ok(value)) => {
                    if let Some(permit) = x.permit.take() {
                        permit.success();
                    }
                    x.attempt_span = None;
                    Step::Finish(Ok(value))
                }
                Poll::Ready(Err(err)) => attempt_failed(this, x, err),
                Poll::Pending => check_deadline(this, x, cx).unwrap_or(Step::Pending),
            }
        }
        Phase::Recovering => {
            if let Some(step) = check_cancel(this, x, cx) {
                return step;
            }
            let polled = x.recovering.as_mut().map(|f| {
                // The fallback's result is the task's, as it is; a panic is `Panicked`.
                caught(|| f.as_mut().poll(cx)).unwrap_or_else(|panic| Poll::Ready(Err(panic)))
            });
            match polled {
                Some(Poll::Ready(out)) => {
                    x.recovering = None;
                    x.recovered = out.is_ok();
                    Step::Finish(out)
                }
                Some(Poll::Pending) => Step::Pending,
                None => Step::Finish(Err(TaskError::Cancelled {
                    level: x.cancel_level,
                })),
            }
        }
        Phase::Cleanup => cleanup(this, x, cx),
        // The fast path never reaches here; `Done` is handled by `poll`.
        Phase::Done => Step::Pending,
    }
}

/// First poll: validate, start the clocks, join the cancellation scope, arm timers.
fn init<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    x: &mut Extras<T, E>,
) -> Step<T, E> {
    this.st.retry.start(Instant::now());
    if let Some(err) = this.cfg.invalid.take() {
        return Step::Finish(Err(TaskError::Config(*err)));
    }
    if let Some(shared) = &x.shared {
        let _ = shared.status.transition(TaskStatus::Running);
    }
    let cold = this.cfg.cold();
    if x.node.is_none() {
        x.node = match cold.and_then(|c| c.token.as_ref()) {
            Some(token) => Some(CancelNode::linked(token)),
            None => CancelNode::child_of_current(),
        };
    }
    if let Some(node) = &x.node {
        x.cancelled = Some(Box::pin(node.token().clone().cancelled_owned()));
    }
    if this.work.requires_runtime() && tokio::runtime::Handle::try_current().is_err() {
        return Step::Finish(Err(TaskError::NoRuntime));
    }
    if let Some(deadline) = cold.and_then(|c| c.deadline) {
        match try_sleep_until(deadline.to_instant()) {
            Some(sleep) => x.deadline = Some(Box::pin(sleep)),
            None => return Step::Finish(Err(TaskError::NoRuntime)),
        }
    }
    match cold.and_then(|c| c.start_at) {
        Some(at) => {
            if let Err(e) = arm(this.timer.as_mut(), at.to_instant()) {
                return Step::Finish(Err(e));
            }
            this.st.phase = Phase::Waiting;
        }
        None => this.st.phase = Phase::Start,
    }
    Step::Continue
}

/// Acquires the breaker, then starts the attempt (in the task's scope, with its span).
fn start_attempt<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    x: &mut Extras<T, E>,
    span: Option<&Span>,
) -> Step<T, E> {
    if let Some(breaker) = this.cfg.cold().and_then(|c| c.breaker.as_ref()) {
        match breaker.try_acquire() {
            Ok(permit) => x.permit = Some(permit),
            Err(open) => {
                let err = TaskError::CircuitOpen {
                    breaker: open.breaker,
                    retry_after: open.retry_after,
                };
                return final_error(this, x, err);
            }
        }
    }
    let attempt = this.st.retry.attempts().saturating_add(1);
    if let Some(shared) = &x.shared {
        shared.attempts.store(attempt, Ordering::Relaxed);
    }
    x.attempt_span = span.map(|s| Box::new(trace::attempt_span(s, attempt)));
    let delayed = this.cfg.cold().is_some_and(|c| c.start_at.is_some());
    match begin_attempt(this, x.node.as_ref(), delayed) {
        Ok(()) => Step::Continue,
        // No timer for the timeout: nothing was called.
        Err(TaskError::NoRuntime) => Step::Finish(Err(TaskError::NoRuntime)),
        Err(err) => attempt_failed(this, x, err),
    }
}

/// An attempt failed: report it, then retry after a backoff or give up.
fn attempt_failed<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    x: &mut Extras<T, E>,
    err: TaskError<E>,
) -> Step<T, E> {
    if let Some(permit) = x.permit.take() {
        permit.failure();
    }
    if let (Some(record), Some(span)) = (this.cfg.record_error, x.attempt_span.take()) {
        record(&span, &err);
    }
    match schedule_retry(this, err) {
        Ok(()) => Step::Continue,
        Err(err) => final_error(this, x, err),
    }
}

/// The task has failed for good: run the fallback if there is one.
fn final_error<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    x: &mut Extras<T, E>,
    err: TaskError<E>,
) -> Step<T, E> {
    let fallback = this.cfg.cold().and_then(|c| c.recover.as_ref());
    match fallback {
        Some(fallback) if recoverable(&err) => match caught(|| fallback(err)) {
            Ok(fut) => {
                x.recovering = Some(fut);
                this.st.phase = Phase::Recovering;
                Step::Continue
            }
            Err(panic) => Step::Finish(Err(panic)),
        },
        _ => Step::Finish(Err(err)),
    }
}

/// Polls a one-shot signal (cancellation, deadline); `true`, with the slot emptied, once
/// it has fired.
fn signalled<F: Future>(slot: &mut Option<Pin<Box<F>>>, cx: &mut Context<'_>) -> bool {
    let ready = slot
        .as_mut()
        .is_some_and(|signal| signal.as_mut().poll(cx).is_ready());
    if ready {
        *slot = None;
    }
    ready
}

/// Drops the running attempt; its breaker permit counts as neither success nor failure.
fn abandon_attempt<T, E, W: AsyncWork<T, E>>(this: &mut Parts<'_, T, E, W>, x: &mut Extras<T, E>) {
    this.attempt.set(None);
    x.permit = None;
}

/// Stops the task if its scope was cancelled; starts the cleanup for a graceful cancel.
fn check_cancel<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    x: &mut Extras<T, E>,
    cx: &mut Context<'_>,
) -> Option<Step<T, E>> {
    if !signalled(&mut x.cancelled, cx) {
        return None;
    }
    abandon_attempt(this, x);
    x.recovering = None;
    let level = x
        .node
        .as_ref()
        .map_or(CancellationLevel::Graceful, |n| n.level());
    x.cancel_level = level;
    let cold = this.cfg.cold();
    if let (CancellationLevel::Graceful, Some(cold), Some(on_cancel)) =
        (level, cold, cold.and_then(|c| c.on_cancel.as_ref()))
    {
        match caught::<_, E>(|| on_cancel()) {
            Ok(fut) => x.cleanup = Some(fut),
            Err(err) => {
                cleanup_panicked(x, &err);
                return Some(Step::Finish(Err(TaskError::Cancelled { level })));
            }
        }
        // Without a timer the cleanup is not bounded, but it still runs.
        let _ = arm::<E>(this.timer.as_mut(), after(Instant::now(), cold.grace));
        this.st.phase = Phase::Cleanup;
        return Some(Step::Continue);
    }
    Some(Step::Finish(Err(TaskError::Cancelled { level })))
}

/// Runs the `on_cancel` cleanup until it ends or the grace period (`timer`) runs out.
fn cleanup<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    x: &mut Extras<T, E>,
    cx: &mut Context<'_>,
) -> Step<T, E> {
    let level = x.cancel_level;
    let done = match x.cleanup.as_mut() {
        Some(f) => match caught::<_, E>(|| f.as_mut().poll(cx)) {
            Ok(polled) => polled.is_ready(),
            Err(err) => {
                cleanup_panicked(x, &err);
                return Step::Finish(Err(TaskError::Cancelled { level }));
            }
        },
        None => true,
    };
    if done {
        x.cleanup = None;
        if let Some(shared) = &x.shared {
            shared.cleanup_ran.store(true, Ordering::Release);
        }
        return Step::Finish(Err(TaskError::Cancelled { level }));
    }
    if fired(this.timer.as_mut(), cx) {
        // The grace period ran out: the cleanup is dropped unfinished.
        x.cleanup = None;
        return Step::Finish(Err(TaskError::Cancelled { level }));
    }
    Step::Pending
}

/// The `on_cancel` cleanup (its call or its future) panicked: it did not run to the end;
/// the task ends cancelled and the handle's `cancel` reports `cleanup_panicked`.
#[cold]
fn cleanup_panicked<T, E>(x: &mut Extras<T, E>, err: &TaskError<E>) {
    x.cleanup = None;
    if let Some(shared) = &x.shared {
        shared.cleanup_panicked.store(true, Ordering::Release);
    }
    if let TaskError::Panicked { message } = err {
        tracing::warn!(panic = %message, "on_cancel cleanup panicked");
    }
}

/// Stops the task once its deadline has passed.
fn check_deadline<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    x: &mut Extras<T, E>,
    cx: &mut Context<'_>,
) -> Option<Step<T, E>> {
    if !signalled(&mut x.deadline, cx) {
        return None;
    }
    abandon_attempt(this, x);
    Some(final_error(this, x, TaskError::DeadlineExceeded))
}

fn check_cancel_and_deadline<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    x: &mut Extras<T, E>,
    cx: &mut Context<'_>,
) -> Option<Step<T, E>> {
    check_cancel(this, x, cx).or_else(|| check_deadline(this, x, cx))
}

/// Builds the result, records it on the span, status and metrics.
fn finish<T, E, W: AsyncWork<T, E>>(
    this: &mut Parts<'_, T, E, W>,
    x: &mut Extras<T, E>,
    outcome: Result<T, TaskError<E>>,
    span: Option<&Span>,
) -> TaskResult<T, E> {
    x.done = true;
    x.deadline = None;
    x.cancelled = None;
    let status = match &outcome {
        Ok(_) => TaskStatus::Completed,
        Err(TaskError::Cancelled { .. }) => TaskStatus::Cancelled,
        Err(_) => TaskStatus::Failed,
    };
    if let Some(shared) = &x.shared {
        let _ = shared.status.transition(status);
    }
    if let Some(span) = span {
        span.record("attempts", this.st.retry.attempts());
        span.record("outcome", tracing::field::display(status));
        if let (Err(err), Some(record)) = (&outcome, this.cfg.record_error) {
            record(span, err);
        }
    }
    let metrics = x.metrics.as_ref().map(|m| {
        m.finish();
        Box::new(m.snapshot())
    });
    task_result(this, outcome, x.recovered, metrics)
}
