//! [`AttemptPlan`]: a task's settings split for a runner that schedules the attempts
//! itself (the orchestra), so that runner reads no private field of `TaskConfig`.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::ConfigError;
use crate::task::config::{Recover, TaskConfig};
use crate::task::retry::RetryIf;
use crate::task::{AsyncTaskBuilder, RetryPolicy, TaskId, TaskLabel, TaskPriority};

/// What a runner of attempts needs: the settings of one attempt, and what it decides
/// itself between attempts (retries, recovery, start time, deadline).
pub(crate) struct AttemptPlan<T, E> {
    /// Settings for one attempt: no retries, no recovery, no delayed start.
    pub(crate) attempt: TaskConfig<T, E>,
    /// Nothing but the work: no timeout, breaker, tracing, metrics, cleanup or scope
    /// settings, so an attempt can run without the `TaskFuture` machinery.
    pub(crate) plain: bool,
    pub(crate) priority: TaskPriority,
    pub(crate) label: TaskLabel,
    /// Fixed in advance (`None`: drawn when first read).
    pub(crate) task_id: Option<TaskId>,
    pub(crate) retry: RetryPolicy,
    pub(crate) retry_if: Option<RetryIf<E>>,
    pub(crate) recover: Option<Recover<T, E>>,
    pub(crate) start_at: Option<Instant>,
    pub(crate) deadline: Option<Instant>,
}

impl<T, E> TaskConfig<T, E> {
    /// Every setting at its default.
    pub(crate) fn defaults() -> Self {
        AsyncTaskBuilder::new().cfg
    }

    /// A builder holding these settings again (to run the work wrapped).
    pub(crate) fn into_builder(self) -> AsyncTaskBuilder<T, E> {
        AsyncTaskBuilder { cfg: self }
    }

    /// The task's priority.
    pub(crate) fn priority(&self) -> TaskPriority {
        self.priority
    }

    /// The timeout of each attempt, if any.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Splits the settings for a runner of attempts; a timeout or retry policy the task
    /// did not set comes from the runner's defaults.
    ///
    /// # Errors
    ///
    /// The first invalid setting the builder recorded.
    pub(crate) fn plan_attempts(
        mut self,
        default_timeout: Option<Duration>,
        default_retry: Option<&RetryPolicy>,
    ) -> Result<AttemptPlan<T, E>, ConfigError> {
        if let Some(err) = self.invalid.take() {
            return Err(*err);
        }
        if self.timeout.is_none() {
            self.timeout = default_timeout;
        }
        let retry = match (self.retries_set, default_retry) {
            (false, Some(policy)) => policy.clone(),
            _ => self.retry.clone(),
        };
        let plain = self.cold.is_none()
            && self.timeout.is_none()
            && !self.metrics
            && self.record_error.is_none();
        // A plain attempt never reads the id: draw it only when someone asks.
        let task_id = if plain {
            self.id
        } else {
            Some(*self.id.get_or_insert_with(TaskId::new))
        };
        let cold = self.cold();
        let retry_if = cold.and_then(|c| c.retry_if.clone());
        let recover = cold.and_then(|c| c.recover.clone());
        let start_at = cold.and_then(|c| c.start_at).map(|t| t.to_instant());
        let deadline = cold.and_then(|c| c.deadline).map(|t| t.to_instant());
        let label = self.label().cloned().unwrap_or_default();
        let mut attempt = self;
        attempt.retry = RetryPolicy::none();
        attempt.retries_set = true;
        if recover.is_some() || start_at.is_some() {
            if let Some(cold) = &attempt.cold {
                let mut c = (**cold).clone();
                c.recover = None;
                c.start_at = None;
                attempt.cold = Some(Arc::new(c));
            }
        }
        Ok(AttemptPlan {
            priority: attempt.priority,
            attempt,
            plain,
            label,
            task_id,
            retry,
            retry_if,
            recover,
            start_at,
            deadline,
        })
    }
}
