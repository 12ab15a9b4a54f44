//! Typed errors of emitting tasks: [`SourceError`] says what went wrong reading an
//! item, [`EventError`] adds which event it was (key and position).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use crate::error::{BoxError, ConfigError};
use crate::stream::event::{EventId, Position};

/// Why a source could not produce an item.
///
/// Per-item variants ([`InvalidUtf8`](SourceError::InvalidUtf8),
/// [`Csv`](SourceError::Csv), [`Item`](SourceError::Item)) leave the source
/// readable: the emitting task's [`ErrorPolicy`](crate::stream::ErrorPolicy) decides
/// whether processing goes on. The others are *fatal* ([`is_fatal`](Self::is_fatal)):
/// the source cannot continue and the stream ends after yielding them.
#[derive(Debug)]
#[non_exhaustive]
pub enum SourceError {
    /// Opening or reading a file failed.
    Io {
        /// The file.
        file: Arc<str>,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A line of a text file is not valid UTF-8 (read it as `Bytes` to accept any byte).
    InvalidUtf8 {
        /// The file.
        file: Arc<str>,
        /// 1-based line number.
        line: u64,
        /// Byte offset of the line's start in the file.
        byte: u64,
        /// Bytes of the line that are valid UTF-8 before the first invalid one.
        valid_up_to: usize,
    },
    /// A CSV row is malformed (wrong number of fields) or does not fit the record type.
    Csv {
        /// The file.
        file: Arc<str>,
        /// 1-based line where the row starts.
        line: u64,
        /// Byte offset of the row's start in the file.
        byte: u64,
        /// 0-based index of the row among all rows read (the header row included).
        record: u64,
        /// What the CSV reader said.
        message: String,
    },
    /// An item (a line, a CSV record) longer than the source's limit: it was skipped
    /// without being held in memory, and reading goes on after it.
    TooLong {
        /// The file.
        file: Arc<str>,
        /// 1-based line where the item starts.
        line: u64,
        /// Byte offset of the item's start in the file.
        byte: u64,
        /// The limit, in bytes.
        limit: usize,
    },
    /// An item the sender produced as an error (an `Err` of a fallible stream, or
    /// [`Sender::send_error`](crate::stream::Sender::send_error)).
    Item(BoxError),
    /// The sender closure returned an error: it will not produce more items.
    SenderFailed(BoxError),
    /// The sender panicked; the panic was caught.
    Panicked {
        /// The panic message.
        message: String,
    },
    /// The source needs a tokio runtime (its blocking pool) and none is running.
    NoRuntime,
    /// The thread reading the file ended before the end of it: it panicked, or the
    /// runtime shut down under it. The items read before are intact; none after.
    ReaderLost {
        /// The file.
        file: Arc<str>,
        /// Why: the panic message, or that the runtime stopped the reader.
        reason: String,
    },
    /// The file shrank while it was read (truncated or replaced): the read stopped at
    /// `byte`, before the `len_at_open` bytes the file had when it was opened, so the
    /// item that was being read there is incomplete and is not emitted.
    Truncated {
        /// The file.
        file: Arc<str>,
        /// 1-based line where the incomplete item starts.
        line: u64,
        /// Byte offset where the incomplete item starts.
        byte: u64,
        /// Bytes read when the file ended.
        read: u64,
        /// The file's length when it was opened.
        len_at_open: u64,
    },
    /// The emitting task was configured with an invalid setting; nothing was read.
    Config(ConfigError),
}

impl SourceError {
    /// `true` when the source cannot go on after this error.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            SourceError::InvalidUtf8 { .. }
                | SourceError::Csv { .. }
                | SourceError::TooLong { .. }
                | SourceError::Item(_)
        )
    }

    /// The file the error is about, if any.
    pub fn file(&self) -> Option<&str> {
        match self {
            SourceError::Io { file, .. }
            | SourceError::InvalidUtf8 { file, .. }
            | SourceError::Csv { file, .. }
            | SourceError::TooLong { file, .. }
            | SourceError::ReaderLost { file, .. }
            | SourceError::Truncated { file, .. } => Some(file),
            _ => None,
        }
    }

    /// The 1-based line the error is about, if any.
    pub fn line(&self) -> Option<u64> {
        match self {
            SourceError::InvalidUtf8 { line, .. }
            | SourceError::Csv { line, .. }
            | SourceError::TooLong { line, .. }
            | SourceError::Truncated { line, .. } => Some(*line),
            _ => None,
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Io { file, error } => write!(f, "{file}: {error}"),
            SourceError::InvalidUtf8 {
                file,
                line,
                byte,
                valid_up_to,
            } => write!(
                f,
                "{file}:{line} (byte {byte}): invalid UTF-8 after {valid_up_to} valid bytes"
            ),
            SourceError::Csv {
                file,
                line,
                byte,
                record,
                message,
            } => write!(f, "{file}:{line} (byte {byte}, record {record}): {message}"),
            SourceError::TooLong {
                file,
                line,
                byte,
                limit,
            } => write!(
                f,
                "{file}:{line} (byte {byte}): item longer than the limit of {limit} bytes, skipped"
            ),
            SourceError::Item(e) => write!(f, "item error: {e}"),
            SourceError::SenderFailed(e) => write!(f, "sender failed: {e}"),
            SourceError::Panicked { message } => write!(f, "sender panicked: {message}"),
            SourceError::NoRuntime => f.write_str("no tokio runtime is running on this thread"),
            SourceError::ReaderLost { file, reason } => {
                write!(
                    f,
                    "{file}: the reader ended before the end of the file: {reason}"
                )
            }
            SourceError::Truncated {
                file,
                line,
                byte,
                read,
                len_at_open,
            } => write!(
                f,
                "{file}:{line} (byte {byte}): the file shrank while it was read \
                 ({read} bytes read, {len_at_open} when opened): the item there is incomplete"
            ),
            SourceError::Config(c) => write!(f, "invalid emitting task configuration: {c}"),
        }
    }
}

