//! Simple tasks: one unit of async work with timeout, retry, recovery, cancellation,
//! priority, tracing and metrics, as a `Future` adaptor.

pub mod async_result;
pub mod cancel;
mod id;
mod priority;
mod status;

pub use async_result::{AsyncResultExt, AwaitResult, IntoAsyncResult};
pub use cancel::{CancellationLevel, CancellationResult};
pub use id::{ParseTaskIdError, SequentialId, TaskId};
pub use priority::{RankableByPriority, TaskPriority};
pub use status::{InvalidTransition, StatusCell, TaskStatus};
