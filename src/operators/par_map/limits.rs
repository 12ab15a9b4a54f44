//! [`Limits`]: the validated concurrency and output buffer of a parallel map.

use std::num::NonZeroUsize;

use crate::error::ConfigError;
use crate::units::Count;

/// Validated settings of a parallel-map operator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// At most this many calls (or batches, for the blocking variant) in flight.
    pub(crate) concurrency: NonZeroUsize,
    /// The output buffer `b`: at most `concurrency + b` items held at once.
    pub(crate) buffer: NonZeroUsize,
}

impl Limits {
    /// Concurrency `n` (checked, named `setting` in the error) and an output buffer of `n`.
    pub(crate) fn new(n: Count, setting: &'static str) -> Result<Self, ConfigError> {
        let concurrency = n.validate(setting)?;
        Ok(Limits {
            concurrency,
            buffer: concurrency,
        })
    }
}
