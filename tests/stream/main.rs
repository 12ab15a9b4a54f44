//! Integration tests of emitting tasks and collectors: one binary, one module per concern.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod acks;
mod backpressure;
mod cancel_drop;
mod collectors;
mod csv_positions;
mod csv_source;
mod events;
mod lines_source;
mod panics;
mod props;
mod sources;
mod summary;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fixture file of `tests/data/`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

/// Counts live values: increments when made, decrements when dropped.
#[derive(Debug)]
pub struct DropFlag(pub Arc<AtomicUsize>);

impl DropFlag {
    /// A new live value counted in `live`.
    pub fn new(live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        DropFlag(live.clone())
    }
}

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
