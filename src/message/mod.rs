//! Typed messages between tasks.
