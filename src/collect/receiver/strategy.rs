//! [`ReceiverStrategy`]: how many events a receiver stage works on at once.

use std::num::NonZeroUsize;

use crate::error::ConfigError;
use crate::units::Count;

/// How many events a [`receiver`](crate::collect::ReceiverExt::receiver) processes at
/// once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ReceiverStrategy {
    /// One event at a time, in order, polled inline (no task is spawned).
    #[default]
    Serial,
    /// Up to `workers` events at once, each on its own tokio task (so CPU work runs in
    /// parallel); outputs come in completion order. Without a tokio runtime the events
    /// run concurrently on the polling task instead.
    Parallel {
        /// The most events in flight.
        workers: NonZeroUsize,
    },
}

impl ReceiverStrategy {
    /// [`Parallel`](Self::Parallel) with `workers` events in flight at most.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `workers` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::collect::ReceiverStrategy;
    ///
    /// assert_eq!(ReceiverStrategy::parallel(8).map(|s| s.workers()), Ok(8));
    /// assert!(ReceiverStrategy::parallel(0).is_err());
    /// ```
    pub fn parallel(workers: impl Into<Count>) -> Result<Self, ConfigError> {
        Ok(ReceiverStrategy::Parallel {
            workers: workers.into().validate("receiver workers")?,
        })
    }

    /// The most events in flight: 1 for [`Serial`](Self::Serial).
    pub fn workers(&self) -> usize {
        match self {
            ReceiverStrategy::Serial => 1,
            ReceiverStrategy::Parallel { workers } => workers.get(),
        }
    }
}
