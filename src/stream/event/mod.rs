//! Events: [`SenderEvent`] (also named [`ReceiverEvent`] and [`StreamingEvent`]),
//! its key [`EventId`], its [`Position`] in the source, and [`SenderEventBuilder`].

mod builder;
mod extras;
mod id;
mod stamp;

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

pub use builder::SenderEventBuilder;
pub use extras::Metadata;
use extras::{CarriedLink, Extras};
pub use id::{EventId, Position};
pub(crate) use stamp::Stamp;

use crate::ack::{Acks, TakeAcks};
use crate::stream::origin::Interned;
use crate::stream::source::Located;
use crate::stream::stats::SourceStats;
use crate::task::TaskId;

/// One item travelling through an emitting task, with its key and provenance.
///
/// The payload is [`data`](Self::data); the rest is cheap metadata: the [`EventId`]
/// (task id plus sequence number), the source's name and the item's [`Position`] in it
/// (for file sources), the batch number for chunked sources, an optional timestamp
/// (taken only when the task was built with
/// [`with_timestamps`](crate::stream::EmittingTaskBuilder::with_timestamps)) and
/// key/value metadata.
///
/// An event is moved through every stage of a pipeline, so it is kept small: the rare
/// parts (timestamp, metadata, acknowledger) share one allocation, made only for events
/// that have one of them.
///
/// # Examples
///
/// ```
/// use sweet_async::stream::SenderEventBuilder;
///
/// let event = SenderEventBuilder::new(41)
///     .sequence_number(7)
///     .metadata("source", "sensor-3")
///     .build();
/// assert_eq!(event.sequence_number(), 7);
/// assert_eq!(event.metadata_value("source"), Some("sensor-3"));
/// let doubled = event.map_data(|x| x * 2 + 20);
/// assert_eq!(*doubled.data(), 102);
/// assert_eq!(doubled.sequence_number(), 7); // metadata is kept
/// ```
#[doc(alias = "TokioSenderEvent")]
pub struct SenderEvent<T> {
    /// The payload.
    ///
    /// A public field so that a receiver's `async move` block that reads only
    /// `event.data` captures only the payload: its future is then as small as the
    /// payload, where [`into_data`](Self::into_data) or any other method moves the whole
    /// event into it (see the `emits_receiver_collect` bench for what that costs).
    pub data: T,
    id: EventId,
    // Valid when `flags & HAS_POSITION`; kept unwrapped (with flags) so an event stays
    // small: events are moved through every stage of a pipeline.
    position: Position,
    // Valid when `flags & HAS_BATCH`.
    batch: u64,
    // An interned source name: `Copy`, so that the rare parts below are the event's
    // only drop work (other names live there).
    origin: Option<Interned>,
    extras: Option<Box<Extras>>,
    // Which of the fields above are set, and three facts the receiver reads for every
    // event, as bits of one whole word (no padding bytes for every move of the event to
    // copy). Kept with its number: the plain design (`Option<Position>`, `Option<u64>`
    // and three `bool`s, the same size) costs 128.6 instead of 112.6 instructions per
    // event through emits -> receiver(Serial) -> await_final_event (callgrind, +14%).
    flags: u64,
}

const HAS_POSITION: u64 = 1;
const HAS_BATCH: u64 = 2;
const IS_FINAL: u64 = 4;
// The rare parts hold an acknowledgement: read by the receiver for every event, so it is
// a bit of the word the event carries in a register, not a load from the rare parts
// (77.5 -> 67 instructions per event through emits -> receiver -> collect).
const OWES_ACK: u64 = 8;
// The rare parts carry the link to the source's counts: read by the receiver for every
// event, like `OWES_ACK`.
const CARRIES_LINK: u64 = 16;

/// The event as a receiver sees it: the same type as [`SenderEvent`].
pub type ReceiverEvent<T> = SenderEvent<T>;

/// An event of a continuous stream, with `acknowledge`/`reject`: the same type as
/// [`SenderEvent`].
pub type StreamingEvent<T> = SenderEvent<T>;

impl<T> SenderEvent<T> {
    /// An event built by hand, with sequence number 0 and a zero task id; use
    /// [`SenderEventBuilder`] to set more.
    pub fn new(data: T) -> Self {
        SenderEvent {
            data,
            id: EventId::default(),
            position: Position::new(0, 0),
            batch: 0,
            origin: None,
            extras: None,
            flags: 0,
        }
    }

