//! [`TaskFuture`]: the future of a configured task.
//!
//! One hand-written state machine drives the whole task: optional delayed start, then
//! attempts (each under the timeout, the circuit breaker and the task's cancellation
//! scope), backoff sleeps between them, the recovery fallback, and the graceful-cancel
//! cleanup. The work future is stored inline (no boxing); only the rarely used fallback
//! and cleanup futures are boxed.
//!
//! Two paths share it. A task with nothing but a timeout, retries and descriptive
//! settings, not spawned and not inside another task's scope, takes the fast path
//! (decided at the first poll, see `fast_eligible`): attempts, timeout and backoff with
//! no check for the features it cannot have. Everything else takes the general path,
//! whose extra state (`Extras`) the fast path never touches. Both give the same results
//! for the tasks the fast path accepts (tested below).

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{BoxFuture, FusedFuture};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;
use tracing::Span;

use crate::error::TaskError;
use crate::error::panic_message;
use crate::task::RetryPolicy;
use crate::task::builder::TaskConfig;
use crate::task::cancel::CancelNode;
use crate::task::id::LazyTaskId;
use crate::task::result::{RunMeta, TaskResult};
use crate::task::spawn::TaskShared;
use crate::task::work::AsyncWork;
use crate::task::{
    Backoff, CancellationLevel, CircuitPermit, TaskId, TaskLabel, TaskMetrics, TaskStatus, trace,
};

