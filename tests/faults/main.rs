//! Faults a careless caller or an attacker can provoke: each one must end as a typed
//! error (or a documented, bounded behaviour), never a panic, a hang, an abort or a lost
//! count. One module per kind of fault (issue 13).

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod arguments;
mod bounds;
mod counts;
mod panics;
mod security;
mod sources;