    /// Used by the emitting stream: event `seq` of the stream stamped by `stamp`, made of
    /// the source's `item`.
    #[inline(always)]
    pub(crate) fn emitted(
        item: Located<T>,
        seq: u64,
        is_final: bool,
        stamp: &Stamp,
        // The stream has cold settings: its events may have rare parts.
        cold: bool,
    ) -> Self {
        let Located {
            value: data,
            position,
            batch,
            acks,
        } = item;
        let mut flags = 0;
        if position.is_some() {
            flags |= HAS_POSITION;
        }
        if batch.is_some() {
            flags |= HAS_BATCH;
        }
        if is_final {
            flags |= IS_FINAL;
        }
        if !acks.is_empty() {
            flags |= OWES_ACK;
        }
        SenderEvent {
            data,
            id: EventId::new(stamp.task, seq),
            position: position.unwrap_or(Position::new(0, 0)),
            batch: batch.unwrap_or(0),
            origin: stamp.origin,
            extras: if !acks.is_empty() {
                stamp.extras_owing(acks)
            } else if cold && stamp.rare {
                stamp.extras()
            } else {
                None
            },
            flags,
        }
    }

    /// The payload.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The payload, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.data
    }

    /// Consumes the event and returns the payload.
    #[inline]
    pub fn into_data(self) -> T {
        let SenderEvent { data, extras, .. } = self;
        // Free the extras only when there are some: no call per event otherwise.
        if let Some(extras) = extras {
            drop(extras);
        }
        data
    }

    /// The event's key: task id plus sequence number.
    pub fn id(&self) -> EventId {
        self.id
    }

    /// The id of the task that emitted the event.
    pub fn task_id(&self) -> TaskId {
        self.id.task
    }

    /// The event's number within its task, in emission order (starts at 0).
    pub fn sequence_number(&self) -> u64 {
        self.id.seq
    }

    /// When the event was emitted, if the task takes timestamps (opt-in, with
    /// [`with_timestamps`](crate::stream::EmittingTaskBuilder::with_timestamps)) or one
    /// was set by hand; `None` otherwise.
    pub fn timestamp(&self) -> Option<SystemTime> {
        let nanos = self.extras.as_ref()?.timestamp?;
        SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_nanos(nanos))
    }

    /// Where the item was in its source (line and byte offset), for file sources.
    #[doc(alias = "stream_position")]
    pub fn position(&self) -> Option<Position> {
        (self.flags & HAS_POSITION != 0).then_some(self.position)
    }

    /// The byte offset of the item in its source, for file sources.
    pub fn offset(&self) -> Option<u64> {
        self.position().map(|p| p.byte)
    }

    /// The name of the source (the file path for file sources).
    ///
    /// Emitting tasks intern their source's name once per distinct name for the life of
    /// the process (the first 4096 names; later ones are reference-counted), so events
    /// carry it without a reference-count update each.
    #[doc(alias = "source_id")]
    pub fn source_name(&self) -> Option<&str> {
        match self.origin {
            Some(name) => Some(name.as_str()),
            None => self.extras.as_ref()?.name.as_deref().map(String::as_str),
        }
    }

    /// The number of the chunk this event carries, for chunked sources (from 0).
    pub fn batch_id(&self) -> Option<u64> {
        (self.flags & HAS_BATCH != 0).then_some(self.batch)
    }

    /// `true` for the last event of its source, when the source knows it is the last.
    ///
    /// Iterator and file sources know; channels and foreign streams cannot, so their
    /// events are never marked final: the end of the stream is the reliable signal.
    pub fn is_final(&self) -> bool {
        self.flags & IS_FINAL != 0
    }

    /// The metadata pairs, in insertion order (empty unless some were set).
    pub fn metadata(&self) -> &[(Arc<str>, String)] {
        self.extras.as_ref().map_or(&[], |e| e.metadata.as_slice())
    }

    /// The value of the first metadata pair named `key`.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata()
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Adds a metadata pair (allocates the metadata the first time).
    pub fn insert_metadata(&mut self, key: impl Into<Arc<str>>, value: impl Into<String>) {
        self.extras
            .get_or_insert_with(Box::default)
            .metadata
            .push((key.into(), value.into()));
    }

    /// Tells the source the event was handled (acks the broker message, lets a cumulative
    /// commit pass it); a no-op for sources without acknowledgements and for an event
    /// whose acknowledgement was already settled or taken.
    ///
    /// The receiver does this by itself when its closure returns `Ok`; call it in your
    /// own consumer of the stream, or take the obligation with
    /// [`take_acks`](TakeAcks::take_acks) to settle it later (after a write of your own).
    #[doc(alias = "ack")]
    pub fn acknowledge(&mut self) {
        self.take_acks().ack();
    }

    /// Tells the source the event could not be handled, for `reason`: a broker redelivers
    /// it (or parks it after its delivery limit). A no-op for sources without
    /// acknowledgements.
    #[doc(alias = "nack")]
    pub fn reject(&mut self, reason: impl fmt::Display + Send + Sync) {
        self.take_acks().reject(&reason);
    }

    /// The emitting stream: this event carries the link to its source's counts.
    #[cold]
    pub(crate) fn carry_link(&mut self, stats: SourceStats) {
        self.extras.get_or_insert_with(Box::default).link = CarriedLink(Some(stats));
        self.flags |= CARRIES_LINK;
    }

    /// A stage that takes events inside a terminal's poll (the receiver): links the
    /// event's source to that terminal if the event carries the link. One bit test for
    /// every other event.
    #[inline(always)]
    pub(crate) fn link_source(&mut self) {
        if self.flags & CARRIES_LINK != 0 {
            self.link_source_cold();
        }
    }

    #[cold]
    #[inline(never)]
    fn link_source_cold(&mut self) {
        self.flags &= !CARRIES_LINK;
        if let Some(stats) = self.extras.as_mut().and_then(|e| e.link.0.take()) {
            stats.link_current();
        }
    }

    /// `true` when the event still owes its source an acknowledgement.
    pub fn owes_ack(&self) -> bool {
        self.flags & OWES_ACK != 0
    }

    /// Transforms the payload, keeping the key, position and metadata.
    pub fn map_data<U>(self, f: impl FnOnce(T) -> U) -> SenderEvent<U> {
        SenderEvent {
            data: f(self.data),
            id: self.id,
            position: self.position,
            batch: self.batch,
            origin: self.origin,
            extras: self.extras,
            flags: self.flags,
        }
    }
}