pin_project! {
    /// The future of a task configured with [`AsyncTaskBuilder`](crate::task::AsyncTaskBuilder);
    /// resolves to a [`TaskResult`].
    ///
    /// Await it to run the task in place, or [`spawn`](TaskFuture::spawn) it. Dropping it
    /// stops the work at once (no cleanup) and cancels the tasks started in its scope.
    #[project = TaskFutureProj]
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct TaskFuture<T, E, W: AsyncWork<T, E>> {
        cfg: TaskConfig<T, E>,
        work: W,
        #[pin]
        attempt: Option<W::Future>,
        #[pin]
        timer: Option<Sleep>,
        st: RunState,
        // Last: its scope guard runs after the attempt and the timers are dropped.
        ext: Option<Extras<T, E>>,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Init,
    /// Fast path (see [`fast_eligible`]): the next attempt starts.
    FastStart,
    /// Fast path: an attempt is running.
    FastAttempt,
    /// Fast path: sleeping before a retry.
    FastBackoff,
    Waiting,
    StartAttempt,
    Attempt,
    Backoff,
    Recovering,
    Cleanup,
    Done,
}

/// Bookkeeping that is not pinned: what every task needs.
struct RunState {
    phase: Phase,
    id: LazyTaskId,
    timers_checked: bool,
    attempts: u32,
    started: Option<Instant>,
    backoff: Option<Box<Backoff>>,
}

/// State only the general path uses (deadline, cancellation scope, recovery, cleanup,
/// breaker permit, status, metrics, spans): absent on the fast path, so a plain task
/// drops it with one check.
struct Extras<T, E> {
    deadline: Option<Pin<Box<Sleep>>>,
    cancelled: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    recovering: Option<BoxFuture<'static, Result<T, TaskError<E>>>>,
    cleanup: Option<BoxFuture<'static, ()>>,
    permit: Option<CircuitPermit>,
    node: Option<Arc<CancelNode>>,
    shared: Option<Arc<TaskShared>>,
    metrics: Option<TaskMetrics>,
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

impl<T, E, W: AsyncWork<T, E>> TaskFuture<T, E, W> {
    #[inline]
    pub(crate) fn new(cfg: TaskConfig<T, E>, work: W) -> Self {
        let id = cfg.id.map(LazyTaskId::fixed).unwrap_or_default();
        TaskFuture {
            cfg,
            work,
            attempt: None,
            timer: None,
            st: RunState {
                phase: Phase::Init,
                id,
                timers_checked: false,
                attempts: 0,
                started: None,
                backoff: None,
            },
            ext: None,
        }
    }

    /// The id this task runs (and reports) under.
    pub fn task_id(&self) -> TaskId {
        self.st.id.get()
    }

    pub(crate) fn config(&self) -> &TaskConfig<T, E> {
        &self.cfg
    }

    /// Orchestra hook: the settings and the work of a task that was never polled, so the
    /// orchestrator can run its attempts itself (a backoff must not hold a slot).
    pub(crate) fn into_parts(self) -> (TaskConfig<T, E>, W) {
        let TaskFuture { cfg, work, .. } = self;
        (cfg, work)
    }

    pub(crate) fn attach(
        &mut self,
        node: Arc<CancelNode>,
        shared: Arc<TaskShared>,
        metrics: Option<TaskMetrics>,
    ) {
        let x = self.ext.get_or_insert_with(Default::default);
        x.node = Some(node);
        x.shared = Some(shared);
        if metrics.is_some() {
            x.metrics = metrics;
        }
    }
}

/// `d` after `at`, saturating (see [`timing::after`](crate::task::timing::after)).
#[inline]
fn later(at: Instant, d: Duration) -> Instant {
    crate::task::timing::after(at, d)
}

/// No runtime with a time driver is running (a timer cannot be created).
struct NoRuntime;

impl<E> From<NoRuntime> for TaskError<E> {
    fn from(NoRuntime: NoRuntime) -> Self {
        TaskError::NoRuntime
    }
}

/// Whether a runtime is running; `checked` remembers that one was found, so a task
/// looks only once.
#[inline]
fn check_runtime(checked: &mut bool) -> Result<(), NoRuntime> {
    if !*checked {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(NoRuntime);
        }
        *checked = true;
    }
    Ok(())
}

/// A tokio timer at `at`, or `NoRuntime` when no runtime with a time driver is running.
fn sleep_until(at: Instant, checked: &mut bool) -> Result<Sleep, NoRuntime> {
    check_runtime(checked)?;
    // A runtime built without `enable_time` panics here; keep that a typed error.
    catch_unwind(|| tokio::time::sleep_until(at)).map_err(|_| NoRuntime)
}

/// Arms `timer` for `at`, reusing its registration when it already exists.
#[inline]
fn arm(
    mut timer: Pin<&mut Option<Sleep>>,
    at: Instant,
    checked: &mut bool,
) -> Result<(), NoRuntime> {
    if let Some(sleep) = timer.as_mut().as_pin_mut() {
        sleep.reset(at);
        return Ok(());
    }
    new_timer(timer, at, checked)
}

/// Creates the timer right in its slot.
fn new_timer(
    mut timer: Pin<&mut Option<Sleep>>,
    at: Instant,
    checked: &mut bool,
) -> Result<(), NoRuntime> {
    check_runtime(checked)?;
    // A runtime built without `enable_time` panics here; keep that a typed error.
    catch_unwind(AssertUnwindSafe(|| {
        timer.set(Some(tokio::time::sleep_until(at)));
    }))
    .map_err(|_| NoRuntime)
}

impl<T, E, W: AsyncWork<T, E>> Future for TaskFuture<T, E, W> {
    type Output = TaskResult<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.st.phase {
            Phase::FastStart | Phase::FastAttempt | Phase::FastBackoff => {
                fast_poll(&mut split(self.project()).0, cx)
            }
            Phase::Done => Poll::Pending,
            Phase::Init if self.ext.is_none() => {
                let (mut this, ext) = split(self.project());
                if !fast_eligible(&mut this, ext) {
                    return poll_general(this, ext, cx);
                }
                this.st.started = Some(Instant::now());
                this.st.phase = Phase::FastStart;
                fast_poll(&mut this, cx)
            }
            _ => {
                let (this, ext) = split(self.project());
                poll_general(this, ext, cx)
            }
        }
    }
}

/// The projection without the general path's state, so both can be borrowed at once.
struct Parts<'a, T, E, W: AsyncWork<T, E>> {
    cfg: &'a mut TaskConfig<T, E>,
    work: &'a mut W,
    attempt: Pin<&'a mut Option<W::Future>>,
    timer: Pin<&'a mut Option<Sleep>>,
    st: &'a mut RunState,
}

/// The fields every path uses, and the general path's state.
type Split<'a, T, E, W> = (Parts<'a, T, E, W>, &'a mut Option<Extras<T, E>>);

