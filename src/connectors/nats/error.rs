//! [`NatsError`]: what went wrong talking to NATS, and where.

use std::error::Error as StdError;
use std::fmt;

use crate::error::{BoxError, ConfigError};

/// A failure of the NATS connector, naming the server, stream, consumer or subject it
/// concerns.
#[derive(Debug)]
#[non_exhaustive]
pub enum NatsError {
    /// Connecting to the server failed.
    Connect {
        /// The server address.
        url: String,
        /// What the client said.
        source: BoxError,
    },
    /// Looking up or creating a stream failed.
    Stream {
        /// The stream.
        stream: String,
        /// What the server said.
        source: BoxError,
    },
    /// Looking up, creating or reading a consumer failed.
    Consumer {
        /// The stream.
        stream: String,
        /// The durable consumer.
        consumer: String,
        /// What the server said.
        source: BoxError,
    },
    /// A pull request (fetch) failed, after retries.
    Fetch {
        /// The stream.
        stream: String,
        /// The durable consumer.
        consumer: String,
        /// What the client said.
        source: BoxError,
    },
    /// The user's mapping of a delivered message failed; the delivery is rejected.
    Map {
        /// The stream.
        stream: String,
        /// The durable consumer.
        consumer: String,
        /// The message's subject.
        subject: String,
        /// The message's sequence number in the stream.
        stream_sequence: u64,
        /// How many times the message was delivered, this delivery included.
        delivered: u64,
        /// What the mapping returned (or the message of its panic).
        source: BoxError,
    },
    /// Publishing a message failed, or the server did not confirm it.
    Publish {
        /// The subject.
        subject: String,
        /// What the client or server said.
        source: BoxError,
    },
    /// Sending acknowledgements to the server failed (the connection is closed), or the
    /// task that sends them is gone.
    Ack {
        /// The stream.
        stream: String,
        /// The durable consumer.
        consumer: String,
        /// What the client said.
        source: BoxError,
    },
    /// An invalid setting; nothing was done.
    Config(ConfigError),
}

impl fmt::Display for NatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatsError::Connect { url, source } => write!(f, "cannot connect to {url}: {source}"),
            NatsError::Stream { stream, source } => write!(f, "stream {stream}: {source}"),
            NatsError::Consumer {
                stream,
                consumer,
                source,
            } => write!(f, "consumer {consumer} of stream {stream}: {source}"),
            NatsError::Fetch {
                stream,
                consumer,
                source,
            } => write!(
                f,
                "fetching from consumer {consumer} of stream {stream}: {source}"
            ),
            NatsError::Map {
                stream,
                consumer,
                subject,
                stream_sequence,
                delivered,
                source,
            } => write!(
                f,
                "stream {stream} sequence {stream_sequence} (subject {subject}, consumer \
                 {consumer}, delivery {delivered}): {source}"
            ),
            NatsError::Publish { subject, source } => {
                write!(f, "publishing to {subject}: {source}")
            }
            NatsError::Ack {
                stream,
                consumer,
                source,
            } => write!(
                f,
                "acknowledging to consumer {consumer} of stream {stream}: {source}"
            ),
            NatsError::Config(c) => write!(f, "invalid NATS setting: {c}"),
        }
    }
}

impl StdError for NatsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            NatsError::Connect { source, .. }
            | NatsError::Stream { source, .. }
            | NatsError::Consumer { source, .. }
            | NatsError::Fetch { source, .. }
            | NatsError::Map { source, .. }
            | NatsError::Publish { source, .. }
            | NatsError::Ack { source, .. } => Some(source.as_ref()),
            NatsError::Config(c) => Some(c),
        }
    }
}

impl From<ConfigError> for NatsError {
    fn from(e: ConfigError) -> Self {
        NatsError::Config(e)
    }
}
