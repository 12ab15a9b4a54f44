//! Spawning: [`TaskFuture::spawn`] and the [`TaskHandle`] it returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures::future::FusedFuture;
use tokio::runtime::Handle;
use tokio::task::{JoinError, JoinHandle};
use tokio::time::Instant;

use crate::error::{BoxError, ConfigError, TaskError, panic_message};
use crate::task::cancel::CancelNode;
use crate::task::id::LazyTaskId;
use crate::task::result::{RunMeta, TaskResult};
use crate::task::run::TaskFuture;
use crate::task::shared::TaskShared;
use crate::task::work::AsyncWork;
use crate::task::{
    CancellationLevel, CancellationResult, MetricsSnapshot, TaskId, TaskLabel, TaskMetrics,
    TaskPriority, TaskStatus,
};

impl<T, E, W> TaskFuture<T, E, W>
where
    W: AsyncWork<T, E> + Send + 'static,
    W::Future: Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    /// Spawns the task on the builder's runtime (see `runtime(..)`), else the current one.
    ///
    /// The task becomes a child of the task being polled, if any, and is cancelled with
    /// it. Dropping the handle detaches the task (as with tokio's `JoinHandle`).
    ///
    /// # Errors
    ///
    /// [`TaskError::NoRuntime`] when called outside a tokio runtime (never a panic), and
    /// [`TaskError::Config`] for an invalid setting: in both cases nothing runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// // Outside a runtime: a typed error, not a panic.
    /// let outside = AsyncTask::to::<u8>().run(|| async { Ok::<_, BoxError>(1) }).spawn();
    /// assert!(matches!(outside, Err(TaskError::NoRuntime)));
    ///
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// let value = rt.block_on(async {
    ///     let handle = AsyncTask::to::<u8>()
    ///         .name("background")
    ///         .run(|| async { Ok::<_, BoxError>(7) })
    ///         .spawn()
    ///         .unwrap();
    ///     handle.await.into_result().unwrap()
    /// });
    /// assert_eq!(value, 7);
    /// ```
    pub fn spawn(self) -> Result<TaskHandle<T, E>, TaskError<E>> {
        let handle = match self.config().cold().and_then(|c| c.runtime.as_ref()) {
            Some(h) => h.clone(),
            None => Handle::try_current().map_err(|_| TaskError::NoRuntime)?,
        };
        self.spawn_on(&handle)
    }

    /// Spawns the task on `runtime`.
    ///
    /// # Errors
    ///
    /// [`TaskError::Config`] for an invalid setting; nothing runs.
    pub fn spawn_on(mut self, runtime: &Handle) -> Result<TaskHandle<T, E>, TaskError<E>> {
        if let Some(err) = &self.config().invalid {
            return Err(TaskError::Config(ConfigError::clone(err)));
        }
        let node = match self.config().cold().and_then(|c| c.token.as_ref()) {
            Some(token) => CancelNode::linked(token),
            None => CancelNode::child_of_current().unwrap_or_else(CancelNode::root),
        };
        let shared = Arc::new(TaskShared::new(Arc::clone(&node)));
        let metrics = self.config().metrics.then(TaskMetrics::new);
        self.attach(node, Arc::clone(&shared), metrics.clone());
        let id = self.task_id();
        let label = self.config().label().cloned().unwrap_or_default();
        let priority = self.config().priority;
        let spawned_at = Instant::now();
        let join = runtime.spawn(self);
        Ok(TaskHandle {
            id,
            label,
            priority,
            join,
            done: None,
            taken: false,
            shared,
            metrics,
            spawned_at,
        })
    }
}

/// A spawned task: query it, cancel it, or await its [`TaskResult`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use sweet_async::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// // A long job whose cleanup runs when it is cancelled gracefully.
/// let mut job = AsyncTask::to::<()>()
///     .name("long-job")
///     .on_cancel(|| async { /* flush partial output, release locks */ })
///     .run(|| async {
///         tokio::time::sleep(Duration::from_secs(3600)).await;
///         Ok::<_, BoxError>(())
///     })
///     .spawn()
///     .unwrap();
/// tokio::time::sleep(Duration::from_secs(1)).await;
/// assert_eq!(job.status(), TaskStatus::Running);
/// let report = job.cancel(CancellationLevel::Graceful).await;
/// assert!(report.cleanup_ran);
/// assert_eq!(job.status(), TaskStatus::Cancelled);
/// assert!(job.await.error().unwrap().is_cancelled());
/// # }
/// ```
#[must_use = "dropping a handle detaches the task"]
#[doc(alias = "SpawningTask")]
pub struct TaskHandle<T, E = BoxError> {
    id: TaskId,
    label: TaskLabel,
    priority: TaskPriority,
    join: JoinHandle<TaskResult<T, E>>,
    done: Option<TaskResult<T, E>>,
    taken: bool,
    shared: Arc<TaskShared>,
    metrics: Option<TaskMetrics>,
    spawned_at: Instant,
}

impl<T, E> TaskHandle<T, E> {
    /// The task's id.
    pub fn task_id(&self) -> TaskId {
        self.id
    }

    /// The task's name, description and tags.
    pub fn label(&self) -> &TaskLabel {
        &self.label
    }

