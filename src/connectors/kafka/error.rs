//! [`KafkaError`]: what went wrong talking to Kafka, and where (topic, partition, offset).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use rdkafka::error::KafkaError as RdKafkaError;

use crate::error::ConfigError;

/// A failure of the Kafka source or sink, naming the topic, partition and offset it is
/// about whenever there is one.
///
/// Errors the source meets while it runs reach the pipeline as
/// [`SourceError::Item`](crate::stream::SourceError::Item) items (boxed `KafkaError`s,
/// `downcast_ref` them), or [`SenderFailed`](crate::stream::SourceError::SenderFailed) when
/// the consumer cannot go on; the sink resolves to one.
#[derive(Debug)]
#[non_exhaustive]
pub enum KafkaError {
    /// An invalid setting; nothing was started.
    Config(ConfigError),
    /// The source or sink was built outside a tokio runtime (rdkafka's consumer needs one).
    NoRuntime,
    /// librdkafka refused to create the client (an unknown or invalid property).
    Client {
        /// `"consumer"`, `"producer"` or `"dead-letter producer"`.
        client: &'static str,
        /// What librdkafka said.
        error: RdKafkaError,
    },
    /// Subscribing to the topics failed.
    Subscribe {
        /// The topics, comma separated.
        topics: String,
        /// What librdkafka said.
        error: RdKafkaError,
    },
    /// The consumer reported an error while fetching (a broker or partition problem).
    Consume {
        /// What librdkafka said; it names the partition when it is about one.
        error: RdKafkaError,
    },
    /// A consumer-group rebalance failed.
    Rebalance {
        /// What librdkafka said.
        error: RdKafkaError,
    },
    /// Committing offsets failed.
    Commit {
        /// The offsets, as `topic/partition@offset` separated by commas.
        offsets: String,
        /// What librdkafka said.
        error: RdKafkaError,
    },
    /// An event was rejected and the source is set to stop its partition
    /// ([`OnReject::StopPartition`](super::OnReject::StopPartition)): the partition is
    /// paused and its commit point stays at `offset` until the partition is revoked or the
    /// process restarts.
    Rejected {
        /// The topic.
        topic: Arc<str>,
        /// The partition.
        partition: i32,
        /// The first rejected offset.
        offset: i64,
        /// Why the event was rejected.
        reason: String,
    },
    /// A rejected event could not be written to the dead-letter topic: its partition is
    /// stopped as with [`OnReject::StopPartition`](super::OnReject::StopPartition).
    DeadLetter {
        /// The topic the event came from.
        topic: Arc<str>,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
        /// The dead-letter topic.
        dead_letter_topic: Arc<str>,
        /// Why it could not be written.
        reason: String,
    },
    /// The sink could not write a record: the producer refused it or the broker did not
    /// confirm it.
    Delivery {
        /// The topic written to.
        topic: Arc<str>,
        /// The partition, when the record got one.
        partition: Option<i32>,
        /// What librdkafka said.
        error: RdKafkaError,
    },
    /// A blocking step (a synchronous commit, a flush) ran on tokio's blocking pool and
    /// did not come back (the runtime is shutting down).
    Interrupted {
        /// The step.
        step: &'static str,
    },
}

impl KafkaError {
    /// The topic the error is about, if any.
    pub fn topic(&self) -> Option<&str> {
        match self {
            KafkaError::Rejected { topic, .. }
            | KafkaError::DeadLetter { topic, .. }
            | KafkaError::Delivery { topic, .. } => Some(topic),
            _ => None,
        }
    }

    /// The partition the error is about, if any.
    pub fn partition(&self) -> Option<i32> {
        match self {
            KafkaError::Rejected { partition, .. } | KafkaError::DeadLetter { partition, .. } => {
                Some(*partition)
            }
            KafkaError::Delivery { partition, .. } => *partition,
            _ => None,
        }
    }

    /// The offset the error is about, if any.
    pub fn offset(&self) -> Option<i64> {
        match self {
            KafkaError::Rejected { offset, .. } | KafkaError::DeadLetter { offset, .. } => {
                Some(*offset)
            }
            _ => None,
        }
    }

    /// `true` when the consumer cannot go on after this error.
    pub fn is_fatal(&self) -> bool {
        match self {
            KafkaError::Consume { error } => {
                matches!(error, RdKafkaError::MessageConsumptionFatal(_))
            }
            KafkaError::Config(_) | KafkaError::NoRuntime | KafkaError::Client { .. } => true,
            KafkaError::Subscribe { .. } => true,
            _ => false,
        }
    }
}

impl fmt::Display for KafkaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KafkaError::Config(e) => write!(f, "invalid Kafka setting: {e}"),
            KafkaError::NoRuntime => {
                f.write_str("the Kafka client needs a tokio runtime and none is running")
            }
            KafkaError::Client { client, error } => {
                write!(f, "cannot create the Kafka {client}: {error}")
            }
            KafkaError::Subscribe { topics, error } => {
                write!(f, "cannot subscribe to {topics}: {error}")
            }
            KafkaError::Consume { error } => write!(f, "Kafka consumer: {error}"),
            KafkaError::Rebalance { error } => write!(f, "Kafka rebalance failed: {error}"),
            KafkaError::Commit { offsets, error } => {
                write!(f, "committing {offsets} failed: {error}")
            }
            KafkaError::Rejected {
                topic,
                partition,
                offset,
                reason,
            } => write!(
                f,
                "{topic}/{partition}@{offset} rejected ({reason}): partition stopped"
            ),
            KafkaError::DeadLetter {
                topic,
                partition,
                offset,
                dead_letter_topic,
                reason,
            } => write!(
                f,
                "{topic}/{partition}@{offset} could not be dead-lettered to \
                 {dead_letter_topic} ({reason}): partition stopped"
            ),
            KafkaError::Delivery {
                topic,
                partition: Some(p),
                error,
            } => write!(f, "writing to {topic}/{p} failed: {error}"),
            KafkaError::Delivery {
                topic,
                partition: None,
                error,
            } => write!(f, "writing to {topic} failed: {error}"),
            KafkaError::Interrupted { step } => {
                write!(f, "{step} did not finish: the runtime is shutting down")
            }
        }
    }
}

impl StdError for KafkaError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            KafkaError::Config(e) => Some(e),
            KafkaError::Client { error, .. }
            | KafkaError::Subscribe { error, .. }
            | KafkaError::Consume { error }
            | KafkaError::Rebalance { error }
            | KafkaError::Commit { error, .. }
            | KafkaError::Delivery { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<ConfigError> for KafkaError {
    fn from(e: ConfigError) -> Self {
        KafkaError::Config(e)
    }
}
