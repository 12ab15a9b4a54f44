//! [`AsyncTaskBuilder`]: the immutable fluent configuration of a simple task.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::error::{BoxError, ConfigError, TaskError};
use crate::task::config::{DEFAULT_GRACE_PERIOD, TaskConfig};
use crate::task::trace;
use crate::task::{
    CircuitBreaker, MAX_RETRIES, RetryPolicy, RetryStrategy, TaskId, TaskLabel, TaskPriority,
    TimePoint,
};

/// Configures a simple task; `.run(work)` turns it into a future.
///
/// Every method takes the builder by value and returns the updated builder, so a
/// configured builder can be kept and cloned (a few `Arc` clones) to run many tasks.
/// Invalid settings (a zero timeout, a retry count over [`MAX_RETRIES`]) never panic:
/// the first one is kept, [`validate`](Self::validate) reports it, and running the task
/// yields [`TaskError::Config`] without calling the work.
///
/// Create one with [`AsyncTask::to`](crate::task::AsyncTask::to).
#[must_use = "a builder does nothing until `.run(..)` is awaited or spawned"]
pub struct AsyncTaskBuilder<T, E = BoxError> {
    pub(in crate::task) cfg: TaskConfig<T, E>,
}

impl<T, E> Clone for AsyncTaskBuilder<T, E> {
    fn clone(&self) -> Self {
        AsyncTaskBuilder {
            cfg: self.cfg.clone(),
        }
    }
}

impl<T, E> Default for AsyncTaskBuilder<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> AsyncTaskBuilder<T, E> {
    /// A builder with defaults: no name, no timeout, no retries, normal priority,
    /// tracing and metrics off.
    #[inline]
    pub fn new() -> Self {
        AsyncTaskBuilder {
            cfg: TaskConfig {
                id: None,
                priority: TaskPriority::Normal,
                timeout: None,
                retry: RetryPolicy::default(),
                retries_set: false,
                record_error: None,
                metrics: false,
                invalid: None,
                cold: None,
            },
        }
    }

    fn invalid(mut self, err: ConfigError) -> Self {
        self.cfg.invalid.get_or_insert_with(|| Box::new(err));
        self
    }

