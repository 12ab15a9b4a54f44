//! [`OrchestratorBuilder`]: validated configuration of an [`Orchestra`].

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;

use crate::error::ConfigError;
use crate::orchestra::{Orchestra, Runtime, TaskKey};
use crate::task::{MAX_RETRIES, RetryPolicy, RetryStrategy};

/// The concurrency limit when none is set.
pub const DEFAULT_MAX_CONCURRENT_TASKS: usize = 64;

/// What an orchestra does when a task fails for good (after its retries and recovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailureStrategy {
    /// Stop everything: running tasks are cancelled gracefully (their `on_cancel`
    /// cleanup runs, bounded by their grace period) and tasks not yet started are
    /// reported [`Cancelled`](crate::orchestra::TaskOutcome::Cancelled).
    FailFast,
    /// The failed task's dependents, direct and indirect, are reported
    /// [`Skipped`](crate::orchestra::TaskOutcome::Skipped) without running; every other
    /// task goes on. The default.
    #[default]
    ContinueSkipDependents,
    /// Everything goes on: a dependent runs once its dependencies have ended, whether
    /// they succeeded or not.
    ContinueAll,
}

/// Settings shared by an orchestra and the runs it starts.
#[derive(Debug, Clone)]
pub(crate) struct OrchestraConfig {
    pub(crate) handle: Handle,
    pub(crate) limit: usize,
    pub(crate) default_timeout: Option<Duration>,
    pub(crate) default_retry: Option<RetryPolicy>,
    pub(crate) failure: FailureStrategy,
    pub(crate) metrics: bool,
    pub(crate) tracing: bool,
}

/// Configures an [`Orchestra`]; [`build`](Self::build) validates everything at once.
///
/// The builder is immutable: each method returns an updated copy, so a configured builder
/// can be kept and used for several orchestras.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use sweet_async::orchestra::{FailureStrategy, Orchestra, OrchestratorBuilder};
/// use sweet_async::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let orchestra: Orchestra<u64> = OrchestratorBuilder::new()
///     .max_concurrent_tasks(4)                // e.g. four GPUs
///     .timeout(30.seconds())                  // per attempt, unless a task sets its own
///     .retry_failed_tasks(3)
///     .failure_strategy(FailureStrategy::FailFast)
///     .with_metrics()
///     .build()?;
/// assert_eq!(orchestra.max_concurrent_tasks(), 4);
///
/// // Invalid settings are errors, not panics or silent fallbacks.
/// let zero: Result<Orchestra<u64>, _> = OrchestratorBuilder::new()
///     .max_concurrent_tasks(0)
///     .build();
/// assert!(matches!(zero, Err(ConfigError::Zero { .. })));
/// let conflict: Result<Orchestra<u64>, _> = OrchestratorBuilder::new()
///     .retry_failed_tasks(3)
///     .no_retry()
///     .build();
/// assert!(matches!(conflict, Err(ConfigError::Conflict { .. })));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `.build()`"]
pub struct OrchestratorBuilder {
    handle: Option<Handle>,
    limit: Option<usize>,
    sequential: bool,
    default_timeout: Option<Duration>,
    default_retry: Option<RetryPolicy>,
    no_retry: bool,
    failure: FailureStrategy,
    metrics: Option<bool>,
    tracing: bool,
    invalid: Option<ConfigError>,
}

impl OrchestratorBuilder {
    /// Defaults: the current runtime, at most [`DEFAULT_MAX_CONCURRENT_TASKS`] tasks at
    /// once, no default timeout or retry, [`FailureStrategy::ContinueSkipDependents`],
    /// metrics on, tracing off.
    pub fn new() -> Self {
        OrchestratorBuilder::default()
    }

    fn invalid(mut self, e: ConfigError) -> Self {
        self.invalid.get_or_insert(e);
        self
    }

