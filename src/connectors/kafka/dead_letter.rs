//! [`DeadLetters`]: the producer that moves rejected events to the dead-letter topic, and
//! the inbox its delivery reports land in until the source applies them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::message::{DeliveryResult, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

use super::error::KafkaError;
use super::message::KafkaMessage;
use super::signal::Signal;

/// The outcome of one dead-letter write: the source acknowledges the offset on success,
/// stops its partition on failure.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) slot: u32,
    pub(crate) offset: u64,
    pub(crate) error: Option<String>,
}

/// Where delivery reports wait for the source. Holds no producer, so the producer's
/// polling thread never owns (and never drops) the producer itself.
#[derive(Debug, Default)]
struct Inbox {
    written: Mutex<Vec<Written>>,
    signal: Arc<Signal>,
}

/// The producer's context: files each delivery report in the inbox and wakes the source.
struct Reports(Arc<Inbox>);

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<(u32, u64)>;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Self::DeliveryOpaque) {
        let (slot, offset) = *opaque;
        let error = result.as_ref().err().map(|(e, _)| e.to_string());
        self.0
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Written {
                slot,
                offset,
                error,
            });
        self.0.signal.raise();
    }
}

/// The dead-letter producer of one source.
pub(crate) struct DeadLetters {
    producer: ThreadedProducer<Reports>,
    inbox: Arc<Inbox>,
    pub(crate) topic: Arc<str>,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl DeadLetters {
    pub(crate) fn new(
        config: &ClientConfig,
        topic: Arc<str>,
        signal: Arc<Signal>,
    ) -> Result<Self, KafkaError> {
        let inbox = Arc::new(Inbox {
            written: Mutex::default(),
            signal,
        });
        let producer = ThreadedProducer::from_config_and_context(config, Reports(inbox.clone()))
            .map_err(|error| KafkaError::Client {
                client: "dead-letter producer",
                error,
            })?;
        Ok(DeadLetters {
            producer,
            inbox,
            topic,
        })
    }

    /// Queues `message` (delivery `offset` of `slot`) for the dead-letter topic, with
    /// headers naming where it came from and why it was rejected.
    pub(crate) fn send(
        &self,
        slot: u32,
        offset: u64,
        message: &KafkaMessage,
        reason: &str,
    ) -> Result<(), String> {
        let partition = message.partition.to_string();
        let original_offset = message.offset.to_string();
        let mut headers = OwnedHeaders::new_with_capacity(message.headers.len().saturating_add(4));
        for h in &message.headers {
            headers = headers.insert(Header {
                key: &h.key,
                value: h.value.as_deref(),
            });
        }
        let headers = headers
            .insert(Header {
                key: "sweet-async-topic",
                value: Some(message.topic.as_bytes()),
            })
            .insert(Header {
                key: "sweet-async-partition",
                value: Some(partition.as_bytes()),
            })
            .insert(Header {
                key: "sweet-async-offset",
                value: Some(original_offset.as_bytes()),
            })
            .insert(Header {
                key: "sweet-async-reason",
                value: Some(reason.as_bytes()),
            });
        let mut record: BaseRecord<'_, [u8], [u8], Box<(u32, u64)>> =
            BaseRecord::with_opaque_to(&self.topic, Box::new((slot, offset))).headers(headers);
        if let Some(key) = message.key.as_deref() {
            record = record.key(key);
        }
        if let Some(payload) = message.payload.as_deref() {
            record = record.payload(payload);
        }
        if let Some(ts) = message.timestamp {
            record = record.timestamp(ts);
        }
        self.producer.send(record).map_err(|(e, _)| e.to_string())
    }

    /// The delivery reports that came in since the last call.
    pub(crate) fn take_written(&self) -> Vec<Written> {
        std::mem::take(
            &mut *self
                .inbox
                .written
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Waits (blocking: call it on the blocking pool) until every queued dead letter was
    /// delivered or failed, at most `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<(), String> {
        self.producer.flush(timeout).map_err(|e| e.to_string())
    }
}
