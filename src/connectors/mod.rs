//! Sources and sinks on real systems, each behind its cargo feature: NATS JetStream
//! (`nats`), PostgreSQL (`postgres`) and Kafka (`kafka`).
//!
//! Every source attaches an [`Acks`](crate::ack::Acks) obligation to what it emits, so
//! the receiver's `Ok`, or a sink's confirmed write, reaches the system the data came
//! from; every sink settles the obligations of what it wrote only after the server
//! confirmed it. Together they give at-least-once delivery: a process that dies loses
//! nothing, and what it had handled but not yet acknowledged comes again (see
//! [`ack`](crate::ack) for where duplicates can appear).
//!
//! Scaling out is the broker's job, not ours: run N copies of a pipeline on one durable
//! consumer (NATS), one consumer group (Kafka) or one work-queue table (PostgreSQL), and
//! the server splits the work between them.

#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub mod nats;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;

#[cfg(feature = "kafka")]
#[cfg_attr(docsrs, doc(cfg(feature = "kafka")))]
pub mod kafka;