impl StdError for SourceError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            SourceError::Io { error, .. } => Some(error),
            SourceError::Item(e) | SourceError::SenderFailed(e) => Some(e.as_ref()),
            SourceError::Config(c) => Some(c),
            _ => None,
        }
    }
}

/// What failed for one event.
#[derive(Debug)]
#[non_exhaustive]
pub enum EventErrorKind {
    /// The source could not produce the item.
    Source(SourceError),
    /// The receiver returned an error for the event.
    Receiver(BoxError),
    /// The receiver panicked while processing the event; the panic was caught.
    Panicked {
        /// The panic message.
        message: String,
    },
    /// An invalid receiver setting; no event was processed.
    Config(ConfigError),
    /// The task running the event's work was stopped before it finished (the runtime
    /// shut down): the event was not processed to the end.
    WorkerStopped {
        /// Why, e.g. that the runtime shut down.
        reason: String,
    },
}

/// A failed item with its key: the event id, the source and the position it came from.
///
/// Under the [`Collect`](crate::stream::ErrorPolicy::Collect) policy these travel
/// downstream as `Err` items and end in the collected errors of
/// [`await_final_event`](crate::collect::FinalEvent::await_final_event).
///
/// # Examples
///
/// ```
/// use sweet_async::stream::{EventError, EventId, SourceError};
///
/// let err = EventError::from_source(EventId::default(), None, SourceError::NoRuntime);
/// assert!(err.is_fatal());
/// assert_eq!(err.id().sequence_number(), 0);
/// ```
///
/// The error is one pointer wide (its parts are boxed): results of events stay as small
/// as the events themselves on the fast path.
#[derive(Debug)]
pub struct EventError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    id: EventId,
    position: Option<Position>,
    kind: EventErrorKind,
}

impl EventError {
    /// A source error for the event `id`.
    pub fn from_source(id: EventId, position: Option<Position>, error: SourceError) -> Self {
        EventError::new(id, position, EventErrorKind::Source(error))
    }

    /// A receiver error for the event `id`.
    pub fn from_receiver(id: EventId, position: Option<Position>, error: BoxError) -> Self {
        EventError::new(id, position, EventErrorKind::Receiver(error))
    }

    pub(crate) fn new(id: EventId, position: Option<Position>, kind: EventErrorKind) -> Self {
        EventError(Box::new(Inner { id, position, kind }))
    }

    /// The key of the failed event: task id and sequence number.
    pub fn id(&self) -> EventId {
        self.0.id
    }

    /// Where the item was in its source (line and byte offset), when known.
    pub fn position(&self) -> Option<Position> {
        self.0.position
    }

    /// What failed.
    pub fn kind(&self) -> &EventErrorKind {
        &self.0.kind
    }

    /// Consumes the error, returning what failed.
    pub fn into_kind(self) -> EventErrorKind {
        self.0.kind
    }

    /// The source error, when the source failed.
    pub fn source_error(&self) -> Option<&SourceError> {
        match &self.0.kind {
            EventErrorKind::Source(e) => Some(e),
            _ => None,
        }
    }

    /// `true` when the receiver panicked on this event.
    pub fn is_panic(&self) -> bool {
        matches!(self.0.kind, EventErrorKind::Panicked { .. })
    }

    /// `true` when nothing more can come from the source after this error.
    pub fn is_fatal(&self) -> bool {
        match &self.0.kind {
            EventErrorKind::Source(e) => e.is_fatal(),
            EventErrorKind::Config(_) => true,
            _ => false,
        }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event {}", self.0.id)?;
        // A source error names its position itself: state it once.
        match (&self.0.kind, self.0.position) {
            (EventErrorKind::Source(_), _) | (_, None) => f.write_str(": ")?,
            (_, Some(at)) => write!(f, " at {at}: ")?,
        }
        fmt::Display::fmt(&self.0.kind, f)
    }
}

impl fmt::Display for EventErrorKind {
    /// What failed, without the event's id and position.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventErrorKind::Source(e) => write!(f, "{e}"),
            EventErrorKind::Receiver(e) => write!(f, "receiver failed: {e}"),
            EventErrorKind::Panicked { message } => write!(f, "receiver panicked: {message}"),
            EventErrorKind::Config(c) => write!(f, "invalid receiver configuration: {c}"),
            EventErrorKind::WorkerStopped { reason } => {
                write!(f, "receiver worker stopped: {reason}")
            }
        }
    }
}

impl StdError for EventError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.0.kind {
            EventErrorKind::Source(e) => Some(e),
            EventErrorKind::Receiver(e) => Some(e.as_ref()),
            EventErrorKind::Config(c) => Some(c),
            EventErrorKind::Panicked { .. } | EventErrorKind::WorkerStopped { .. } => None,
        }
    }
}