/// Splits the projection into the fields every path uses and the general path's state.
#[inline(always)]
fn split<T, E, W: AsyncWork<T, E>>(p: TaskFutureProj<'_, T, E, W>) -> Split<'_, T, E, W> {
    let TaskFutureProj {
        cfg,
        work,
        attempt,
        timer,
        st,
        ext,
    } = p;
    (
        Parts {
            cfg,
            work,
            attempt,
            timer,
            st,
        },
        ext,
    )
}

/// The general path: every feature.
#[inline(never)]
fn poll_general<T, E, W: AsyncWork<T, E>>(
    mut this: Parts<'_, T, E, W>,
    ext: &mut Option<Extras<T, E>>,
    cx: &mut Context<'_>,
) -> Poll<TaskResult<T, E>> {
    let x = ext.get_or_insert_with(Extras::default);
    poll_extras(&mut this, x, cx)
}

/// One poll of the general path: enters the span and measures the poll if asked to.
fn poll_extras<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
    x: &mut Extras<T, E>,
    cx: &mut Context<'_>,
) -> Poll<TaskResult<T, E>> {
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

type Proj<'a, T, E, W> = Parts<'a, T, E, W>;

/// Steps until the task waits (`None`) or finishes.
fn run_steps<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
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
    this: &mut Proj<'_, T, E, W>,
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
            match this.timer.as_mut().as_pin_mut().map(|t| t.poll(cx)) {
                Some(Poll::Pending) => Step::Pending,
                _ => {
                    this.st.phase = Phase::StartAttempt;
                    Step::Continue
                }
            }
        }
        Phase::StartAttempt => start_attempt(this, x, span),
        Phase::Attempt => {
            if let Some(step) = check_cancel(this, x, cx) {
                return step;
            }
            let node = x.node.as_ref();
            let attempt = this.attempt.as_mut();
            let polled = catch_unwind(AssertUnwindSafe(|| {
                let attempt_span = x.attempt_span.as_deref().map(Span::enter);
                let out = match (node, attempt.as_pin_mut()) {
                    (Some(node), Some(fut)) => node.enter(|| fut.poll(cx)),
                    (None, Some(fut)) => fut.poll(cx),
                    (_, None) => Poll::Pending,
                };
                drop(attempt_span);
                out
            }));
            match polled {
                Ok(Poll::Ready(Ok(value))) => {
                    this.attempt.set(None);
                    if let Some(permit) = x.permit.take() {
                        permit.success();
                    }
                    x.attempt_span = None;
                    Step::Finish(Ok(value))
                }
                Ok(Poll::Ready(Err(e))) => {
                    this.attempt.set(None);
                    attempt_failed(this, x, TaskError::Failed(e))
                }
                Err(payload) => {
                    this.attempt.set(None);
                    let message = panic_message(&*payload);
                    attempt_failed(this, x, TaskError::Panicked { message })
                }
                Ok(Poll::Pending) => {
                    if let Some(after) = this.cfg.timeout {
                        if let Some(Poll::Ready(())) =
                            this.timer.as_mut().as_pin_mut().map(|t| t.poll(cx))
                        {
                            this.attempt.set(None);
                            return attempt_failed(this, x, TaskError::Timeout { after });
                        }
                    }
                    check_deadline(this, x, cx).unwrap_or(Step::Pending)
                }
            }
        }
        Phase::Recovering => {
            if let Some(step) = check_cancel(this, x, cx) {
                return step;
            }
            let polled = x.recovering.as_mut().map(|f| {
                catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))).unwrap_or_else(|p| {
                    Poll::Ready(Err(TaskError::Panicked {
                        message: panic_message(&*p),
                    }))
                })
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
        Phase::Cleanup => {
            let level = x.cancel_level;
            let done = match x.cleanup.as_mut() {
                Some(f) => match catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
                    Ok(polled) => polled.is_ready(),
                    Err(payload) => {
                        cleanup_panicked(x, &*payload);
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
            match this.timer.as_mut().as_pin_mut().map(|t| t.poll(cx)) {
                Some(Poll::Ready(())) => {
                    // The grace period ran out: the cleanup is dropped unfinished.
                    x.cleanup = None;
                    Step::Finish(Err(TaskError::Cancelled { level }))
                }
                _ => Step::Pending,
            }
        }
        // The fast phases are driven by `fast_poll` only.
        Phase::FastStart | Phase::FastAttempt | Phase::FastBackoff | Phase::Done => Step::Pending,
    }
}

/// Whether the task can take the fast path: the work, a timeout, retries (with a retry
/// predicate) and descriptive settings (label, span fields, context), but no breaker,
/// scope, recovery, tracing, metrics, delayed start, deadline or cancellation token;
/// not spawned; not blocking work; valid settings.
///
/// Such a task can only end by its own attempts, so the fast path skips every check
/// the general state machine makes for the features it does not use. A task polled
/// inside another task's work joins that task's cancellation scope and takes the
/// general path (the scope found here is kept for it).
#[inline]
fn fast_eligible<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
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

