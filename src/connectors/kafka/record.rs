//! [`KafkaRecord`]: what the Kafka sink writes for one item.

use bytes::Bytes;

use super::message::KafkaHeader;

/// A record to write: key, payload, headers, timestamp and optionally a fixed partition.
///
/// Records with the same key go to the same partition (librdkafka's default partitioner),
/// so the sink keeps their order; see [`KafkaSink`](super::KafkaSink).
///
/// # Examples
///
/// ```
/// use sweet_async::connectors::kafka::KafkaRecord;
///
/// let record = KafkaRecord::new("42 orders")
///     .key("customer-7")
///     .header("schema", "v1")
///     .timestamp(1_700_000_000_000);
/// assert_eq!(record.key.as_deref(), Some(&b"customer-7"[..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KafkaRecord {
    /// The key (chooses the partition).
    pub key: Option<Bytes>,
    /// The payload (`None` writes a tombstone).
    pub payload: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<KafkaHeader>,
    /// Milliseconds since the Unix epoch (the producer's clock when `None`).
    pub timestamp: Option<i64>,
    /// A fixed partition instead of the key's.
    pub partition: Option<i32>,
}

impl KafkaRecord {
    /// A record with this payload.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        KafkaRecord {
            payload: Some(payload.into()),
            ..KafkaRecord::default()
        }
    }

    /// A tombstone (no payload) for `key`: deletes the key from a compacted topic.
    pub fn tombstone(key: impl Into<Bytes>) -> Self {
        KafkaRecord::default().key(key)
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(KafkaHeader {
            key: key.into(),
            value: Some(value.into()),
        });
        self
    }

    /// Sets the timestamp (milliseconds since the Unix epoch).
    pub fn timestamp(mut self, millis: i64) -> Self {
        self.timestamp = Some(millis);
        self
    }

    /// Writes to this partition whatever the key.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }
}
