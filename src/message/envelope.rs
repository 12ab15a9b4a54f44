//! [`Envelope`] and [`MessageKind`]: what travels between tasks.

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::task::{CancellationLevel, TaskId, TaskStatus};

/// One message: who sent it, when, in which conversation, and what it says.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Envelope<M> {
    /// The sending task.
    pub sender: TaskId,
    /// The task it was sent to (`send_to`, or each subscriber of a `broadcast`); `None`
    /// until it is sent. Part of what a sealed envelope authenticates.
    pub recipient: Option<TaskId>,
    /// Wall-clock time of creation, in nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Per-bus sequence number, increasing in creation order.
    pub sequence: u64,
    /// The conversation this message belongs to (distributed tracing), if any.
    pub correlation_id: Option<Arc<str>>,
    /// The host the message was built on.
    pub hostname: Arc<str>,
    /// The content.
    pub kind: MessageKind<M>,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MessageKind<M> {
    /// A typed payload.
    Data(M),
    /// The sender's status.
    Status(TaskStatus),
    /// An error report (the error's text).
    Error(String),
    /// Please cancel, at this level.
    CancelRequest(CancellationLevel),
    /// A cancel request was received and acted on.
    CancelAck,
    /// The sender has finished.
    Completed,
    /// The sender is alive.
    Heartbeat,
    /// An application-defined message: a tag and raw bytes.
    Custom {
        /// What the bytes are.
        tag: Arc<str>,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// An encrypted body (feature `encryption`): [`Envelope::open`] it.
    #[cfg(feature = "encryption")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
    Sealed(crate::message::Sealed),
}

impl<M> Envelope<M> {
    /// The payload of a `Data` message.
    pub fn data(&self) -> Option<&M> {
        match &self.kind {
            MessageKind::Data(m) => Some(m),
            _ => None,
        }
    }

    /// The payload of a `Data` message, consuming the envelope.
    pub fn into_data(self) -> Option<M> {
        match self.kind {
            MessageKind::Data(m) => Some(m),
            _ => None,
        }
    }

    /// `true` for an encrypted envelope still to be opened.
    pub fn is_sealed(&self) -> bool {
        #[cfg(feature = "encryption")]
        if matches!(self.kind, MessageKind::Sealed(_)) {
            return true;
        }
        false
    }
}

/// Nanoseconds since the Unix epoch (0 for a clock set before 1970; saturating).
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// This machine's name: `$HOSTNAME`, else `/etc/hostname`, else `"localhost"`; read once.
pub(crate) fn local_hostname() -> Arc<str> {
    static HOST: OnceLock<Arc<str>> = OnceLock::new();
    HOST.get_or_init(|| {
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
            })
            .map_or_else(|| Arc::from("localhost"), |h| Arc::from(h.trim()))
    })
    .clone()
}