/// The fast path's state machine: attempts under the timeout, backoff sleeps between
/// them. Same outcomes as the general path for the settings it accepts.
#[inline(always)]
fn fast_poll<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
    cx: &mut Context<'_>,
) -> Poll<TaskResult<T, E>> {
    loop {
        let err = match this.st.phase {
            Phase::FastAttempt => {
                let attempt = this.attempt.as_mut();
                let polled = catch_unwind(AssertUnwindSafe(|| match attempt.as_pin_mut() {
                    Some(fut) => fut.poll(cx),
                    None => Poll::Pending,
                }));
                match polled {
                    Ok(Poll::Ready(Ok(value))) => return Poll::Ready(fast_finish(this, Ok(value))),
                    Ok(Poll::Ready(Err(e))) => TaskError::Failed(e),
                    Err(payload) => panicked(payload),
                    Ok(Poll::Pending) => match this.cfg.timeout {
                        Some(after)
                            if this
                                .timer
                                .as_mut()
                                .as_pin_mut()
                                .is_some_and(|t| t.poll(cx).is_ready()) =>
                        {
                            TaskError::Timeout { after }
                        }
                        _ => return Poll::Pending,
                    },
                }
            }
            Phase::FastBackoff => {
                if let Some(Poll::Pending) = this.timer.as_mut().as_pin_mut().map(|t| t.poll(cx)) {
                    return Poll::Pending;
                }
                this.st.phase = Phase::FastStart;
                continue;
            }
            _ => {
                // FastStart: count the attempt, arm the timeout, call the work.
                this.st.attempts = this.st.attempts.saturating_add(1);
                if let Some(after) = this.cfg.timeout {
                    // The first attempt starts when the task does: no second clock read.
                    let now = match (this.st.attempts, this.st.started) {
                        (1, Some(started)) => started,
                        _ => Instant::now(),
                    };
                    if arm(
                        this.timer.as_mut(),
                        later(now, after),
                        &mut this.st.timers_checked,
                    )
                    .is_err()
                    {
                        return Poll::Ready(fast_finish(this, Err(TaskError::NoRuntime)));
                    }
                }
                let work = &mut *this.work;
                match catch_unwind(AssertUnwindSafe(|| work.call())) {
                    Ok(fut) => {
                        this.attempt.set(Some(fut));
                        this.st.phase = Phase::FastAttempt;
                        continue;
                    }
                    Err(payload) => panicked(payload),
                }
            }
        };
        this.attempt.set(None);
        if let Err(err) = fast_retry(this.cfg, this.st, this.timer.as_mut(), err) {
            return Poll::Ready(fast_finish(this, Err(err)));
        }
    }
}

/// The error of a caught panic (kept out of the hot loop).
#[cold]
#[inline(never)]
fn panicked<E>(payload: Box<dyn std::any::Any + Send>) -> TaskError<E> {
    TaskError::Panicked {
        message: panic_message(&*payload),
    }
}

/// After a failed attempt: the delay before the next one, or the task's final error
/// (not retryable, attempts or time budget spent). Shared by both paths.
fn retry_delay<T, E>(
    cfg: &TaskConfig<T, E>,
    st: &mut RunState,
    err: TaskError<E>,
) -> Result<Duration, TaskError<E>> {
    if !RetryPolicy::may_retry(cfg.cold().and_then(|c| c.retry_if.as_ref()), &err)? {
        return Err(err);
    }
    let policy = &cfg.retry;
    let backoff = st.backoff.get_or_insert_with(|| Box::new(policy.backoff()));
    match backoff.next_delay() {
        Some(delay) if policy.fits_budget(st.started.map(|s| s.elapsed()), delay) => Ok(delay),
        _ => Err(policy.exhausted(st.attempts, err)),
    }
}

/// Fast path: an attempt failed with `err`; schedules the retry, or gives the final
/// error back (the rules of `attempt_failed` without breaker or spans).
#[cold]
#[inline(never)]
fn fast_retry<T, E>(
    cfg: &TaskConfig<T, E>,
    st: &mut RunState,
    timer: Pin<&mut Option<Sleep>>,
    err: TaskError<E>,
) -> Result<(), TaskError<E>> {
    let delay = retry_delay(cfg, st, err)?;
    if delay.is_zero() {
        st.phase = Phase::FastStart;
    } else {
        arm(timer, later(Instant::now(), delay), &mut st.timers_checked)?;
        st.phase = Phase::FastBackoff;
    }
    Ok(())
}

