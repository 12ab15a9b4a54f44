//! Kafka: a consumer-group source with contiguous offset commits, and a producer sink that
//! acknowledges only what the broker confirmed (feature `kafka`, with `rdkafka` over its
//! bundled librdkafka).
//!
//! # Scaling out
//!
//! Run the same program N times with the same group id: the group coordinator splits the
//! topic's partitions between the members, and moves them when a member joins, leaves or
//! dies. Each partition is read by one member at a time, in offset order, so a key's
//! records (one partition) are processed in order.
//!
//! # What the source guarantees
//!
//! **At least once.** Every event carries an [`Acks`](crate::ack::Acks) obligation for its
//! offset. The source commits, per partition, the smallest offset not yet acknowledged
//! (one past the last delivered one when all are): Kafka commits are cumulative, so an
//! event still in a window, or failed and not dead-lettered, holds the commit point. After
//! a crash or a rebalance the partition's next owner starts at the committed offset: nothing
//! is lost, and the events that were handled but not yet committed come again (counted as
//! duplicates by whoever checks).
//!
//! - **Commits** are asynchronous every [`commit_every`](KafkaSourceBuilder::commit_every)
//!   acknowledgements or [`commit_interval`](KafkaSourceBuilder::commit_interval); on
//!   revocation the committable offsets are committed before the group moves on; on
//!   [`close`](KafkaSourceHandle::close), synchronously. Offsets are committed as given
//!   (the next offset to read), never through `store_offset`, which adds one.
//! - **Rebalances.** Each assignment of a partition is a new epoch: acknowledgements that
//!   arrive after the partition was revoked are ignored (the new owner redelivers those
//!   events), and fetched messages not yet handed out are dropped.
//! - **Backpressure.** A partition with [`max_in_flight_per_partition`](KafkaSourceBuilder::max_in_flight_per_partition)
//!   events unacknowledged is paused, and resumed when half of them are: memory stays
//!   bounded however slow the pipeline is.
//! - **Rejections.** Kafka has no negative acknowledgement: a rejected event either goes to
//!   a dead-letter topic (and then counts as handled) or stops its partition with
//!   [`KafkaError::Rejected`]; it is never skipped silently ([`OnReject`]).
//! - **Event time.** [`KafkaMessage::timestamp`] is the record's Kafka timestamp, the
//!   natural input of [`event_time_window`](crate::operators::DataflowExt::event_time_window);
//!   any extractor of your own works the same way.
//!
//! The sink ([`KafkaSink::write`]) acknowledges the events behind a record once the broker
//! confirmed it, and keeps each key's records in order (idempotent producer).
//!
//! # Example
//!
//! Count orders per customer and minute, written to another topic; run it twice and the
//! two processes share the partitions:
//!
//! ```no_run
//! use sweet_async::ack::Acked;
//! use sweet_async::connectors::kafka::{self, KafkaRecord};
//! use sweet_async::operators::window::{Fold, KeepAcks, Tumbling, WindowEvent};
//! use sweet_async::prelude::*;
//! use futures::StreamExt;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (source, handle) = kafka::source("127.0.0.1:9092", "order-counts")
//!     .topic("orders")
//!     .build()?;
//! let sink = kafka::sink("127.0.0.1:9092", "order-counts").build()?;
//!
//! let windows = AsyncTask::emits::<kafka::KafkaMessage>()
//!     .sender(source)
//!     .filter_map(|event| async move { event.ok() }) // errors: log them in real code
//!     .key_by(|e| e.data.key_str().unwrap_or_default().to_owned())
//!     .event_time_window(Tumbling::event_time(60_000), |e| e.data.timestamp.unwrap_or(0))?
//!     .aggregate_windows(KeepAcks::new(Fold::new(0u64, |n, _| n + 1)));
//!
//! let summary = sink
//!     .write(windows, |w| match w {
//!         WindowEvent::Fired(w) => Ok(KafkaRecord::new(format!("{} {}", w.start, w.value.value))
//!             .key(w.key.clone())),
//!         WindowEvent::Late(e) => Ok(KafkaRecord::new("late").key(e.data.key.clone().unwrap_or_default())),
//!         WindowEvent::Error(e) => Err(e),
//!         _ => Err(TaskError::Failed("unexpected window event".into())),
//!     })
//!     .await?;
//! handle.close().await?;
//! println!("{summary}");
//! # Ok(())
//! # }
//! ```

mod assignment;
mod config;
mod context;
mod dead_letter;
mod error;
mod handle;
mod message;
mod pump;
mod record;
mod signal;
mod sink;
mod source;
mod stats;
mod tracker;

pub use config::{KafkaSourceBuilder, OnReject};
pub use error::KafkaError;
pub use handle::{KafkaSourceHandle, OwnedPartition};
pub use message::{KafkaHeader, KafkaMessage};
pub use record::KafkaRecord;
pub use sink::{KafkaSink, KafkaSinkBuilder, WriteKafka};
pub use source::KafkaStream;
pub use stats::KafkaSourceStats;
pub use tracker::PartitionOffsets;

/// A member of consumer group `group` on the cluster at `brokers` (`host:port`, comma
/// separated): configure the topics and policies, then [`build`](KafkaSourceBuilder::build).
pub fn source(brokers: impl Into<String>, group: impl Into<String>) -> KafkaSourceBuilder {
    KafkaSourceBuilder::new(brokers, group)
}

/// A producer writing to `topic` on the cluster at `brokers`; see [`KafkaSink`].
pub fn sink(brokers: impl Into<String>, topic: impl Into<String>) -> KafkaSinkBuilder {
    KafkaSinkBuilder::new(brokers, topic)
}
