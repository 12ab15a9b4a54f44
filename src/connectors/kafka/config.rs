//! [`KafkaSourceBuilder`]: the consumer group, topics, commit cadence, in-flight bound and
//! reject policy of a Kafka source, validated before anything connects.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;

use super::error::KafkaError;
use super::handle::KafkaSourceHandle;
use super::source::KafkaStream;
use crate::error::ConfigError;
use crate::stream::source::LocatedSource;
use crate::units::Count;

/// What the source does with an event that was rejected (the receiver's closure returned
/// `Err` or panicked, a sink could not write it).
///
/// Kafka has no negative acknowledgement: a partition is one ordered log and the commit
/// point can only move past an offset. A rejected event is therefore never skipped: it is
/// either moved aside (dead-lettered) or it stops its partition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnReject {
    /// Pause the event's partition and report [`KafkaError::Rejected`](super::KafkaError)
    /// through the stream; the commit point stays at the rejected offset, so the event
    /// comes again after a restart or when another member takes the partition. The other
    /// partitions go on.
    StopPartition,
    /// Write the event (key, payload, headers, timestamp, plus `sweet-async-*` headers
    /// naming its topic, partition, offset and the reason) to this topic, and count it as
    /// handled once the broker confirmed the write. If the write fails, the partition stops
    /// as with [`StopPartition`](OnReject::StopPartition).
    DeadLetter(Arc<str>),
}

/// The validated settings the running source reads.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) commit_every: u64,
    pub(crate) commit_interval: Duration,
    pub(crate) max_in_flight: u64,
    pub(crate) resume_at: u64,
    pub(crate) on_reject: OnReject,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) batch: usize,
}

/// Configures a Kafka consumer-group source; made by [`source`](super::source).
///
/// Defaults: commit every 1 000 acknowledgements or 5 s, at most 10 000 events in flight
/// per partition, [`OnReject::StopPartition`], no idle timeout; the consumer starts at the
/// earliest offset of a partition that has no committed offset
/// (`auto.offset.reset=earliest`), and uses the cooperative rebalance protocol
/// (`partition.assignment.strategy=cooperative-sticky`): a rebalance revokes only the
/// partitions that move, so the others keep their events in flight (open windows stay
/// valid) instead of being consumed again. Change either with [`set`](Self::set) (every
/// member of a group must use the same strategy).
///
/// The source always runs with `enable.auto.commit=false` and
/// `enable.auto.offset.store=false`: offsets are committed by the source only, as
/// acknowledgements allow, and [`set`](Self::set) cannot turn that off.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct KafkaSourceBuilder {
    pub(crate) brokers: String,
    pub(crate) group: String,
    pub(crate) topics: Vec<String>,
    commit_every: Count,
    commit_interval: Duration,
    max_in_flight: Count,
    on_reject: OnReject,
    idle_timeout: Option<Duration>,
    batch: Count,
    settings: Vec<(String, String)>,
}

impl KafkaSourceBuilder {
    /// A member of consumer group `group` on the cluster at `brokers` (`host:port`,
    /// comma separated).
    pub fn new(brokers: impl Into<String>, group: impl Into<String>) -> Self {
        KafkaSourceBuilder {
            brokers: brokers.into(),
            group: group.into(),
            topics: Vec::new(),
            commit_every: Count::new(1_000, "acknowledgements"),
            commit_interval: Duration::from_secs(5),
            max_in_flight: Count::new(10_000, "events"),
            on_reject: OnReject::StopPartition,
            idle_timeout: None,
            batch: Count::new(64, "messages"),
            settings: Vec::new(),
        }
    }

