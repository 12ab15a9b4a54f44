//! Integration tests of simple tasks: one binary, one module per concern.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod blocking;
mod breaker;
mod cancel;
mod config;
mod context;
mod metrics;
mod recover;
mod retry;
mod spawn;
mod timing;
mod tracing_spans;

use std::fmt;

/// A user error for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boom(pub &'static str);

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Boom {}
