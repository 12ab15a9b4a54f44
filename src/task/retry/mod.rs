//! Retry policies: delay strategies, jitter, and the per-run backoff sequence.

mod backoff;
mod jitter;
mod policy;
mod state;
mod strategy;

pub use backoff::Backoff;
pub use jitter::Jitter;
pub use policy::RetryPolicy;
pub use strategy::RetryStrategy;

pub(crate) use state::{RetryIf, RetryState, recoverable};

/// The largest retry count a [`RetryPolicy`] accepts.
pub const MAX_RETRIES: u32 = 100;
