//! Simple tasks: one unit of async work with timeout, retry, recovery, cancellation,
//! priority, tracing and metrics, as a `Future` adaptor.
//!
//! [`AsyncTask::to`] starts an [`AsyncTaskBuilder`]; `.run(|| async { .. })` turns it into
//! a [`TaskFuture`] that resolves to a [`TaskResult`]; `.spawn()` runs it in the
//! background and returns a [`TaskHandle`].

pub mod async_result;
pub(crate) mod attempt;
mod builder;
pub mod cancel;
pub mod circuit;
mod config;
mod context;
mod id;
mod label;
pub mod metrics;
mod plan;
mod priority;
mod result;
pub mod retry;
mod run;
mod shared;
mod spawn;
mod start;
mod status;
pub(crate) mod timing;
mod trace;
mod work;

use std::marker::PhantomData;

use crate::error::BoxError;

pub use async_result::{AsyncResultExt, AwaitResult, IntoAsyncResult};
pub use builder::AsyncTaskBuilder;
pub use cancel::{CancellationLevel, CancellationResult};
pub use circuit::{
    CircuitBreaker, CircuitBreakerBuilder, CircuitOpen, CircuitPermit, CircuitState,
};
pub use config::DEFAULT_GRACE_PERIOD;
pub use context::{MissingDependency, TaskContext};
pub use id::{ParseTaskIdError, SequentialId, TaskId};
pub use label::TaskLabel;
pub use metrics::{CpuUsage, IoUsage, MemoryUsage, MetricsSnapshot, TaskMetrics};
pub use priority::{RankableByPriority, TaskPriority};
pub use result::TaskResult;
pub use retry::{Backoff, Jitter, MAX_RETRIES, RetryPolicy, RetryStrategy};
pub use run::TaskFuture;
pub use spawn::TaskHandle;
pub use status::{InvalidTransition, StatusCell, TaskStatus};
pub use timing::TimePoint;
/// The token [`cancellation_token`](AsyncTaskBuilder::cancellation_token) takes, re-exported
/// so signatures can name it without depending on `tokio-util`.
pub use tokio_util::sync::CancellationToken;
pub use work::{AsyncWork, BlockingAttempt, BlockingWork};

// Crate-internal names the orchestra needs to split a task into attempts it schedules
// itself and to rebuild the task's final result.
pub(crate) use config::{Recover, TaskConfig};
pub(crate) use id::LazyTaskId;
pub(crate) use plan::AttemptPlan;
pub(crate) use result::RunMeta;
pub(crate) use shared::TaskShared;

/// Entry point of the fluent API: `AsyncTask::to::<T>()` configures a simple task.
///
/// `E` is the error type of the work; it is inferred from the closure given to `run`.
/// When nothing fixes it (a builder kept for later, or work that never returns an error
/// value), name it: `AsyncTask::<MyError>::to::<T>()`; the compiler asks for it rather
/// than guessing.
///
/// # Examples
///
/// An API client with a timeout per call and three retries:
///
/// ```
/// use std::time::Duration;
/// use sweet_async::prelude::*;
///
/// #[derive(Debug)]
/// struct ApiResponse { status: u16 }
///
/// async fn call_external_api() -> Result<ApiResponse, std::io::Error> {
///     Ok(ApiResponse { status: 200 })
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let response = AsyncTask::to::<ApiResponse>()
///     .name("external-api-call")
///     .timeout(45.seconds())
///     .retry(3)
///     .run(|| call_external_api())
///     .await;
/// assert_eq!(response.value().map(|r| r.status), Some(200));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncTask<E = BoxError>(PhantomData<fn() -> E>);

impl<E> AsyncTask<E> {
    /// A builder for a task producing `T`.
    pub fn to<T>() -> AsyncTaskBuilder<T, E> {
        AsyncTaskBuilder::new()
    }
}
