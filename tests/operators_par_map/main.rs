//! Integration tests of the parallel-map operators (`par_map`, `par_map_unordered`,
//! `par_map_blocking`): one binary, one module per operator, shared helpers here.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod par_map;
mod par_map_blocking;
mod par_map_unordered;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use futures::Stream;

/// Counts calls running at once and remembers the most seen.
#[derive(Debug, Default)]
pub struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
    started: AtomicUsize,
}

impl Gauge {
    /// A gauge at zero.
    pub fn new() -> Arc<Self> {
        Arc::new(Gauge::default())
    }

    /// Marks a call as running until the guard drops.
    pub fn enter(self: &Arc<Self>) -> GaugeGuard {
        self.started.fetch_add(1, SeqCst);
        let now = self.now.fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(now, SeqCst);
        GaugeGuard(Arc::clone(self))
    }

    /// Calls running now.
    pub fn now(&self) -> usize {
        self.now.load(SeqCst)
    }

    /// The most calls seen running at once.
    pub fn max(&self) -> usize {
        self.max.load(SeqCst)
    }

    /// Calls started so far.
    pub fn started(&self) -> usize {
        self.started.load(SeqCst)
    }
}

/// Leaves the gauge when dropped, whether the call finished or was cancelled.
#[derive(Debug)]
pub struct GaugeGuard(Arc<Gauge>);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, SeqCst);
    }
}

/// An endless upstream that counts the items pulled from it.
pub fn counted_naturals(pulled: Arc<AtomicUsize>) -> impl Stream<Item = u64> + Send + 'static {
    futures::stream::iter(0u64..).inspect(move |_| {
        pulled.fetch_add(1, SeqCst);
    })
}

use futures::StreamExt;

/// A deterministic pseudo-random delay in milliseconds, from 1 to `max`.
pub fn delay_ms(seed: u64, i: u64, max: u64) -> u64 {
    let mut h = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 31;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 29;
    1 + h % max
}
