//! Integration tests of the per-item resilience operators (retry, timeout, rate limit):
//! one binary, one module per operator.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod rate_limit;
mod retry_each;
mod timeout_each;

#[path = "../support/mod.rs"]
mod support;

pub use support::{Boom, Counted, Producer, assert_fused, ms, poll_once};

/// Every public type of the family is `Send` and `Sync` when its parts are.
#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    type Iter = futures::stream::Iter<std::vec::IntoIter<u32>>;
    use sweet_async::operators::*;
    send_sync::<TimeoutEach<Iter>>();
    send_sync::<Elapsed>();
    send_sync::<
        RetryEach<
            Iter,
            fn(&u32) -> futures::future::Ready<Result<u8, String>>,
            futures::future::Ready<Result<u8, String>>,
        >,
    >();
    send_sync::<RetryError<u32, String>>();
    send_sync::<RateLimit<Iter>>();
}