    /// Runs tasks on `handle` instead of the runtime current at `build()`.
    #[doc(alias = "with_handle")]
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.handle = Some(handle);
        self
    }

    /// Runs tasks on `runtime` (see [`RuntimeBuilder`](crate::orchestra::RuntimeBuilder)).
    pub fn with_runtime(self, runtime: &Runtime) -> Self {
        self.runtime(runtime.handle().clone())
    }

    /// At most `n` tasks run at once (attempts and recovery fallbacks; a task waiting for
    /// its dependencies, its start time or a retry backoff holds no slot). Zero is a
    /// [`ConfigError`] at `build()`.
    pub fn max_concurrent_tasks(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// One task at a time. Conflicts with `max_concurrent_tasks(n)` for `n > 1`.
    pub fn sequential(mut self) -> Self {
        self.sequential = true;
        self
    }

    /// Per-attempt timeout of tasks that set none. Zero is a [`ConfigError`].
    #[doc(alias = "default_timeout")]
    pub fn timeout(self, d: Duration) -> Self {
        match ConfigError::check_duration("orchestra timeout", d) {
            Ok(d) => OrchestratorBuilder {
                default_timeout: Some(d),
                ..self
            },
            Err(e) => self.invalid(e),
        }
    }

    /// Retry policy of tasks that set none.
    pub fn retry_policy(self, policy: RetryPolicy) -> Self {
        match policy.validate() {
            Ok(()) => OrchestratorBuilder {
                default_retry: Some(policy),
                ..self
            },
            Err(e) => self.invalid(e),
        }
    }

    /// Up to `n` retries, exponential backoff from 100 ms, for tasks that set none.
    /// More than [`MAX_RETRIES`] is a [`ConfigError`].
    pub fn retry_failed_tasks(self, n: u32) -> Self {
        if n > MAX_RETRIES {
            return self.invalid(ConfigError::OutOfRange {
                setting: "orchestra retry count",
                value: u64::from(n),
                min: 0,
                max: u64::from(MAX_RETRIES),
            });
        }
        let policy = self
            .default_retry
            .clone()
            .unwrap_or_else(|| {
                RetryPolicy::new(RetryStrategy::Exponential {
                    base: Duration::from_millis(100),
                    factor: 2.0,
                    max: Duration::from_secs(30),
                })
            })
            .with_max_retries(n);
        self.retry_policy(policy)
    }

    /// Tasks that set no retry policy are not retried. Conflicts with a default retry
    /// policy.
    pub fn no_retry(mut self) -> Self {
        self.no_retry = true;
        self
    }

    /// What happens when a task fails for good.
    pub fn failure_strategy(mut self, strategy: FailureStrategy) -> Self {
        self.failure = strategy;
        self
    }

    /// Records [`ExecutionStats`](crate::orchestra::ExecutionStats) (on by default).
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.metrics = Some(enabled);
        self
    }

    /// Same as `metrics(true)`.
    pub fn with_metrics(self) -> Self {
        self.metrics(true)
    }

    /// Emits a `tracing` event (target `sweet_async::orchestra`) when a task starts an
    /// attempt, is retried and ends (off by default).
    pub fn tracing(mut self, enabled: bool) -> Self {
        self.tracing = enabled;
        self
    }

    /// Same as `tracing(true)`.
    pub fn with_tracing(self) -> Self {
        self.tracing(true)
    }

    /// Validates the settings and builds an orchestra producing `T` (errors `E`, ids `I`).
    ///
    /// # Errors
    ///
    /// The first invalid setting; [`ConfigError::Zero`] for a zero concurrency limit;
    /// [`ConfigError::Conflict`] for `no_retry` with a retry policy, or `sequential`
    /// with a limit above one; [`ConfigError::Invalid`] (setting `"runtime"`) when no
    /// runtime was given and none is running.
    pub fn build<T, E, I>(self) -> Result<Orchestra<T, E, I>, ConfigError>
    where
        T: Send + 'static,
        E: Send + 'static,
        I: TaskKey,
    {
        self.config()
            .map(|cfg| Orchestra::with_config(Arc::new(cfg)))
    }

    pub(crate) fn config(self) -> Result<OrchestraConfig, ConfigError> {
        if let Some(e) = self.invalid {
            return Err(e);
        }
        if self.no_retry && self.default_retry.is_some() {
            return Err(ConfigError::Conflict {
                reason: "no_retry() together with a default retry policy".to_owned(),
            });
        }
        let limit = match (self.sequential, self.limit) {
            (_, Some(0)) => {
                return Err(ConfigError::Zero {
                    setting: "max concurrent tasks",
                });
            }
            (true, Some(n)) if n > 1 => {
                return Err(ConfigError::Conflict {
                    reason: format!("sequential() together with max_concurrent_tasks({n})"),
                });
            }
            (true, _) => 1,
            (false, Some(n)) => n,
            (false, None) => DEFAULT_MAX_CONCURRENT_TASKS,
        };
        let handle = match self.handle {
            Some(h) => h,
            None => Handle::try_current().map_err(|_| ConfigError::Invalid {
                setting: "runtime",
                reason: "no tokio runtime is running: build inside one, or pass one with \
                         runtime(handle) / with_runtime(&runtime)"
                    .to_owned(),
            })?,
        };
        Ok(OrchestraConfig {
            handle,
            limit,
            default_timeout: self.default_timeout,
            default_retry: if self.no_retry {
                Some(RetryPolicy::none())
            } else {
                self.default_retry
            },
            failure: self.failure,
            metrics: self.metrics.unwrap_or(true),
            tracing: self.tracing,
        })
    }
}
