//! Keyed parallelism: a timed stream split by key into partitions, each running its own
//! operator chain on its own tokio task, the outputs merged; and [`FanOut`], one stream
//! read once by several branches.
//!
//! The prose and examples live on
//! [`DataflowExt::partition`](crate::operators::DataflowExt::partition) and
//! [`DataflowExt::fan_out`](crate::operators::DataflowExt::fan_out).

use std::fmt;

mod fan_out;
mod input;
mod merge;
mod router;
mod split;

pub use fan_out::FanOut;
pub(crate) use fan_out::fan_out;
pub use input::PartitionInput;
pub use merge::Partitioned;
pub(crate) use merge::Start;
pub use router::partition_of;
pub(crate) use router::{drive, route};
pub use split::MAX_PARTITIONS;
pub(crate) use split::split;

/// Elements (or watermarks) sent to a partition, or out of one, in one message: large
/// enough that waking the receiving thread is rare next to the work on the items.
pub(crate) const BATCH: usize = 2048;
/// Batches waiting in each channel, at most.
pub(crate) const CHANNEL_BATCHES: usize = 4;
/// Elements the router routes between two broadcasts of the watermark to every partition.
pub(crate) const BROADCAST_EVERY: u32 = 8192;
/// At a broadcast, a partition's buffer is sent at once only if it holds fewer items than
/// this (a partition that receives few elements); fuller ones are sent when they fill.
pub(crate) const SLOW_PARTITION: usize = BATCH / 4;

/// Why a partitioned stream stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionError {
    /// The operator chain of a partition panicked; the other partitions were stopped.
    Panicked {
        /// The partition, `0..n`.
        partition: usize,
        /// The panic message.
        message: String,
    },
    /// Upstream or the key function panicked while the router pulled and routed.
    RouterPanicked {
        /// The panic message.
        message: String,
    },
    /// A partition's task stopped without finishing its chain (the runtime shut down).
    Stopped {
        /// The partition.
        partition: usize,
    },
    /// First polled outside a tokio runtime: nothing was spawned or pulled.
    NoRuntime,
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionError::Panicked { partition, message } => {
                write!(f, "partition {partition} panicked: {message}")
            }
            PartitionError::RouterPanicked { message } => {
                write!(f, "partition router panicked: {message}")
            }
            PartitionError::Stopped { partition } => {
                write!(f, "partition {partition} stopped before its input ended")
            }
            PartitionError::NoRuntime => {
                f.write_str("partitioned stream polled outside a tokio runtime")
            }
        }
    }
}

impl std::error::Error for PartitionError {}

/// What travels from the partitions to the merged output.
pub(crate) enum Msg<U> {
    /// Outputs of one partition, in its order.
    Batch(usize, Vec<crate::operators::timed::Timed<U>>),
    /// The partition's chain ended.
    Done(usize),
    /// A partition or the router failed.
    Failed(PartitionError),
}
