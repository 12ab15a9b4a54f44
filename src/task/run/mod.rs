//! [`TaskFuture`]: the future of a configured task.
//!
//! One hand-written state machine drives the whole task: optional delayed start, then
//! attempts (each under the timeout, the circuit breaker and the task's cancellation
//! scope), backoff sleeps between them, the recovery fallback, and the graceful-cancel
//! cleanup. The work future is stored inline (no boxing); only the rarely used fallback
//! and cleanup futures are boxed.
//!
//! The pieces every task uses live here: starting an attempt (counted, its timeout armed,
//! the work called with panics caught), polling it (panics caught, the timeout watched),
//! and the retry decision after a failure ([`RetryState`]). Two drivers put them
//! together. A task with nothing but a timeout, retries and descriptive settings, not
//! spawned and not inside another task's scope, takes the fast path ([`fast`]): attempts
//! and backoff, no check for the features it cannot have. Everything else takes the
//! general path ([`general`]), whose extra state the fast path never allocates. Both give
//! the same results for the tasks the fast path accepts (tested below).

mod fast;
mod general;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::FusedFuture;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tracing::Span;

use self::general::Extras;
use crate::error::TaskError;
use crate::task::attempt::{caught, poll_caught};
use crate::task::cancel::CancelNode;
use crate::task::config::TaskConfig;
use crate::task::id::LazyTaskId;
use crate::task::result::{RunMeta, TaskResult};
use crate::task::retry::RetryState;
use crate::task::shared::TaskShared;
use crate::task::timing::{after, arm_in};
use crate::task::work::AsyncWork;
use crate::task::{MetricsSnapshot, TaskId, TaskLabel, TaskMetrics};

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
        // `None` until the first poll and on the fast path; `Some` on the general path.
        ext: Option<Extras<T, E>>,
    }
}

/// Where the state machine stands. The fast path uses `Start`, `Attempt` and `Backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
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
struct RunState {
    phase: Phase,
    id: LazyTaskId,
    retry: RetryState,
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
                retry: RetryState::default(),
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

impl<T, E, W: AsyncWork<T, E>> Future for TaskFuture<T, E, W> {
    type Output = TaskResult<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match (self.st.phase, self.ext.is_some()) {
            (Phase::Done, _) => Poll::Pending,
            (Phase::Init, false) => {
                let (mut this, ext) = split(self.project());
                if !fast::eligible(&mut this, ext) {
                    return general::poll(this, ext, cx);
                }
                this.st.retry.start(Instant::now());
                this.st.phase = Phase::Start;
                fast::poll(&mut this, cx)
            }
            (_, false) => fast::poll(&mut split(self.project()).0, cx),
            (_, true) => {
                let (this, ext) = split(self.project());
                general::poll(this, ext, cx)
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

/// Arms `timer` for `at` ([`arm_in`]); [`TaskError::NoRuntime`] when no runtime with a
/// time driver is running.
#[inline]
fn arm<E>(timer: Pin<&mut Option<Sleep>>, at: Instant) -> Result<(), TaskError<E>> {
    if arm_in(timer, at) {
        Ok(())
    } else {
        Err(TaskError::NoRuntime)
    }
}

/// Polls `timer`: `None` when none is armed.
#[inline]
fn poll_timer(timer: Pin<&mut Option<Sleep>>, cx: &mut Context<'_>) -> Option<Poll<()>> {
    timer.as_pin_mut().map(|sleep| sleep.poll(cx))
}

/// Whether the armed `timer` has fired (`false` when none is armed).
#[inline]
fn fired(timer: Pin<&mut Option<Sleep>>, cx: &mut Context<'_>) -> bool {
    matches!(poll_timer(timer, cx), Some(Poll::Ready(())))
}

/// Whether a sleep (a delayed start, a backoff) is still under way: its timer is armed
/// and has not fired.
#[inline]
fn waiting(timer: Pin<&mut Option<Sleep>>, cx: &mut Context<'_>) -> bool {
    matches!(poll_timer(timer, cx), Some(Poll::Pending))
}

/// Starts an attempt: counts it, arms its timeout and calls the work (inside `scope`),
/// then `phase` is `Attempt`. `NoRuntime` when the timeout cannot be armed (nothing was
/// called), `Panicked` when the call panicked.
#[inline(always)]
fn begin_attempt<T, E, W: AsyncWork<T, E>>(
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
fn poll_attempt<T, E, W: AsyncWork<T, E>>(
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
fn schedule_retry<T, E, W: AsyncWork<T, E>>(
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
fn task_result<T, E, W: AsyncWork<T, E>>(
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
            .field("attempts", &self.st.retry.attempts())
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
        // The general path makes its state at the first poll; the fast path never does.
        let fast = fut.ext.is_none();
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
