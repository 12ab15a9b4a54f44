//! Simple tasks: one unit of async work with timeout, retry, recovery, cancellation,
//! priority, tracing and metrics, as a `Future` adaptor.

pub mod cancel;
pub mod circuit;
mod id;
mod priority;
pub mod retry;
mod status;

pub use cancel::{CancellationLevel, CancellationResult};
pub use circuit::{
    CircuitBreaker, CircuitBreakerBuilder, CircuitOpen, CircuitPermit, CircuitState,
};
pub use id::{ParseTaskIdError, SequentialId, TaskId};
pub use priority::{RankableByPriority, TaskPriority};
pub use retry::{Backoff, Jitter, MAX_RETRIES, RetryPolicy, RetryStrategy};
pub use status::{InvalidTransition, StatusCell, TaskStatus};
