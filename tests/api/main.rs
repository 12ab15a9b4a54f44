//! Tests of the API a user meets: the preludes of `futures`, `tokio-stream` and this crate
//! together without a name clash, and every public error type behind `?`.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod errors;
mod infallible;
mod preludes;