    /// The task's priority.
    pub fn priority(&self) -> TaskPriority {
        self.priority
    }

    /// The task's current status, read atomically while it runs.
    pub fn status(&self) -> TaskStatus {
        self.shared.status.get()
    }

    /// Attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.shared.attempts.load(Ordering::Relaxed)
    }

    /// `true` once the task has stopped (finished, failed, cancelled or aborted).
    pub fn is_finished(&self) -> bool {
        self.done.is_some() || self.taken || self.join.is_finished()
    }

    /// A metrics snapshot, when the task runs `.with_metrics()`; live while it runs.
    pub fn metrics(&self) -> Option<MetricsSnapshot> {
        self.metrics.as_ref().map(TaskMetrics::snapshot)
    }

    /// Runtime hook: the task's cancellation scope, to cancel it without the handle.
    pub(crate) fn cancel_node(&self) -> Arc<CancelNode> {
        Arc::clone(&self.shared.node)
    }

    /// Runtime hook: aborts the tokio task without the handle.
    pub(crate) fn abort_handle(&self) -> tokio::task::AbortHandle {
        self.join.abort_handle()
    }

    /// Aborts the task at once, like `cancel(KillHard)` without waiting.
    pub fn abort(&self) {
        self.shared.node.cancel(CancellationLevel::KillHard);
        self.join.abort();
    }

    /// Cancels the task (and every task started in its scope) and waits until it stopped.
    ///
    /// `Graceful` runs the `on_cancel` cleanup (bounded by the grace period), `Kill` stops
    /// it without cleanup, `KillHard` aborts the tokio task. Awaiting the handle afterwards
    /// yields the result, normally [`TaskError::Cancelled`].
    ///
    /// # Cancel safety
    ///
    /// Dropping this future after it started leaves the task cancelled; the result is
    /// still available by awaiting the handle.
    pub async fn cancel(&mut self, level: CancellationLevel) -> CancellationResult {
        let start = Instant::now();
        if self.is_finished() {
            if !self.taken && self.done.is_none() {
                let result = (&mut self.join).await;
                self.done = Some(self.convert(result));
            }
            return CancellationResult {
                level,
                cleanup_ran: false,
                cleanup_panicked: false,
                took: start.elapsed(),
                children_cancelled: 0,
                already_finished: true,
            };
        }
        let children_cancelled = self.shared.node.cancel(level);
        if level == CancellationLevel::KillHard {
            self.join.abort();
        }
        let joined = (&mut self.join).await;
        let result = self.convert(joined);
        let already_finished = !matches!(result.error(), Some(TaskError::Cancelled { .. }));
        self.done = Some(result);
        CancellationResult {
            level,
            cleanup_ran: self.shared.cleanup_ran.load(Ordering::Acquire),
            cleanup_panicked: self.shared.cleanup_panicked.load(Ordering::Acquire),
            took: start.elapsed(),
            children_cancelled,
            already_finished,
        }
    }

    /// The result of a tokio task that did not hand one back (aborted or panicked).
    fn convert(&self, joined: Result<TaskResult<T, E>, JoinError>) -> TaskResult<T, E> {
        match joined {
            Ok(result) => result,
            Err(err) => {
                let error = if err.is_cancelled() {
                    let _ = self.shared.status.transition(TaskStatus::Cancelled);
                    TaskError::Cancelled {
                        level: CancellationLevel::KillHard,
                    }
                } else {
                    let _ = self.shared.status.transition(TaskStatus::Failed);
                    match err.try_into_panic() {
                        Ok(payload) => TaskError::Panicked {
                            message: panic_message(&*payload),
                        },
                        Err(_) => TaskError::Cancelled {
                            level: CancellationLevel::KillHard,
                        },
                    }
                };
                let metrics = self.metrics.as_ref().map(|m| {
                    m.finish();
                    Box::new(m.snapshot())
                });
                TaskResult::new(
                    Err(error),
                    RunMeta {
                        task_id: LazyTaskId::fixed(self.id),
                        label: self.label.clone(),
                        priority: self.priority,
                        attempts: self.attempts(),
                        started: self.spawned_at,
                        execution_time: self.spawned_at.elapsed(),
                        recovered: false,
                        metrics,
                    },
                )
            }
        }
    }
}

// No field is ever pinned: the `JoinHandle` is `Unpin` and results are moved out by value.
impl<T, E> Unpin for TaskHandle<T, E> {}

impl<T, E> Future for TaskHandle<T, E> {
    type Output = TaskResult<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(done) = self.done.take() {
            self.taken = true;
            return Poll::Ready(done);
        }
        if self.taken {
            return Poll::Pending;
        }
        match Pin::new(&mut self.join).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(joined) => {
                self.taken = true;
                Poll::Ready(self.convert(joined))
            }
        }
    }
}

impl<T, E> FusedFuture for TaskHandle<T, E> {
    fn is_terminated(&self) -> bool {
        self.taken
    }
}

impl<T, E> fmt::Display for TaskHandle<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.label, f)
    }
}

impl<T, E> fmt::Debug for TaskHandle<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("id", &self.id)
            .field("label", &self.label)
            .field("status", &self.status())
            .field("attempts", &self.attempts())
            .finish_non_exhaustive()
    }
}
