//! [`Limits`]: the validated concurrency and output buffer of a parallel map.

use std::num::NonZeroUsize;

/// Validated settings of a parallel-map operator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// At most this many calls (or batches, for the blocking variant) in flight.
    pub(crate) concurrency: NonZeroUsize,
    /// The output buffer `b`: at most `concurrency + b` items held at once.
    pub(crate) buffer: NonZeroUsize,
}

impl Limits {
    /// Concurrency `n` and an output buffer of `n`.
    pub(crate) fn new(n: NonZeroUsize) -> Self {
        Limits {
            concurrency: n,
            buffer: n,
        }
    }
}
