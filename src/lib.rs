//! sweet-async: async dataflow on tokio.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod task;

/// The names most programs need, in one import.
pub mod prelude {
    pub use crate::error::{BoxError, ConfigError, TaskError};
    pub use crate::task::{
        CancellationLevel, CancellationResult, RankableByPriority, TaskId, TaskPriority,
        TaskStatus,
    };
}
