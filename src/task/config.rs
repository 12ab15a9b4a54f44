//! [`TaskConfig`]: everything a task builder holds, moved into the task future; the
//! settings most tasks never set live behind one `Arc` ([`ColdConfig`]).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::error::{ConfigError, TaskError};
use crate::task::context::TaskContext;
use crate::task::retry::RetryIf;
use crate::task::{CircuitBreaker, RetryPolicy, TaskId, TaskLabel, TaskPriority, TimePoint};

pub(crate) type Recover<T, E> =
    Arc<dyn Fn(TaskError<E>) -> BoxFuture<'static, Result<T, TaskError<E>>> + Send + Sync>;
pub(crate) type OnCancel = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;
pub(crate) type RecordError<E> = fn(&tracing::Span, &TaskError<E>);
/// `key=value` pairs shown on the task's span.
pub(crate) type SpanFields = Arc<[(Arc<str>, String)]>;

/// Default bound on the `on_cancel` cleanup of a graceful cancellation.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

/// Everything a builder holds; moved into the task future.
///
/// The settings every task reads sit inline; the rest live behind one `Arc`, allocated
/// only when one of them is set, so a plain task stays small and cheap to move.
pub(crate) struct TaskConfig<T, E> {
    pub(in crate::task) id: Option<TaskId>,
    pub(in crate::task) priority: TaskPriority,
    pub(in crate::task) timeout: Option<Duration>,
    pub(in crate::task) retry: RetryPolicy,
    pub(in crate::task) retries_set: bool,
    pub(in crate::task) record_error: Option<RecordError<E>>,
    pub(in crate::task) metrics: bool,
    pub(in crate::task) invalid: Option<Box<ConfigError>>,
    pub(in crate::task) cold: Option<Arc<ColdConfig<T, E>>>,
}

/// Settings most tasks never touch.
pub(crate) struct ColdConfig<T, E> {
    pub(in crate::task) label: TaskLabel,
    pub(in crate::task) deadline: Option<TimePoint>,
    pub(in crate::task) start_at: Option<TimePoint>,
    pub(in crate::task) retry_if: Option<RetryIf<E>>,
    pub(in crate::task) recover: Option<Recover<T, E>>,
    pub(in crate::task) breaker: Option<CircuitBreaker>,
    pub(in crate::task) fields: Option<SpanFields>,
    pub(in crate::task) on_cancel: Option<OnCancel>,
    pub(in crate::task) grace: Duration,
    pub(in crate::task) token: Option<CancellationToken>,
    pub(in crate::task) context: TaskContext,
    pub(in crate::task) runtime: Option<Handle>,
}

impl<T, E> Default for ColdConfig<T, E> {
    fn default() -> Self {
        ColdConfig {
            label: TaskLabel::default(),
            deadline: None,
            start_at: None,
            retry_if: None,
            recover: None,
            breaker: None,
            fields: None,
            on_cancel: None,
            grace: DEFAULT_GRACE_PERIOD,
            token: None,
            context: TaskContext::default(),
            runtime: None,
        }
    }
}

impl<T, E> ColdConfig<T, E> {
    /// Whether only settings that describe the task are set (label, span fields,
    /// context, runtime, grace period without cleanup), none that changes how it runs:
    /// such a task can take the fast path.
    pub(crate) fn descriptive_only(&self) -> bool {
        self.deadline.is_none()
            && self.start_at.is_none()
            && self.recover.is_none()
            && self.breaker.is_none()
            && self.on_cancel.is_none()
            && self.token.is_none()
    }
}

impl<T, E> Clone for ColdConfig<T, E> {
    fn clone(&self) -> Self {
        ColdConfig {
            label: self.label.clone(),
            deadline: self.deadline,
            start_at: self.start_at,
            retry_if: self.retry_if.clone(),
            recover: self.recover.clone(),
            breaker: self.breaker.clone(),
            fields: self.fields.clone(),
            on_cancel: self.on_cancel.clone(),
            grace: self.grace,
            token: self.token.clone(),
            context: self.context.clone(),
            runtime: self.runtime.clone(),
        }
    }
}

impl<T, E> Clone for TaskConfig<T, E> {
    fn clone(&self) -> Self {
        TaskConfig {
            id: self.id,
            priority: self.priority,
            timeout: self.timeout,
            retry: self.retry.clone(),
            retries_set: self.retries_set,
            record_error: self.record_error,
            metrics: self.metrics,
            invalid: self.invalid.clone(),
            cold: self.cold.clone(),
        }
    }
}

impl<T, E> TaskConfig<T, E> {
    /// The rarely used settings, if any was set.
    pub(crate) fn cold(&self) -> Option<&ColdConfig<T, E>> {
        self.cold.as_deref()
    }

    /// The rarely used settings, for writing (copy-on-write when the builder was cloned).
    pub(in crate::task) fn cold_mut(&mut self) -> &mut ColdConfig<T, E> {
        Arc::make_mut(self.cold.get_or_insert_with(Default::default))
    }

    /// The label, or the empty one.
    pub(crate) fn label(&self) -> Option<&TaskLabel> {
        self.cold().map(|c| &c.label)
    }
}
