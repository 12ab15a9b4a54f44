//! [`TaskResult`]: a task's outcome with its execution metadata.

use std::fmt;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::error::{BoxError, TaskError};
use crate::task::id::LazyTaskId;
use crate::task::timing::system_time_at;
use crate::task::{MetricsSnapshot, TaskId, TaskLabel, TaskPriority};

/// What awaiting a task yields: the value or the error, plus who ran, how often and when.
///
/// Not a `Result`: for `?`, call [`into_result()`](Self::into_result) on it, or await
/// [`TaskFuture::into_result`](crate::task::TaskFuture::into_result) instead of the task
/// (`run(..).into_result().await?`).
///
/// # Examples
///
/// ```
/// use sweet_async::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let result = AsyncTask::to::<u32>()
///     .name("answer")
///     .run(|| async { Ok::<_, std::io::Error>(42) })
///     .await;
/// assert!(result.is_success());
/// assert_eq!(result.value(), Some(&42));
/// assert_eq!(result.attempts(), 1);
/// assert!(result.completed_at() >= result.started_at());
/// let doubled = result.map(|v| v * 2);
/// assert_eq!(doubled.into_result().unwrap(), 84);
/// # }
/// ```
#[must_use = "a task result may hold an error"]
pub struct TaskResult<T, E = BoxError> {
    outcome: Result<T, TaskError<E>>,
    meta: RunMeta,
}

/// Execution metadata shared by results and handles.
#[derive(Debug, Clone)]
pub(crate) struct RunMeta {
    pub(crate) task_id: LazyTaskId,
    pub(crate) label: TaskLabel,
    pub(crate) priority: TaskPriority,
    pub(crate) attempts: u32,
    /// When the first poll happened, on the tokio clock.
    pub(crate) started: Instant,
    pub(crate) execution_time: Duration,
    pub(crate) recovered: bool,
    pub(crate) metrics: Option<Box<MetricsSnapshot>>,
}

impl<T, E> TaskResult<T, E> {
    pub(crate) fn new(outcome: Result<T, TaskError<E>>, meta: RunMeta) -> Self {
        TaskResult { outcome, meta }
    }

    /// The value, if the task succeeded.
    pub fn value(&self) -> Option<&T> {
        self.outcome.as_ref().ok()
    }

    /// The error, if the task failed.
    pub fn error(&self) -> Option<&TaskError<E>> {
        self.outcome.as_ref().err()
    }

    /// `true` when the task produced a value (possibly through its recovery fallback).
    pub fn is_success(&self) -> bool {
        self.outcome.is_ok()
    }

    /// `true` when the task failed.
    pub fn is_error(&self) -> bool {
        self.outcome.is_err()
    }

    /// The outcome as a plain `Result`, for `?`.
    pub fn into_result(self) -> Result<T, TaskError<E>> {
        self.outcome
    }

    /// The outcome by reference.
    pub fn as_result(&self) -> Result<&T, &TaskError<E>> {
        self.outcome.as_ref()
    }

    /// The id of the task that produced this result.
    pub fn task_id(&self) -> TaskId {
        self.meta.task_id.get()
    }

    /// The task's name, description and tags.
    pub fn label(&self) -> &TaskLabel {
        &self.meta.label
    }

    /// The task's priority.
    pub fn priority(&self) -> TaskPriority {
        self.meta.priority
    }

    /// Attempts made (1 without retries; 0 when no attempt could start).
    pub fn attempts(&self) -> u32 {
        self.meta.attempts
    }

    /// Wall-clock time the task started (first poll).
    pub fn started_at(&self) -> SystemTime {
        system_time_at(self.meta.started)
    }

    /// Wall-clock time the task finished: `started_at + execution_time`.
    pub fn completed_at(&self) -> SystemTime {
        let start = self.started_at();
        start.checked_add(self.meta.execution_time).unwrap_or(start)
    }

    /// Time from the first poll to completion (waits, retries, backoff and recovery
    /// included), measured on the tokio clock.
    pub fn execution_time(&self) -> Duration {
        self.meta.execution_time
    }

    /// `true` when the value came from the `recover_with` fallback.
    pub fn was_recovered(&self) -> bool {
        self.meta.recovered
    }

    /// The final metrics, when the task ran `.with_metrics()`.
    pub fn metrics(&self) -> Option<&MetricsSnapshot> {
        self.meta.metrics.as_deref()
    }

    /// Transforms the value, keeping the error and the metadata.
    pub fn map<U, F: FnOnce(T) -> U>(self, f: F) -> TaskResult<U, E> {
        TaskResult {
            outcome: self.outcome.map(f),
            meta: self.meta,
        }
    }

    /// Transforms the user's error type, keeping the metadata.
    pub fn map_err<E2, F: FnMut(E) -> E2>(self, f: F) -> TaskResult<T, E2> {
        TaskResult {
            outcome: self.outcome.map_err(|e| e.map_user_error(f)),
            meta: self.meta,
        }
    }
}

impl<T, E> From<TaskResult<T, E>> for Result<T, TaskError<E>> {
    fn from(r: TaskResult<T, E>) -> Self {
        r.outcome
    }
}

impl<T: fmt::Debug, E: fmt::Debug> fmt::Debug for TaskResult<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskResult")
            .field("outcome", &self.outcome)
            .field("task_id", &self.meta.task_id.get())
            .field("label", &self.meta.label)
            .field("attempts", &self.meta.attempts)
            .field("execution_time", &self.meta.execution_time)
            .field("recovered", &self.meta.recovered)
            .finish_non_exhaustive()
    }
}
