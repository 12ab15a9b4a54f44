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
mod retry_decision;
mod spawn;
mod timing;
mod tracing_spans;

#[path = "../support/mod.rs"]
mod support;

pub use support::Boom;
