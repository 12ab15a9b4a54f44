//! Integration tests of the chunk, error-handling and progress operators: one binary, one
//! module per operator.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod chunks;
mod chunks_timeout;
mod chunks_weighted;
mod inspect_progress;
mod partition_errors;
#[cfg(feature = "progress")]
mod progress_bar;
mod skip_errors;
mod stop_on_error;

#[path = "../support/mod.rs"]
mod support;

pub use support::{Boom, Counted, Producer, assert_bounded, assert_fused, ms, poll_once};

/// Every public type of the family is `Send` and `Sync` when its parts are.
#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    type Iter = futures::stream::Iter<std::vec::IntoIter<u32>>;
    type Results = futures::stream::Iter<std::vec::IntoIter<Result<u32, String>>>;
    use sweet_async::operators::*;
    send_sync::<Chunks<Iter>>();
    send_sync::<ChunksTimeout<Iter>>();
    send_sync::<ChunksWeighted<Iter, fn(&u32) -> usize>>();
    send_sync::<SkipErrors<Results>>();
    send_sync::<ErrorCount>();
    send_sync::<StopOnError<Results>>();
    send_sync::<PartitionErrors<Results, fn(u64, String)>>();
    send_sync::<InspectProgress<Iter, fn(&Progress)>>();
    send_sync::<Progress>();
    #[cfg(feature = "progress")]
    send_sync::<ProgressBar<Iter>>();
}
