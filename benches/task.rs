//! Placeholder replaced by the task bench.
fn main() {}