/// A clone of an event carries no acknowledgement: the original settles it, once.
impl<T: Clone> Clone for SenderEvent<T> {
    fn clone(&self) -> Self {
        SenderEvent {
            data: self.data.clone(),
            id: self.id,
            position: self.position,
            batch: self.batch,
            origin: self.origin,
            flags: self.flags & !(OWES_ACK | CARRIES_LINK),
            extras: self.extras.as_ref().map(|e| Box::new(e.without_acks())),
        }
    }
}

impl<T> TakeAcks for SenderEvent<T> {
    #[inline]
    fn take_acks(&mut self) -> Acks {
        if self.flags & OWES_ACK == 0 {
            return Acks::none();
        }
        self.flags &= !OWES_ACK;
        self.extras
            .as_mut()
            .map_or_else(Acks::none, |extras| extras.acks.take())
    }
}

impl<T: fmt::Debug> fmt::Debug for SenderEvent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SenderEvent");
        d.field("id", &self.id).field("data", &self.data);
        if let Some(p) = &self.position() {
            d.field("position", p);
        }
        if let Some(name) = self.source_name() {
            d.field("source", &name);
        }
        if let Some(b) = &self.batch_id() {
            d.field("batch", b);
        }
        if let Some(t) = &self.timestamp() {
            d.field("timestamp", t);
        }
        if self.is_final() {
            d.field("is_final", &true);
        }
        if !self.metadata().is_empty() {
            d.field("metadata", &self.metadata());
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::origin::Origin;

    #[test]
    fn emitted_events_carry_their_stamp() {
        let task = TaskId::new();
        let interned = Stamp::new(task, Some(Origin::interned(Arc::from("a.csv"))), false);
        let e = SenderEvent::emitted(
            Located::at(1, Position::new(3, 40)),
            7,
            true,
            &interned,
            true,
        );
        assert_eq!(
            (e.id(), e.source_name()),
            (EventId::new(task, 7), Some("a.csv"))
        );
        assert_eq!(
            (e.position(), e.batch_id(), e.is_final()),
            (Some(Position::new(3, 40)), None, true)
        );
        assert!(e.extras.is_none() && e.timestamp().is_none());

        // A name past the interning limit travels in the event's rare parts.
        let shared = Stamp::new(task, Some(Origin::Shared(Arc::new("b.csv".into()))), true);
        let e = SenderEvent::emitted(
            Located {
                batch: Some(4),
                ..Located::bare(2)
            },
            8,
            false,
            &shared,
            true,
        );
        assert_eq!(
            (e.source_name(), e.batch_id(), e.position()),
            (Some("b.csv"), Some(4), None)
        );
        assert!(e.timestamp().is_some());
        assert_eq!(e.clone().source_name(), Some("b.csv"));
    }
}
