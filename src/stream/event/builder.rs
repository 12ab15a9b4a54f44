//! [`SenderEventBuilder`]: events built by hand.

use std::sync::Arc;
use std::time::SystemTime;

use super::extras::to_nanos;
use super::{EventId, HAS_BATCH, HAS_POSITION, IS_FINAL, OWES_ACK, Position, SenderEvent};
use crate::ack::Acks;

/// Builds a [`SenderEvent`] by hand: for tests, adapters and custom sources.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use sweet_async::stream::{EventId, Position, SenderEventBuilder};
/// use sweet_async::task::TaskId;
///
/// let task = TaskId::new();
/// let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let event = SenderEventBuilder::new("GET /health 200")
///     .with_id(EventId::new(task, 12))
///     .with_timestamp(at)
///     .position(Position::new(13, 1024))
///     .source_name("access.log")
///     .batch_id(3)
///     .metadata("level", "info")
///     .build();
/// assert_eq!(event.task_id(), task);
/// assert_eq!(event.timestamp(), Some(at));
/// assert_eq!(event.position().map(|p| p.line()), Some(13));
/// assert_eq!(event.source_name(), Some("access.log"));
/// assert_eq!(event.batch_id(), Some(3));
/// ```
#[must_use = "a builder does nothing until `.build()`"]
#[derive(Debug)]
pub struct SenderEventBuilder<T> {
    event: SenderEvent<T>,
}

impl<T> SenderEventBuilder<T> {
    /// Starts an event carrying `data`.
    pub fn new(data: T) -> Self {
        SenderEventBuilder {
            event: SenderEvent::new(data),
        }
    }

    /// Sets the whole key (task id and sequence number).
    pub fn with_id(mut self, id: EventId) -> Self {
        self.event.id = id;
        self
    }

    /// Sets the sequence number, keeping the task id.
    pub fn sequence_number(mut self, seq: u64) -> Self {
        self.event.id.seq = seq;
        self
    }

    /// Sets the timestamp (events built by hand have none by default).
    ///
    /// Kept as nanoseconds since the Unix epoch: a time before the epoch reads back as
    /// the epoch.
    pub fn with_timestamp(mut self, at: SystemTime) -> Self {
        self.event.extras.get_or_insert_with(Box::default).timestamp = Some(to_nanos(at));
        self
    }

    /// Sets the position in the source.
    pub fn position(mut self, position: Position) -> Self {
        self.event.position = position;
        self.event.flags |= HAS_POSITION;
        self
    }

    /// Sets the source name.
    pub fn source_name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.event.origin = None;
        self.event.extras.get_or_insert_with(Box::default).name =
            Some(Arc::new(String::from(&*name.into())));
        self
    }

    /// Sets the batch number.
    pub fn batch_id(mut self, batch: u64) -> Self {
        self.event.batch = batch;
        self.event.flags |= HAS_BATCH;
        self
    }

    /// Marks the event as the last of its source.
    pub fn final_event(mut self, is_final: bool) -> Self {
        if is_final {
            self.event.flags |= IS_FINAL;
        } else {
            self.event.flags &= !IS_FINAL;
        }
        self
    }

    /// Adds a metadata pair.
    pub fn metadata(mut self, key: impl Into<Arc<str>>, value: impl Into<String>) -> Self {
        self.event.insert_metadata(key, value);
        self
    }

    /// The acknowledgement the event owes its source: settled by
    /// [`acknowledge`](SenderEvent::acknowledge), [`reject`](SenderEvent::reject), the
    /// receiver or a sink.
    #[doc(alias = "acknowledger")]
    pub fn acks(mut self, acks: Acks) -> Self {
        if acks.is_empty() {
            self.event.flags &= !OWES_ACK;
        } else {
            self.event.flags |= OWES_ACK;
        }
        self.event.extras.get_or_insert_with(Box::default).acks = acks;
        self
    }

    /// The event.
    pub fn build(self) -> SenderEvent<T> {
        self.event
    }
}
