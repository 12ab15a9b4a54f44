//! Kafka connector tests against librdkafka's mock cluster (in-process, on loopback
//! ports; no broker to install): consumer groups, rebalances, contiguous commits,
//! backpressure, rejections, the sink, and a multi-process crash test.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod group;
mod multiprocess;
mod sink;
mod source;
