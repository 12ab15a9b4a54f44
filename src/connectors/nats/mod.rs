//! NATS JetStream: a durable pull consumer as a source ([`JetStreamSource`]) and a
//! publishing sink ([`publish`]), with at-least-once delivery between them.
//!
//! # The source
//!
//! [`JetStreamSource::builder`] reads a stream through a durable pull consumer with
//! explicit acks (looked up, or created). Each event carries a [`Delivery`] (subject,
//! payload, headers, stream and consumer sequence, delivery count, publish time), or
//! what [`map`](JetStreamSource::map) made of it, and owes the server a verdict:
//!
//! - the receiver's `Ok`, or a sink's confirmed write, sends `+ACK`;
//! - a failure (`Err`, a panic, a failed mapping, a failed publish) sends `-NAK` with the
//!   configured [`nak_delay`](JetStreamSourceBuilder::nak_delay): the server redelivers it
//!   with a delivery count one higher;
//! - a failure at the [`max_deliver`](JetStreamSourceBuilder::max_deliver)-th delivery sends
//!   `+TERM`: a poison message is not redelivered again;
//! - a delivery still in flight gets a progress ack (`+WPI`) every half `ack_wait`
//!   ([`progress_every`](JetStreamSourceBuilder::progress_every)), so a slow event, or one
//!   held by an open window, is not redelivered while it is being handled;
//! - an event dropped without a verdict (the pipeline stopped) is released: `-NAK`.
//!
//! Chunks ([`into_chunks`](JetStreamSource::into_chunks)) and windows
//! ([`KeepAcks`](crate::operators::window::KeepAcks)) merge their deliveries' obligations
//! and settle them together when their output was handled.
//!
//! The process never holds more than
//! [`max_ack_pending`](JetStreamSourceBuilder::max_ack_pending) deliveries without a
//! verdict: a pull request asks for no more than the room left, and the stream pulls again
//! only when verdicts were sent. Verdicts are queued by whoever settles the event (never
//! blocking it) and sent by a task of the source, which keeps running while the source's
//! stream, a [`JetStreamHandle`] or an unsettled event lives; at the end of a pipeline
//! call [`JetStreamHandle::flush`] so that the last verdicts reached the server before
//! the process exits. Counters: [`JetStreamHandle::stats`].
//!
//! Several processes reading one durable consumer split its messages between them.
//!
//! # The sink
//!
//! [`publish`] publishes any stream whose items carry acknowledgements ([`TakeAcks`]),
//! awaiting the server's confirmation of each message (pipelined, a bounded number in
//! flight), and settles an item's obligations only then: acknowledged once stored,
//! rejected when the publish failed. Set a message id ([`Publish::message_id`]) derived
//! from the input and the stream drops the duplicates a redelivery would write again.
//!
//! # The guarantee
//!
//! At least once: nothing is acknowledged before it was handled, so a process that dies
//! loses nothing. What it had handled but whose `+ACK` had not reached the server comes
//! again (to it, or to another process on the same consumer), with a delivery count above
//! 1: at most `max_ack_pending` deliveries per process that dies. A delivery that stays in
//! flight longer than `ack_wait` without progress acks is redelivered too.
//!
//! [`TakeAcks`]: crate::ack::TakeAcks
//!
//! # Examples
//!
//! ```no_run
//! use std::time::Duration;
//! use sweet_async::collect::Collector;
//! use sweet_async::connectors::nats::{JetStreamSource, NatsError};
//! use sweet_async::prelude::*;
//!
//! # async fn run() -> Result<(), NatsError> {
//! let js = sweet_async::connectors::nats::connect("nats://127.0.0.1:4222").await?;
//! let source = JetStreamSource::builder(js, "ORDERS", "billing")
//!     .max_ack_pending(512)
//!     .nak_delay(Duration::from_secs(5))
//!     .max_deliver(5)
//!     .build()
//!     .await?
//!     .map(|d| std::str::from_utf8(&d.payload).map(str::to_owned));
//! let handle = source.handle();
//! let summary = AsyncTask::emits::<String>()
//!     .sender(source)
//!     .receiver(ReceiverStrategy::Serial, |order, _: Collector<(), ()>| async move {
//!         // bill the order; `Ok` acknowledges it, `Err` has it redelivered in 5 s
//!         Ok::<_, std::io::Error>(order.data.len())
//!     })
//!     .await_final_event(|summary, _| summary)
//!     .await;
//! handle.flush().await?; // the last acks reached the server
//! println!("{summary}; {}", handle.stats());
//! # Ok(())
//! # }
//! ```

mod config;
mod delivery;
mod error;
mod fetch;
mod sink;
mod source;
mod stats;
mod tracker;

pub use config::JetStreamSourceBuilder;
pub use delivery::Delivery;
pub use error::NatsError;
pub use sink::{Publish, Publisher, publish};
pub use source::{JetStreamHandle, JetStreamSource, JetStreamStream};
pub use stats::JetStreamStats;

/// Connects to the NATS server at `url` and returns its JetStream context.
///
/// # Errors
///
/// [`NatsError::Connect`] naming the address when the server cannot be reached.
pub async fn connect(url: &str) -> Result<async_nats::jetstream::Context, NatsError> {
    let client = async_nats::connect(url)
        .await
        .map_err(|e| NatsError::Connect {
            url: url.to_owned(),
            source: Box::new(e),
        })?;
    Ok(async_nats::jetstream::new(client))
}
