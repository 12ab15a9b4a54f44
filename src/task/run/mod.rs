//! [`TaskFuture`]: the future of a configured task.
//!
//! One hand-written state machine drives the whole task: optional delayed start, then
//! attempts (each under the timeout, the circuit breaker and the task's cancellation
//! scope), backoff sleeps between them, the recovery fallback, and the graceful-cancel
//! cleanup. The work future is stored inline (no boxing); only the rarely used fallback
//! and cleanup futures are boxed.
//!
//! The pieces every task uses live in `parts.rs`: starting an attempt (counted, its
//! timeout armed, the work called with panics caught), polling it (panics caught, the
//! timeout watched), and the retry decision after a failure
//! ([`RetryState`](crate::task::retry::RetryState)). Two drivers put them together. A
//! task with nothing but a timeout, retries and descriptive settings, not spawned and not
//! inside another task's scope, takes the fast path (`fast.rs`): attempts and backoff, no
//! check for the features it cannot have. Everything else takes the general path
//! (`general.rs`), whose extra state the fast path never allocates. Both give
//! the same results for the tasks the fast path accepts (tested below).

mod fast;
mod general;
mod parts;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::FusedFuture;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use self::general::Extras;
use self::parts::{Parts, Phase, RunState};
use crate::task::cancel::CancelNode;
use crate::task::config::TaskConfig;
use crate::task::id::LazyTaskId;
use crate::task::result::TaskResult;
use crate::task::retry::RetryState;
use crate::task::shared::TaskShared;
use crate::task::work::AsyncWork;
use crate::task::{TaskId, TaskMetrics};

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