/// Fast path: the task is over; drops the attempt and the timer, builds the result.
#[inline(always)]
fn fast_finish<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
    outcome: Result<T, TaskError<E>>,
) -> TaskResult<T, E> {
    this.attempt.set(None);
    this.timer.set(None);
    fast_result(this.st, this.cfg, outcome)
}

/// Fast path: the result (no status, span or metrics to record).
#[inline(never)]
fn fast_result<T, E>(
    st: &mut RunState,
    cfg: &TaskConfig<T, E>,
    outcome: Result<T, TaskError<E>>,
) -> TaskResult<T, E> {
    st.phase = Phase::Done;
    let started = st.started.unwrap_or_else(Instant::now);
    TaskResult::new(
        outcome,
        RunMeta {
            task_id: std::mem::take(&mut st.id),
            label: match cfg.label() {
                Some(label) => label.clone(),
                None => TaskLabel::EMPTY,
            },
            priority: cfg.priority,
            attempts: st.attempts,
            started,
            execution_time: started.elapsed(),
            recovered: false,
            metrics: None,
        },
    )
}

/// First poll: validate, start the clocks, join the cancellation scope, arm timers.
fn init<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
    x: &mut Extras<T, E>,
) -> Step<T, E> {
    this.st.started = Some(Instant::now());
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
        match sleep_until(deadline.to_instant(), &mut this.st.timers_checked) {
            Ok(sleep) => x.deadline = Some(Box::pin(sleep)),
            Err(NoRuntime) => return Step::Finish(Err(TaskError::NoRuntime)),
        }
    }
    match cold.and_then(|c| c.start_at) {
        Some(at) => {
            if let Err(e) = arm(
                this.timer.as_mut(),
                at.to_instant(),
                &mut this.st.timers_checked,
            ) {
                return Step::Finish(Err(e.into()));
            }
            this.st.phase = Phase::Waiting;
        }
        None => this.st.phase = Phase::StartAttempt,
    }
    Step::Continue
}

/// Acquires the breaker, calls the work, arms the timeout.
fn start_attempt<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
    x: &mut Extras<T, E>,
    span: Option<&Span>,
) -> Step<T, E> {
    if let Some(breaker) = this.cfg.cold().and_then(|c| c.breaker.as_ref()) {
        match breaker.try_acquire() {
            Ok(permit) => x.permit = Some(permit),
            Err(open) => {
                return final_error(
                    this,
                    x,
                    TaskError::CircuitOpen {
                        breaker: open.breaker,
                        retry_after: open.retry_after,
                    },
                );
            }
        }
    }
    this.st.attempts = this.st.attempts.saturating_add(1);
    if let Some(shared) = &x.shared {
        shared.attempts.store(this.st.attempts, Ordering::Relaxed);
    }
    x.attempt_span = span.map(|s| Box::new(trace::attempt_span(s, this.st.attempts)));
    if let Some(after) = this.cfg.timeout {
        // The first attempt starts when the task does: no second clock read.
        let delayed = this.cfg.cold().is_some_and(|c| c.start_at.is_some());
        let now = match (this.st.attempts, this.st.started, delayed) {
            (1, Some(started), false) => started,
            _ => Instant::now(),
        };
        if let Err(e) = arm(
            this.timer.as_mut(),
            later(now, after),
            &mut this.st.timers_checked,
        ) {
            return Step::Finish(Err(e.into()));
        }
    }
    let node = x.node.as_ref();
    let work = &mut *this.work;
    let called = catch_unwind(AssertUnwindSafe(|| match node {
        Some(node) => node.enter(|| work.call()),
        None => work.call(),
    }));
    match called {
        Ok(fut) => {
            this.attempt.set(Some(fut));
            this.st.phase = Phase::Attempt;
            Step::Continue
        }
        Err(payload) => {
            let message = panic_message(&*payload);
            attempt_failed(this, x, TaskError::Panicked { message })
        }
    }
}

/// An attempt failed: report it, then retry after a backoff or give up.
fn attempt_failed<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
    x: &mut Extras<T, E>,
    err: TaskError<E>,
) -> Step<T, E> {
    if let Some(permit) = x.permit.take() {
        permit.failure();
    }
    if let (Some(record), Some(span)) = (this.cfg.record_error, x.attempt_span.take()) {
        record(&span, &err);
    }
    let delay = match retry_delay(this.cfg, this.st, err) {
        Ok(delay) => delay,
        Err(err) => return final_error(this, x, err),
    };
    if delay.is_zero() {
        this.st.phase = Phase::StartAttempt;
    } else {
        if let Err(e) = arm(
            this.timer.as_mut(),
            later(Instant::now(), delay),
            &mut this.st.timers_checked,
        ) {
            return Step::Finish(Err(e.into()));
        }
        this.st.phase = Phase::Backoff;
    }
    Step::Continue
}

