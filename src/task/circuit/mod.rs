//! Circuit breaker: one shared guard that makes every task calling a failing
//! dependency fail fast, then lets a few trial calls probe for recovery.

mod breaker;
mod config;

pub use breaker::{CircuitBreaker, CircuitOpen, CircuitPermit, CircuitState};
pub use config::CircuitBreakerBuilder;