    /// Subscribes to `topic` (call again for more topics).
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topics.push(topic.into());
        self
    }

    /// Subscribes to every topic in `topics`.
    pub fn topics<I, T>(mut self, topics: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.topics.extend(topics.into_iter().map(Into::into));
        self
    }

    /// Commits (asynchronously) once this many acknowledgements came in since the last
    /// commit.
    pub fn commit_every(mut self, acknowledgements: impl Into<Count>) -> Self {
        self.commit_every = acknowledgements.into();
        self
    }

    /// Commits (asynchronously) at least this often while acknowledgements come in.
    pub fn commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = interval;
        self
    }

    /// Pauses a partition once this many of its events are in flight (delivered, not yet
    /// acknowledged), and resumes it when half of them are: memory stays bounded however
    /// slow the pipeline is. The bound may be passed by at most one fetch batch.
    pub fn max_in_flight_per_partition(mut self, events: impl Into<Count>) -> Self {
        self.max_in_flight = events.into();
        self
    }

    /// What a rejected event does (see [`OnReject`]).
    pub fn on_reject(mut self, policy: OnReject) -> Self {
        self.on_reject = policy;
        self
    }

    /// Shorthand for [`on_reject`](Self::on_reject)`(OnReject::DeadLetter(topic))`.
    pub fn dead_letter_topic(self, topic: impl Into<Arc<str>>) -> Self {
        self.on_reject(OnReject::DeadLetter(topic.into()))
    }

    /// Ends the stream when no message came for `timeout` (counted from the first poll
    /// and from each message): for batch-like runs over a topic that stops growing.
    /// Without it the stream runs until [`KafkaSourceHandle::stop`](super::KafkaSourceHandle::stop)
    /// or a cancellation token ends it.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Messages taken from librdkafka in one go (default 64): the source hands them out
    /// one by one, so this only trades lock round trips against the extra events a paused
    /// partition may still deliver.
    pub fn fetch_batch(mut self, messages: impl Into<Count>) -> Self {
        self.batch = messages.into();
        self
    }

    /// Sets a librdkafka consumer property (`session.timeout.ms`,
    /// `partition.assignment.strategy`, `security.protocol`...). `enable.auto.commit` and
    /// `enable.auto.offset.store` are ignored: the source commits by itself.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    /// Creates the consumer, joins the group and subscribes: the source (for
    /// [`sender(..)`](crate::stream::EmittingTaskBuilder::sender), with `.into_chunks(n)`
    /// and `.name(..)`) and its handle. Nothing is fetched until the source is polled.
    ///
    /// # Errors
    ///
    /// [`KafkaError::Config`] for an invalid setting, [`KafkaError::NoRuntime`] outside a
    /// tokio runtime, [`KafkaError::Client`] when librdkafka rejects a property,
    /// [`KafkaError::Subscribe`] when a topic name is invalid.
    pub fn build(self) -> Result<(LocatedSource<KafkaStream>, KafkaSourceHandle), KafkaError> {
        super::source::start(&self)
    }

    /// Checks every setting.
    ///
    /// # Errors
    ///
    /// The first invalid setting: no brokers, group or topic, a zero count or interval,
    /// or a dead-letter topic that is also consumed (it would feed itself).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.settings().map(|_| ())
    }

    pub(crate) fn settings(&self) -> Result<Settings, ConfigError> {
        non_empty("brokers", &self.brokers)?;
        non_empty("group id", &self.group)?;
        if self.topics.is_empty() {
            return Err(ConfigError::Invalid {
                setting: "topics",
                reason: "subscribe to at least one topic".to_owned(),
            });
        }
        for topic in &self.topics {
            non_empty("topic", topic)?;
        }
        let commit_every = count(self.commit_every, "commit_every")?;
        let commit_interval = ConfigError::check_duration("commit interval", self.commit_interval)?;
        let max_in_flight = count(self.max_in_flight, "max in flight per partition")?;
        if let Some(idle) = self.idle_timeout {
            ConfigError::check_duration("idle timeout", idle)?;
        }
        if let OnReject::DeadLetter(topic) = &self.on_reject {
            non_empty("dead-letter topic", topic)?;
            if self.topics.iter().any(|t| **t == **topic) {
                return Err(ConfigError::Conflict {
                    reason: format!("dead-letter topic `{topic}` is also a consumed topic"),
                });
            }
        }
        Ok(Settings {
            commit_every,
            commit_interval,
            max_in_flight,
            resume_at: max_in_flight / 2,
            on_reject: self.on_reject.clone(),
            idle_timeout: self.idle_timeout,
            batch: self.batch.validate("fetch batch")?.get(),
        })
    }

    /// The librdkafka configuration of the consumer.
    pub(crate) fn consumer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", &self.group)
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky");
        for (k, v) in &self.settings {
            config.set(k, v);
        }
        config
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        config
    }

    /// The librdkafka configuration of the dead-letter producer: the brokers and the
    /// user's properties that are not consumer-only.
    pub(crate) fn dead_letter_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (k, v) in &self.settings {
            if is_shared_property(k) {
                config.set(k, v);
            }
        }
        config.set("enable.idempotence", "true");
        config
    }
}

/// Properties a producer accepts too (connection, security, client id, logging).
fn is_shared_property(key: &str) -> bool {
    [
        "security.",
        "sasl.",
        "ssl.",
        "client.",
        "socket.",
        "broker.",
        "debug",
        "log",
    ]
    .iter()
    .any(|p| key.starts_with(p))
}

fn non_empty(setting: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::Invalid {
            setting,
            reason: "must not be empty".to_owned(),
        })
    } else {
        Ok(())
    }
}

fn count(c: Count, setting: &'static str) -> Result<u64, ConfigError> {
    let n: NonZeroUsize = c.validate(setting)?;
    Ok(u64::try_from(n.get()).unwrap_or(u64::MAX))
}