/// The task has failed for good: run the fallback if there is one.
fn final_error<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
    x: &mut Extras<T, E>,
    err: TaskError<E>,
) -> Step<T, E> {
    let recoverable = !matches!(
        err,
        TaskError::Cancelled { .. } | TaskError::Config(_) | TaskError::NoRuntime
    );
    match (
        this.cfg.cold().and_then(|c| c.recover.as_ref()),
        recoverable,
    ) {
        (Some(fallback), true) => match catch_unwind(AssertUnwindSafe(|| fallback(err))) {
            Ok(fut) => {
                x.recovering = Some(fut);
                this.st.phase = Phase::Recovering;
                Step::Continue
            }
            Err(payload) => Step::Finish(Err(panicked(payload))),
        },
        _ => Step::Finish(Err(err)),
    }
}

/// Polls a one-shot signal (cancellation, deadline); `true`, with the slot emptied, once
/// it has fired.
fn fired<F: Future>(slot: &mut Option<Pin<Box<F>>>, cx: &mut Context<'_>) -> bool {
    let ready = slot
        .as_mut()
        .is_some_and(|signal| signal.as_mut().poll(cx).is_ready());
    if ready {
        *slot = None;
    }
    ready
}

/// Drops the running attempt; its breaker permit counts as neither success nor failure.
fn abandon_attempt<T, E, W: AsyncWork<T, E>>(this: &mut Proj<'_, T, E, W>, x: &mut Extras<T, E>) {
    this.attempt.set(None);
    x.permit = None;
}

/// Stops the task if its scope was cancelled; starts the cleanup for a graceful cancel.
fn check_cancel<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
    x: &mut Extras<T, E>,
    cx: &mut Context<'_>,
) -> Option<Step<T, E>> {
    if !fired(&mut x.cancelled, cx) {
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
    if let (CancellationLevel::Graceful, Some(cold), Some(cleanup)) =
        (level, cold, cold.and_then(|c| c.on_cancel.as_ref()))
    {
        match catch_unwind(AssertUnwindSafe(|| cleanup())) {
            Ok(fut) => x.cleanup = Some(fut),
            Err(payload) => {
                cleanup_panicked(x, &*payload);
                return Some(Step::Finish(Err(TaskError::Cancelled { level })));
            }
        }
        // Without a timer the cleanup is not bounded, but it still runs.
        let _ = arm(
            this.timer.as_mut(),
            later(Instant::now(), cold.grace),
            &mut this.st.timers_checked,
        );
        this.st.phase = Phase::Cleanup;
        return Some(Step::Continue);
    }
    Some(Step::Finish(Err(TaskError::Cancelled { level })))
}

/// The `on_cancel` cleanup (its call or its future) panicked: it did not run to the end;
/// the task ends cancelled and the handle's `cancel` reports `cleanup_panicked`.
#[cold]
fn cleanup_panicked<T, E>(x: &mut Extras<T, E>, payload: &(dyn std::any::Any + Send)) {
    x.cleanup = None;
    let message = panic_message(payload);
    if let Some(shared) = &x.shared {
        shared.cleanup_panicked.store(true, Ordering::Release);
    }
    tracing::warn!(panic = %message, "on_cancel cleanup panicked");
}

/// Stops the task once its deadline has passed.
fn check_deadline<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
    x: &mut Extras<T, E>,
    cx: &mut Context<'_>,
) -> Option<Step<T, E>> {
    if !fired(&mut x.deadline, cx) {
        return None;
    }
    abandon_attempt(this, x);
    Some(final_error(this, x, TaskError::DeadlineExceeded))
}

fn check_cancel_and_deadline<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
    x: &mut Extras<T, E>,
    cx: &mut Context<'_>,
) -> Option<Step<T, E>> {
    check_cancel(this, x, cx).or_else(|| check_deadline(this, x, cx))
}

