//! sweet-async: async dataflow on tokio.

pub mod error;
pub mod task;
pub mod units;

/// The names most programs need, in one import.
pub mod prelude {
    pub use crate::error::{BoxError, ConfigError, TaskError};
    pub use crate::task::{
        AsyncResultExt, AwaitResult, CancellationLevel, CancellationResult, IntoAsyncResult,
        RankableByPriority, TaskId, TaskPriority, TaskStatus,
    };
    pub use crate::units::{Count, CountExt, SizeExt, TimeExt};
}
