//! [`ParMapError`]: why a parallel-map stream yielded an error item.

use std::fmt;

use crate::error::{CancellationLevel, TaskError};

/// Why a parallel-map stream yielded an error item instead of a value.
///
/// `Panicked` replaces exactly one input item and the stream goes on with the others;
/// `UpstreamPanicked` and `NoRuntime` end the stream after the items already pulled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParMapError {
    /// The user's `f` (or the future it returned) panicked on one input item.
    Panicked {
        /// The position of the input item in the upstream stream, counted from 0.
        index: u64,
        /// The panic message (`"<non-string panic payload>"` when it was not a string).
        message: String,
    },
    /// The upstream stream panicked while being polled; nothing more is pulled from it.
    UpstreamPanicked {
        /// The panic message.
        message: String,
    },
    /// The stream was first polled outside a tokio runtime, so its driver could not be
    /// spawned. Nothing was pulled from upstream.
    NoRuntime,
    /// The runtime shut down before a blocking batch ran: one such error per input item
    /// of the batch, so nothing is lost silently.
    RuntimeShutdown {
        /// The position of the input item in the upstream stream, counted from 0.
        index: u64,
    },
}

impl ParMapError {
    /// `true` for [`ParMapError::Panicked`] and [`ParMapError::UpstreamPanicked`].
    pub fn is_panic(&self) -> bool {
        matches!(
            self,
            ParMapError::Panicked { .. } | ParMapError::UpstreamPanicked { .. }
        )
    }
}

impl fmt::Display for ParMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParMapError::Panicked { index, message } => {
                write!(
                    f,
                    "parallel map function panicked on item {index}: {message}"
                )
            }
            ParMapError::UpstreamPanicked { message } => {
                write!(f, "upstream stream of a parallel map panicked: {message}")
            }
            ParMapError::NoRuntime => f.write_str(
                "parallel map polled outside a tokio runtime: its driver cannot be spawned",
            ),
            ParMapError::RuntimeShutdown { index } => {
                write!(f, "the runtime shut down before item {index} was mapped")
            }
        }
    }
}

impl std::error::Error for ParMapError {}

impl<E> From<ParMapError> for TaskError<E> {
    /// Panics become [`TaskError::Panicked`] (the item's index goes into the message), a
    /// missing runtime [`TaskError::NoRuntime`], a shutdown [`TaskError::Cancelled`].
    fn from(e: ParMapError) -> Self {
        match e {
            ParMapError::Panicked { index, message } => TaskError::Panicked {
                message: format!("item {index}: {message}"),
            },
            ParMapError::UpstreamPanicked { message } => TaskError::Panicked {
                message: format!("upstream: {message}"),
            },
            ParMapError::NoRuntime => TaskError::NoRuntime,
            ParMapError::RuntimeShutdown { .. } => TaskError::Cancelled {
                level: CancellationLevel::KillHard,
            },
        }
    }
}