/// Builds the result, records it on the span, status and metrics.
fn finish<T, E, W: AsyncWork<T, E>>(
    this: &mut Proj<'_, T, E, W>,
    x: &mut Extras<T, E>,
    outcome: Result<T, TaskError<E>>,
    span: Option<&Span>,
) -> TaskResult<T, E> {
    this.st.phase = Phase::Done;
    x.done = true;
    this.attempt.set(None);
    this.timer.set(None);
    x.deadline = None;
    x.cancelled = None;
    let started = this.st.started.unwrap_or_else(Instant::now);
    let execution_time = started.elapsed();
    let status = match &outcome {
        Ok(_) => TaskStatus::Completed,
        Err(TaskError::Cancelled { .. }) => TaskStatus::Cancelled,
        Err(_) => TaskStatus::Failed,
    };
    if let Some(shared) = &x.shared {
        let _ = shared.status.transition(status);
    }
    if let Some(span) = span {
        span.record("attempts", this.st.attempts);
        span.record("outcome", tracing::field::display(status));
        if let (Err(err), Some(record)) = (&outcome, this.cfg.record_error) {
            record(span, err);
        }
    }
    let metrics = x.metrics.as_ref().map(|m| {
        m.finish();
        Box::new(m.snapshot())
    });
    TaskResult::new(
        outcome,
        RunMeta {
            task_id: std::mem::take(&mut this.st.id),
            label: this.cfg.label().cloned().unwrap_or_default(),
            priority: this.cfg.priority,
            attempts: this.st.attempts,
            started,
            execution_time,
            recovered: x.recovered,
            metrics,
        },
    )
}

impl<T, E, W: AsyncWork<T, E>> FusedFuture for TaskFuture<T, E, W> {
    fn is_terminated(&self) -> bool {
        self.st.phase == Phase::Done
    }
}