    /// Names the task (shown in `Display`, spans and results).
    #[doc(alias = "with_name")]
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.cfg.cold_mut().label.set_name(name.into());
        self
    }

    /// Describes the task.
    #[doc(alias = "with_description")]
    pub fn description(mut self, text: impl Into<Arc<str>>) -> Self {
        self.cfg.cold_mut().label.set_description(text.into());
        self
    }

    /// Adds one tag.
    #[doc(alias = "with_tag")]
    pub fn tag(mut self, tag: impl Into<Arc<str>>) -> Self {
        self.cfg.cold_mut().label.push_tag(tag.into());
        self
    }

    /// Adds several tags.
    #[doc(alias = "with_tags")]
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Arc<str>>,
    {
        let label = &mut self.cfg.cold_mut().label;
        for t in tags {
            label.push_tag(t.into());
        }
        self
    }

    /// Uses `id` instead of a fresh random one.
    #[doc(alias = "with_id")]
    pub fn id(mut self, id: TaskId) -> Self {
        self.cfg.id = Some(id);
        self
    }

    /// Bounds each attempt: an attempt still running after `d` fails with
    /// [`TaskError::Timeout`] (and may be retried). Zero is a [`ConfigError`].
    ///
    /// # Examples
    ///
    /// An API call with a strict SLA of 5 seconds:
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let result = AsyncTask::to::<String>()
    ///     .name("user-profile-fetch")
    ///     .timeout(5.seconds())
    ///     .run(|| async {
    ///         tokio::time::sleep(Duration::from_secs(60)).await; // a hung backend
    ///         Ok::<_, std::io::Error>(String::from("profile"))
    ///     })
    ///     .await;
    /// assert!(result.error().unwrap().is_timeout());
    /// assert_eq!(result.execution_time(), 5.seconds());
    /// # }
    /// ```
    #[doc(alias = "with_timeout")]
    #[inline]
    pub fn timeout(mut self, d: Duration) -> Self {
        match ConfigError::check_duration("timeout", d) {
            Ok(d) => {
                self.cfg.timeout = Some(d);
                self
            }
            Err(e) => self.invalid(e),
        }
    }

    /// Bounds the whole task (waits, attempts, backoff): at `at` it stops with
    /// [`TaskError::DeadlineExceeded`].
    ///
    /// # Examples
    ///
    /// A batch job that must finish before a coordinated deployment:
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let deployment_start = SystemTime::now() + 30.minutes();
    /// let migration = AsyncTask::to::<u32>()
    ///     .deadline(deployment_start)
    ///     .timeout(25.minutes())
    ///     .run(|| async { Ok::<_, std::io::Error>(12) })
    ///     .await;
    /// assert_eq!(migration.value(), Some(&12));
    /// # }
    /// ```
    #[doc(alias = "with_deadline")]
    pub fn deadline(mut self, at: impl Into<TimePoint>) -> Self {
        self.cfg.cold_mut().deadline = Some(at.into());
        self
    }

    /// Delays the first attempt until `at`.
    #[doc(alias = "schedule_at")]
    pub fn wait_until(mut self, at: impl Into<TimePoint>) -> Self {
        self.cfg.cold_mut().start_at = Some(at.into());
        self
    }

    /// Same as [`wait_until`](Self::wait_until).
    pub fn schedule_at(self, at: impl Into<TimePoint>) -> Self {
        self.wait_until(at)
    }

    /// Retries up to `n` times after the first attempt (0 = no retries), with the
    /// current backoff (exponential from 100 ms unless set). More than
    /// [`MAX_RETRIES`] is a [`ConfigError`].
    ///
    /// # Examples
    ///
    /// Retries of a flaky call, each after an exponential backoff:
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let calls = AtomicU32::new(0);
    /// let result = AsyncTask::to::<&str>()
    ///     .retry(3)
    ///     .run(|| {
    ///         let n = calls.fetch_add(1, Ordering::SeqCst);
    ///         async move { if n < 2 { Err("503") } else { Ok("200 OK") } }
    ///     })
    ///     .await;
    /// assert_eq!(result.value(), Some(&"200 OK"));
    /// assert_eq!(result.attempts(), 3);
    /// // Slept 100 ms, then 200 ms.
    /// assert_eq!(result.execution_time(), 300.millis());
    /// # }
    /// ```
    #[inline]
    pub fn retry(mut self, n: u32) -> Self {
        if n > MAX_RETRIES {
            return self.invalid(ConfigError::OutOfRange {
                setting: "retry count",
                value: u64::from(n),
                min: 0,
                max: u64::from(MAX_RETRIES),
            });
        }
        self.cfg.retry.set_max_retries(n);
        self.cfg.retries_set = true;
        self
    }

    /// No retries (the default).
    ///
    /// # Examples
    ///
    /// A schema migration must never run twice:
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let migration = AsyncTask::to::<()>()
    ///     .name("schema-migration-v2")
    ///     .timeout(300.seconds())
    ///     .no_retry()
    ///     .run(|| async { Err::<(), _>("constraint violation at statement 7") })
    ///     .await;
    /// assert_eq!(migration.attempts(), 1);
    /// assert!(matches!(migration.error(), Some(TaskError::Failed(_))));
    /// # }
    /// ```
    pub fn no_retry(self) -> Self {
        self.retry(0)
    }

    /// Sets the backoff between retries; keeps a retry count set with
    /// [`retry`](Self::retry), else allows 3 retries.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    /// use sweet_async::task::RetryStrategy;
    ///
    /// let training = AsyncTask::<std::io::Error>::to::<u64>()
    ///     .name("train-llm")
    ///     .timeout(2.hours())
    ///     .retry_strategy(RetryStrategy::Exponential {
    ///         base: Duration::from_secs(30),
    ///         factor: 1.5,
    ///         max: 10.minutes(),
    ///     });
    /// assert_eq!(training.get_retry_policy().max_retries(), 3);
    /// assert!(training.validate().is_ok());
    /// ```
    #[inline]
    pub fn retry_strategy(mut self, strategy: RetryStrategy) -> Self {
        if let Err(e) = strategy.validate() {
            return self.invalid(e);
        }
        let retries = if self.cfg.retries_set {
            self.cfg.retry.max_retries()
        } else {
            3
        };
        // Jitter and time budget stay as they were.
        self.cfg.retry.set_strategy(strategy, retries);
        self
    }

    /// Replaces the whole retry policy: backoff, jitter, retry count and time budget.
    ///
    /// # Examples
    ///
    /// A database connection with exponential backoff, jitter and a one-minute budget:
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    /// use sweet_async::task::{Jitter, RetryPolicy, RetryStrategy};
    ///
    /// let policy = RetryPolicy::new(RetryStrategy::Exponential {
    ///     base: Duration::from_millis(100),
    ///     factor: 2.0,
    ///     max: Duration::from_secs(5),
    /// })
    /// .with_jitter(Jitter::Full)
    /// .with_max_retries(5)
    /// .with_max_elapsed(1.minutes());
    /// let connect = AsyncTask::<std::io::Error>::to::<()>().retry_policy(policy);
    /// assert!(connect.validate().is_ok());
    /// ```
    #[doc(alias = "with_retry_config")]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        if let Err(e) = policy.validate() {
            return self.invalid(e);
        }
        self.cfg.retry = policy;
        self.cfg.retries_set = true;
        self
    }

    /// Decides which errors are worth another attempt.
    ///
    /// Without it, user errors ([`TaskError::Failed`]) and timeouts are retried, panics
    /// are not. Cancellation, a passed deadline, an open circuit and configuration errors
    /// are never retried, whatever the predicate says.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// #[derive(Debug)]
    /// enum ApiError { RateLimited, NotFound }
    /// # impl std::fmt::Display for ApiError {
    /// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
    /// # }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let result = AsyncTask::to::<()>()
    ///     .retry(5)
    ///     // A 404 will not get better by asking again.
    ///     .retry_if(|err| !matches!(err.user_error(), Some(ApiError::NotFound)))
    ///     .run(|| async { Err::<(), _>(ApiError::NotFound) })
    ///     .await;
    /// assert_eq!(result.attempts(), 1);
    /// # let _ = ApiError::RateLimited;
    /// # }
    /// ```
    #[doc(alias = "can_recover_from")]
    pub fn retry_if<P>(mut self, predicate: P) -> Self
    where
        P: Fn(&TaskError<E>) -> bool + Send + Sync + 'static,
    {
        self.cfg.cold_mut().retry_if = Some(Arc::new(predicate));
        self
    }

    /// A fallback run once when the task has failed for good (after retries).
    ///
    /// It gets the error and returns the value to use instead, or an error: return
    /// `Err(err)` to pass the original error on unchanged. It does not run when the task
    /// was cancelled or misconfigured.
    ///
    /// # Examples
    ///
    /// A microservice call falling back to a cached response:
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let response = AsyncTask::to::<String>()
    ///     .timeout(10.seconds())
    ///     .recover_with(|error| async move {
    ///         match error {
    ///             TaskError::Timeout { .. } => Ok(String::from("cached response")),
    ///             other => Err(other), // anything else stays an error
    ///         }
    ///     })
    ///     .run(|| async {
    ///         tokio::time::sleep(60.seconds()).await;
    ///         Ok::<_, std::io::Error>(String::from("fresh response"))
    ///     })
    ///     .await;
    /// assert_eq!(response.value().map(String::as_str), Some("cached response"));
    /// assert!(response.was_recovered());
    /// # }
    /// ```
    pub fn recover_with<F, Fut>(mut self, fallback: F) -> Self
    where
        F: Fn(TaskError<E>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, TaskError<E>>> + Send + 'static,
        T: 'static,
        E: 'static,
    {
        self.cfg.cold_mut().recover = Some(Arc::new(move |err| Box::pin(fallback(err))));
        self
    }

    /// Guards every attempt with a circuit breaker, usually shared by many tasks. An open
    /// circuit fails fast with [`TaskError::CircuitOpen`] without calling the work.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    /// use sweet_async::task::CircuitBreaker;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), ConfigError> {
    /// let breaker = CircuitBreaker::builder("payments").failure_threshold(2).build()?;
    /// for _ in 0..2 {
    ///     let _ = AsyncTask::to::<()>()
    ///         .circuit_breaker(breaker.clone())
    ///         .run(|| async { Err::<(), _>("gateway error") })
    ///         .await;
    /// }
    /// // Open now: the next call fails fast without running its work.
    /// let fast = AsyncTask::to::<()>()
    ///     .circuit_breaker(breaker.clone())
    ///     .run(|| async { Ok::<(), &str>(()) })
    ///     .await;
    /// assert!(matches!(fast.error(), Some(TaskError::CircuitOpen { .. })));
    /// assert_eq!(fast.attempts(), 0);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "with_circuit_breaker")]
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.cfg.cold_mut().breaker = Some(breaker);
        self
    }

    /// Sets the priority (used by schedulers; recorded on spans and results).
    #[doc(alias = "with_priority")]
    pub fn priority(mut self, priority: TaskPriority) -> Self {
        self.cfg.priority = priority;
        self
    }

    /// Emits a `task` span (name, id, priority, fields) with a child `attempt` span per
    /// attempt; failures are recorded on the spans as events and an `error` field.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let user_id = 42;
    /// let result = AsyncTask::to::<u32>()
    ///     .name("api-request")
    ///     .tracing(true)
    ///     .with_field("endpoint", "/api/users/{id}")
    ///     .with_field("user_id", user_id)
    ///     .run(|| async {
    ///         tracing::info!("inside the task and attempt spans");
    ///         Ok::<_, std::io::Error>(200)
    ///     })
    ///     .await;
    /// assert!(result.is_success());
    /// # }
    /// ```
    pub fn tracing(mut self, enabled: bool) -> Self
    where
        E: fmt::Display,
    {
        self.cfg.record_error = enabled.then_some(trace::record_error::<E>);
        self
    }

    /// Adds a field to the task's span (shown as `key=value` in its `fields`).
    pub fn with_field(mut self, key: impl Into<Arc<str>>, value: impl fmt::Display) -> Self {
        let cold = self.cfg.cold_mut();
        let mut fields: Vec<(Arc<str>, String)> =
            cold.fields.as_deref().unwrap_or_default().to_vec();
        fields.push((key.into(), value.to_string()));
        cold.fields = Some(fields.into());
        self
    }

    /// Cleanup run when the task is cancelled gracefully, bounded by the grace period.
    pub fn on_cancel<F, Fut>(mut self, cleanup: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.cfg.cold_mut().on_cancel = Some(Arc::new(move || Box::pin(cleanup())));
        self
    }

    /// How long the `on_cancel` cleanup may run (default [`DEFAULT_GRACE_PERIOD`]).
    /// Zero is a [`ConfigError`].
    pub fn grace_period(mut self, d: Duration) -> Self {
        match ConfigError::check_duration("grace period", d) {
            Ok(d) => {
                self.cfg.cold_mut().grace = d;
                self
            }
            Err(e) => self.invalid(e),
        }
    }

    /// Cancels the task (gracefully) when `token` is cancelled.
    pub fn cancellation_token(mut self, token: CancellationToken) -> Self {
        self.cfg.cold_mut().token = Some(token);
        self
    }

    /// Records poll count, poll time, thread CPU time, I/O and (with the
    /// `memory-tracking` feature) memory per task; off and free by default.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    /// use sweet_async::task::metrics;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let result = AsyncTask::to::<usize>()
    ///     .with_metrics()
    ///     .run(|| async {
    ///         let data = vec![0u8; 4096]; // stands in for a file read
    ///         metrics::record_read(data.len() as u64, Duration::from_micros(80));
    ///         Ok::<_, std::io::Error>(data.len())
    ///     })
    ///     .await;
    /// let m = result.metrics().unwrap();
    /// assert_eq!(m.io().bytes_read(), 4096);
    /// assert_eq!(m.cpu().poll_count(), 1);
    /// # }
    /// ```
    pub fn with_metrics(mut self) -> Self {
        self.cfg.metrics = true;
        self
    }

    /// Adds a typed dependency the work reads with
    /// [`TaskContext::get`](crate::task::TaskContext::get) (see [`run_with`](Self::run_with)).
    pub fn with<D: Send + Sync + 'static>(mut self, dependency: D) -> Self {
        let cold = self.cfg.cold_mut();
        cold.context = std::mem::take(&mut cold.context).insert(dependency);
        self
    }

    /// Sets the working directory reported by
    /// [`TaskContext::working_dir`](crate::task::TaskContext::working_dir).
    pub fn working_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        let cold = self.cfg.cold_mut();
        cold.context = std::mem::take(&mut cold.context).with_working_dir(dir.into());
        self
    }

    /// Spawns on `handle` instead of the current runtime.
    #[doc(alias = "with_runtime")]
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.cfg.cold_mut().runtime = Some(handle);
        self
    }

    /// The task's name, description and tags.
    pub fn label(&self) -> &TaskLabel {
        static UNNAMED: TaskLabel = TaskLabel::EMPTY;
        self.cfg.label().unwrap_or(&UNNAMED)
    }

    /// The configured priority.
    pub fn get_priority(&self) -> TaskPriority {
        self.cfg.priority
    }

    /// The configured per-attempt timeout.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.cfg.timeout
    }

    /// The configured retry policy.
    pub fn get_retry_policy(&self) -> &RetryPolicy {
        &self.cfg.retry
    }

    /// The first invalid setting, if any.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of the first invalid setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match &self.cfg.invalid {
            Some(e) => Err(ConfigError::clone(e)),
            None => Ok(()),
        }
    }

    /// Checks the settings and returns the builder, for `?` before running.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of the first invalid setting.
    pub fn build(self) -> Result<Self, ConfigError> {
        self.validate().map(|()| self)
    }
}

impl<T, E> fmt::Display for AsyncTaskBuilder<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.label(), f)
    }
}

impl<T, E> fmt::Debug for AsyncTaskBuilder<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.cfg;
        let cold = c.cold();
        f.debug_struct("AsyncTaskBuilder")
            .field("label", self.label())
            .field("priority", &c.priority)
            .field("timeout", &c.timeout)
            .field("deadline", &cold.and_then(|c| c.deadline))
            .field("start_at", &cold.and_then(|c| c.start_at))
            .field("retry", &c.retry)
            .field("retry_if", &cold.is_some_and(|c| c.retry_if.is_some()))
            .field("recover", &cold.is_some_and(|c| c.recover.is_some()))
            .field(
                "breaker",
                &cold
                    .and_then(|c| c.breaker.as_ref())
                    .map(|b| b.name().clone()),
            )
            .field("tracing", &c.record_error.is_some())
            .field("on_cancel", &cold.is_some_and(|c| c.on_cancel.is_some()))
            .field("grace", &cold.map_or(DEFAULT_GRACE_PERIOD, |c| c.grace))
            .field("metrics", &c.metrics)
            .field("invalid", &c.invalid)
            .finish_non_exhaustive()
    }
}
