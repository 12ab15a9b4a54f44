//! [`Delivery`]: one delivery of a JetStream message, with what the server said about it.

use std::time::SystemTime;

use async_nats::jetstream;
use async_nats::{HeaderMap, Subject};
use bytes::Bytes;

/// One delivery of a JetStream message: its subject, payload and headers, where it is in
/// the stream and the consumer, and how many times it was delivered.
///
/// The payload of a [`JetStreamSource`](super::JetStreamSource)'s events, or what its
/// [`map`](super::JetStreamSource::map) closure reads. A `delivered` count above 1 means
/// the message came before and was rejected, released, or not acknowledged within the
/// consumer's `ack_wait`: a duplicate, if its first delivery had been handled.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// The subject the message was published to.
    pub subject: Subject,
    /// The message body.
    pub payload: Bytes,
    /// The message headers, if any.
    pub headers: Option<HeaderMap>,
    /// The message's sequence number in the stream: its identity.
    pub stream_sequence: u64,
    /// The delivery's sequence number in the consumer (grows with redeliveries).
    pub consumer_sequence: u64,
    /// How many times the message was delivered, this delivery included (1 the first time).
    pub delivered: u64,
    /// Messages the server still had pending for the consumer after this one.
    pub pending: u64,
    /// When the server stored the message.
    pub published: SystemTime,
}

impl Delivery {
    /// The delivery and its reply (ack) subject, or `None` when the message is not a
    /// JetStream delivery (no `$JS.ACK` reply subject).
    pub(super) fn from_message(message: jetstream::Message) -> Option<(Delivery, Subject)> {
        let info = message.info().ok()?;
        let (stream_sequence, consumer_sequence, delivered, pending, published) = (
            info.stream_sequence,
            info.consumer_sequence,
            u64::try_from(info.delivered).unwrap_or(0),
            info.pending,
            SystemTime::from(info.published),
        );
        let async_nats::Message {
            subject,
            reply,
            payload,
            headers,
            ..
        } = message.message;
        let delivery = Delivery {
            subject,
            payload,
            headers,
            stream_sequence,
            consumer_sequence,
            delivered,
            pending,
            published,
        };
        Some((delivery, reply?))
    }
}