impl<T, E, W: AsyncWork<T, E>> fmt::Debug for TaskFuture<T, E, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFuture")
            .field("id", &self.st.id.get())
            .field("label", &self.cfg.label())
            .field("phase", &self.st.phase)
            .field("attempts", &self.st.attempts)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use futures::FutureExt;

    use super::*;
    use crate::task::{AsyncTask, AsyncTaskBuilder, RetryPolicy, RetryStrategy};

    /// What attempt `n` (0-based) of a scripted work does.
    #[derive(Debug, Clone, Copy)]
    enum Act {
        Ok,
        Fail,
        Panic,
        PanicOnCall,
        Hang,
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Runs `builder` on `script` and reports everything a result shows but the label.
    async fn run(
        builder: AsyncTaskBuilder<u32, &'static str>,
        script: &'static [Act],
        expect_fast: bool,
    ) -> String {
        let calls = Arc::new(AtomicU32::new(0));
        let work = {
            let calls = Arc::clone(&calls);
            move || {
                let n = calls.fetch_add(1, Ordering::SeqCst) as usize;
                let act = script.get(n).copied().unwrap_or(Act::Ok);
                if let Act::PanicOnCall = act {
                    panic!("boom on call {n}");
                }
                async move {
                    tokio::task::yield_now().await;
                    match act {
                        Act::Ok | Act::PanicOnCall => Ok(7),
                        Act::Fail => Err("failed"),
                        Act::Panic => panic!("boom in poll {n}"),
                        Act::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            Ok(0)
                        }
                    }
                }
            }
        };
        let mut fut = std::pin::pin!(builder.run(work));
        // The first poll picks the path.
        let first = fut.as_mut().now_or_never();
        let fast = matches!(
            fut.st.phase,
            Phase::FastStart | Phase::FastAttempt | Phase::FastBackoff
        ) || (first.is_some() && fut.ext.is_none());
        assert_eq!(fast, expect_fast, "path taken");
        let r = match first {
            Some(r) => r,
            None => fut.await,
        };
        format!(
            "{:?} label={} attempts={} time={:?} recovered={} calls={}",
            r.as_result(),
            r.label(),
            r.attempts(),
            r.execution_time(),
            r.was_recovered(),
            calls.load(Ordering::SeqCst),
        )
    }

    /// The fast path gives exactly what the general path gives for every setting it
    /// accepts (a cancellation token nobody cancels sends the same task down the
    /// general path).
    #[tokio::test(start_paused = true)]
    async fn fast_path_matches_general_path() {
        use Act::*;
        let scripts: &[&'static [Act]] = &[
            &[Ok],
            &[Fail],
            &[Panic],
            &[PanicOnCall],
            &[Hang],
            &[Fail, Ok],
            &[Hang, Fail, Ok],
            &[Fail, Fail, Fail, Fail, Fail],
            &[Hang, Hang, Hang, Hang],
            &[Fail, Panic, Ok],
            &[Fail, PanicOnCall, Ok],
        ];
        let configs: Vec<fn() -> AsyncTaskBuilder<u32, &'static str>> = vec![
            || AsyncTask::to(),
            || AsyncTask::to().timeout(ms(500)),
            || AsyncTask::to().retry(2),
            || AsyncTask::to().name("named").tag("t").retry(2),
            || {
                AsyncTask::to()
                    .retry(3)
                    .timeout(ms(500))
                    // Panics retried too, timeouts not.
                    .retry_if(|e| !e.is_timeout())
            },
            || AsyncTask::to().timeout(ms(500)).retry(3),
            || AsyncTask::to().timeout(ms(500)).no_retry(),
            || {
                AsyncTask::to()
                    .timeout(ms(500))
                    .retry_strategy(RetryStrategy::Exponential {
                        base: ms(100),
                        factor: 2.0,
                        max: ms(1000),
                    })
                    .retry(3)
            },
            || {
                AsyncTask::to()
                    .timeout(ms(250))
                    .retry_strategy(RetryStrategy::Immediate)
            },
            || {
                AsyncTask::to().retry_policy(
                    RetryPolicy::new(RetryStrategy::Fixed(ms(300)))
                        .with_max_retries(4)
                        .with_max_elapsed(ms(1000)),
                )
            },
            || {
                AsyncTask::to().timeout(ms(400)).retry_policy(
                    RetryPolicy::new(RetryStrategy::Fixed(ms(300)))
                        .with_jitter(crate::task::Jitter::Full)
                        .with_max_retries(0),
                )
            },
        ];
        for script in scripts {
            for config in &configs {
                let fast = run(config(), script, true).await;
                let token = tokio_util::sync::CancellationToken::new();
                let general = run(config().cancellation_token(token), script, false).await;
                assert_eq!(fast, general, "script {script:?}");
            }
        }
    }

    /// A timeout too long for the clock is "never", not an overflow panic.
    #[tokio::test(start_paused = true)]
    async fn huge_timeout_does_not_overflow() {
        for builder in [
            AsyncTask::to().timeout(Duration::MAX),
            AsyncTask::to()
                .timeout(Duration::MAX)
                .name("n")
                .with_metrics(),
        ] {
            let r = builder
                .run(|| async {
                    tokio::task::yield_now().await;
                    Ok::<u32, &str>(1)
                })
                .await;
            assert_eq!(r.value(), Some(&1));
        }
    }

    /// Tasks that need the general path never take the fast one.
    #[tokio::test(start_paused = true)]
    async fn features_take_the_general_path() {
        let invalid = AsyncTask::to().timeout(Duration::ZERO);
        assert!(run(invalid, &[Act::Ok], false).await.contains("Config"));
        run(AsyncTask::to().with_metrics(), &[Act::Ok], false).await;
        run(AsyncTask::to().tracing(true), &[Act::Ok], false).await;
        let token = tokio_util::sync::CancellationToken::new();
        run(AsyncTask::to().cancellation_token(token), &[Act::Ok], false).await;
        run(
            AsyncTask::to().deadline(Instant::now() + ms(1)),
            &[Act::Ok],
            false,
        )
        .await;
        run(
            AsyncTask::to().wait_until(Instant::now()),
            &[Act::Ok],
            false,
        )
        .await;
        run(
            AsyncTask::to().recover_with(|e| async { Err(e) }),
            &[Act::Ok],
            false,
        )
        .await;
        run(AsyncTask::to().on_cancel(|| async {}), &[Act::Ok], false).await;
        let breaker = crate::task::CircuitBreaker::builder("b").build().unwrap();
        run(AsyncTask::to().circuit_breaker(breaker), &[Act::Ok], false).await;
        // Descriptive settings keep the fast path.
        let described = AsyncTask::to()
            .name("n")
            .description("d")
            .with_field("k", 1)
            .grace_period(ms(5));
        assert!(run(described, &[Act::Ok], true).await.contains("label=n"));
        // Inside the work of a task with a cancellation scope: joins that scope, so
        // takes the general path.
        let outer = AsyncTask::<&'static str>::to::<String>()
            .cancellation_token(tokio_util::sync::CancellationToken::new())
            .run(|| async { Ok(run(AsyncTask::to(), &[Act::Ok], false).await) })
            .await;
        assert!(outer.is_success());
    }
}
