//! Simple tasks: one unit of async work with timeout, retry, recovery, cancellation,
//! priority, tracing and metrics, as a `Future` adaptor.

pub mod cancel;
mod id;
pub mod metrics;
mod priority;
mod status;

pub use cancel::{CancellationLevel, CancellationResult};
pub use id::{ParseTaskIdError, SequentialId, TaskId};
pub use metrics::{CpuUsage, IoUsage, MemoryUsage, MetricsSnapshot, TaskMetrics};
pub use priority::{RankableByPriority, TaskPriority};
pub use status::{InvalidTransition, StatusCell, TaskStatus};
