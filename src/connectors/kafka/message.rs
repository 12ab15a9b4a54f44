//! [`KafkaMessage`]: a consumed record with where it came from.

use std::sync::Arc;

use bytes::Bytes;
use rdkafka::message::{BorrowedMessage, Headers, Message};

/// One header of a record: a name and an optional value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaHeader {
    /// The header's name.
    pub key: String,
    /// The header's value (`None` for a null value).
    pub value: Option<Bytes>,
}

/// A record consumed from Kafka: its topic, partition and offset, key, payload, headers and
/// timestamp.
///
/// Key and payload are [`Bytes`], so cloning a message (windows clone their elements) does
/// not copy them. The timestamp is what the broker stored (the producer's create time, or
/// the log-append time), in milliseconds since the Unix epoch: the natural event time for
/// [`event_time_window`](crate::operators::DataflowExt::event_time_window):
///
/// ```
/// # use sweet_async::connectors::kafka::KafkaMessage;
/// fn event_time(message: &KafkaMessage) -> i64 {
///     message.timestamp.unwrap_or(0)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KafkaMessage {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
    /// The key, if the record has one.
    pub key: Option<Bytes>,
    /// The payload (`None` for a tombstone).
    pub payload: Option<Bytes>,
    /// The headers, in order (empty when there are none).
    pub headers: Vec<KafkaHeader>,
    /// Milliseconds since the Unix epoch, when the record has a timestamp.
    pub timestamp: Option<i64>,
}

impl KafkaMessage {
    /// Copies a message out of librdkafka's buffer, sharing `topic`.
    pub(crate) fn copy_from(message: &BorrowedMessage<'_>, topic: Arc<str>) -> Self {
        KafkaMessage {
            topic,
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(Bytes::copy_from_slice),
            payload: message.payload().map(Bytes::copy_from_slice),
            headers: message.headers().map_or_else(Vec::new, |headers| {
                headers
                    .iter()
                    .map(|h| KafkaHeader {
                        key: h.key.to_owned(),
                        value: h.value.map(Bytes::copy_from_slice),
                    })
                    .collect()
            }),
            timestamp: message.timestamp().to_millis(),
        }
    }

    /// The key as UTF-8 text, if it has a key and the key is text.
    pub fn key_str(&self) -> Option<&str> {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The payload as UTF-8 text, if it has a payload and the payload is text.
    pub fn payload_str(&self) -> Option<&str> {
        self.payload
            .as_deref()
            .and_then(|p| std::str::from_utf8(p).ok())
    }

    /// The value of the first header named `key` (`None` when there is no such header or
    /// its value is null).
    pub fn header(&self, key: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.key == key)
            .and_then(|h| h.value.as_deref())
    }
}
