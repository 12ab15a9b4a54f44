//! [`split`]: the body of [`DataflowExt::partition`](crate::operators::DataflowExt::partition):
//! one channel and one operator chain per partition, and the start-up that spawns the
//! router and the drivers when the merged stream is first polled.

use std::hash::Hash;

use tokio::sync::mpsc;

use super::{CHANNEL_BATCHES, PartitionInput, Partitioned, Start, drive, route};
use crate::error::ConfigError;
use crate::operators::timed::TimedStream;
use crate::units::Count;

/// The most partitions a stream can be split into: each is a tokio task and a channel,
/// and a count read from a configuration file must not be able to exhaust memory.
pub const MAX_PARTITIONS: usize = 1 << 16;

/// Splits `upstream` into `n` partitions by `key`, each running the chain `chain` builds
/// for it; the chains are built now (their errors are this call's), the tasks spawned
/// when the merged stream is first polled.
pub(crate) fn split<S, K, KF, C, O>(
    upstream: S,
    n: Count,
    key: KF,
    mut chain: C,
) -> Result<Partitioned<O::Value>, ConfigError>
where
    S: TimedStream + Send + 'static,
    S::Value: Send + 'static,
    KF: FnMut(&S::Value) -> K + Send + 'static,
    K: Hash + 'static,
    C: FnMut(PartitionInput<S::Value>) -> Result<O, ConfigError>,
    O: TimedStream + Send + 'static,
    O::Value: Send + 'static,
{
    let n = n.validate("partitions")?.get();
    ConfigError::check_range("partitions", n as u64, 1, MAX_PARTITIONS as u64)?;
    let mut txs = Vec::with_capacity(n);
    let mut chains = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        txs.push(tx);
        chains.push(chain(PartitionInput::new(i, rx))?);
    }
    let start: Start<O::Value> = Box::new(move |handle| {
        // At most MAX_PARTITIONS * CHANNEL_BATCHES: no overflow.
        let (out, rx) = mpsc::channel(n.saturating_mul(CHANNEL_BATCHES));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, c) in chains.into_iter().enumerate() {
            tasks.spawn_on(drive(i, c, out.clone()), handle);
        }
        tasks.spawn_on(route(upstream, key, txs, out), handle);
        (tasks, rx)
    });
    Ok(Partitioned::new(n, start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::DataflowExt;

    fn split_into(n: usize) -> Result<usize, ConfigError> {
        let timed = futures::stream::iter([1i64, 2, 3]).with_watermarks(0, |t| *t)?;
        let parts = timed.partition(n, |t| *t, Ok)?;
        Ok(parts.partitions())
    }

    #[test]
    fn partition_counts_are_checked_before_anything_is_built() {
        assert_eq!(split_into(4), Ok(4));
        assert_eq!(split_into(MAX_PARTITIONS), Ok(MAX_PARTITIONS));
        assert_eq!(
            split_into(0),
            Err(ConfigError::Zero {
                setting: "partitions"
            })
        );
        // A count from a configuration file cannot allocate without bound.
        assert_eq!(
            split_into(usize::MAX),
            Err(ConfigError::OutOfRange {
                setting: "partitions",
                value: usize::MAX as u64,
                min: 1,
                max: MAX_PARTITIONS as u64,
            })
        );
    }
}
