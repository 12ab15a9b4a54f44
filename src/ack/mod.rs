//! Acknowledgements: how the handling of an event reaches the source it came from.
//!
//! A source that can redeliver (a broker, a work-queue table) gives every item an [`Acks`]:
//! an obligation to tell the source, once, how the item ended. The obligation travels with
//! the item through the pipeline; operators that combine items (chunks, windows, sorting)
//! merge their inputs' obligations into their output with [`Acks::merge`], so nothing is
//! acknowledged before the output that contains it was handled. The terminal stage settles
//! it: [`ack`](Acks::ack) when the item was handled (the receiver returned `Ok`, a sink's
//! server confirmed the write), [`reject`](Acks::reject) when it failed. An obligation that
//! is dropped unsettled is [released](Outcome::Released): the source treats the item as
//! not handled (a broker redelivers it, a cumulative commit stays behind it).
//!
//! # Where obligations go
//!
//! | stage | what happens to the obligation |
//! |---|---|
//! | a source with acknowledgements | attaches one per delivery ([`Located::with_acks`](crate::stream::Located::with_acks)) |
//! | a source error (bad payload) | rejected at once with the error, whatever the error policy |
//! | `into_chunks(n)` | the chunk owes all its items' deliveries, merged into ranges |
//! | windows with [`KeepAcks`](crate::operators::window::KeepAcks), or the default contents | the window's last firing owes every element's delivery; early and late updates owe none |
//! | sorting, reordering, `key_by`, filters that keep the event | the event keeps its own |
//! | `map`/`par_map` closures that consume the event | dropped, so released (redelivered, never acknowledged): keep the event (`event.map_data(..)`), or move the obligation into an [`Acked`] |
//! | the receiver | acknowledged when its call returns `Ok`, rejected on `Err` or panic (or acknowledged, by the [`OnFailure`](crate::collect::OnFailure) policy) |
//! | a connector's sink | acknowledged after the server confirmed the write; rejected when it failed |
//! | events collected by `await_final_event` or `collect_vec` | still owed: the caller holds them |
//!
//! # Representation
//!
//! An obligation names deliveries as ranges `start..end` of a source's own numbering (an
//! offset, a delivery counter) per partition, so a chunk of a thousand consecutive
//! deliveries carries one range, and acknowledging it is one call into the source. An item
//! from a source without acknowledgements carries [`Acks::none`], a null pointer that
//! costs nothing to move or drop; an event marks that it owes one in the flags it already
//! carries, so the receiver's check costs nothing either.
//!
//! # The guarantee: at least once
//!
//! No delivery is acknowledged before everything derived from it was handled, so when the
//! process dies the source redelivers every delivery that was not: nothing is lost.
//! Duplicates appear for exactly these deliveries:
//!
//! - handled (processed, written by a sink) but whose acknowledgement had not reached the
//!   source when the process died;
//! - still in flight when the broker's own redelivery timer ran out (NATS `ack_wait`): the
//!   NATS source sends progress acknowledgements for deliveries it still holds, to avoid
//!   this;
//! - released (dropped unsettled) and redelivered while their output had been written
//!   through another path.
//!
//! A sink that writes idempotently (an upsert keyed by the source's delivery id, a
//! message id the broker deduplicates) turns this into effectively-once output.
//!
//! # Open windows pin the commit point
//!
//! A window holds its elements' obligations until it fires for the last time (its end
//! plus the allowed lateness has passed the watermark). A source that commits
//! cumulatively (Kafka offsets) can commit only up to its first unacknowledged delivery, so
//! the oldest open window's first element holds the commit point back, and a crash replays
//! from there: the replay rebuilds the open windows. A source that acknowledges each
//! delivery (NATS, a work-queue row) keeps the window's deliveries unacknowledged for as
//! long: its redelivery timeout must exceed the window's span plus out-of-orderness and
//! lateness, or be covered by progress acknowledgements.

mod report;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

pub use report::AckCounts;
pub(crate) use report::scope;

/// How an obligation was settled.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// Handled: the source may forget the deliveries (commit, ack, delete).
    Acked,
    /// Failed for the given reason: the source redelivers, parks or dead-letters them,
    /// as it is configured.
    Rejected(&'a (dyn fmt::Display + Send + Sync)),
    /// Dropped without a verdict (the pipeline stopped, the item was filtered out before a
    /// terminal): the source treats the deliveries as not handled.
    Released,
}

impl fmt::Debug for Outcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Acked => f.write_str("Acked"),
            Outcome::Rejected(reason) => write!(f, "Rejected({reason})"),
            Outcome::Released => f.write_str("Released"),
        }
    }
}

impl fmt::Display for Outcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Acked => f.write_str("acknowledged"),
            Outcome::Rejected(reason) => write!(f, "rejected: {reason}"),
            Outcome::Released => f.write_str("released unacknowledged"),
        }
    }
}

/// The receiving end of acknowledgements: implemented by a source's tracker.
///
/// `settle` is called once per delivery range, from whatever task handled the item; it
/// must not block (queue the work for the source's own task).
pub trait AckSink: Send + Sync + 'static {
    /// Deliveries `range` of `partition` ended with `outcome`.
    fn settle(&self, partition: u32, range: Range<u64>, outcome: Outcome<'_>);
}

/// One range of deliveries of one source partition.
#[derive(Clone)]
struct Entry {
    sink: Arc<dyn AckSink>,
    partition: u32,
    range: Range<u64>,
}

impl Entry {
    /// Extends `self` by `next` when both are the same sink and partition and the ranges
    /// touch.
    fn absorb(&mut self, next: &Entry) -> bool {
        if self.partition == next.partition
            && Arc::ptr_eq(&self.sink, &next.sink)
            && self.range.end == next.range.start
        {
            self.range.end = next.range.end;
            true
        } else {
            false
        }
    }

    fn len(&self) -> u64 {
        self.range.end.saturating_sub(self.range.start)
    }
}

/// The common case (one range) lives inline; more ranges spill to `more`.
struct Set {
    first: Entry,
    more: Vec<Entry>,
}

/// An item's obligation to tell its source how it ended; see the [module docs](self).
///
/// Not `Clone`: one obligation, settled once. Dropping it unsettled releases it
/// ([`Outcome::Released`]).
///
/// # Examples
///
/// ```
/// use std::ops::Range;
/// use std::sync::{Arc, Mutex};
/// use sweet_async::ack::{AckSink, Acks, Outcome};
///
/// #[derive(Default)]
/// struct Log(Mutex<Vec<String>>);
/// impl AckSink for Log {
///     fn settle(&self, partition: u32, range: Range<u64>, outcome: Outcome<'_>) {
///         self.0.lock().unwrap().push(format!("{partition}:{range:?} {outcome:?}"));
///     }
/// }
///
/// let log = Arc::new(Log::default());
/// let sink: Arc<dyn AckSink> = log.clone();
/// // Three deliveries, merged as a chunk would merge them.
/// let mut chunk = Acks::none();
/// for offset in 10..13 {
///     chunk.merge(Acks::new(sink.clone(), 0, offset..offset + 1));
/// }
/// assert_eq!(chunk.len(), 3);
/// chunk.ack();
/// assert_eq!(*log.0.lock().unwrap(), ["0:10..13 Acked"]);
/// ```
#[derive(Default)]
pub struct Acks(Option<Box<Set>>);

impl Acks {
    /// No obligation: the item's source does not take acknowledgements.
    #[inline]
    pub const fn none() -> Self {
        Acks(None)
    }

    /// The obligation for deliveries `range` of `partition`, owed to `sink`.
    pub fn new(sink: Arc<dyn AckSink>, partition: u32, range: Range<u64>) -> Self {
        Acks(Some(Box::new(Set {
            first: Entry {
                sink,
                partition,
                range,
            },
            more: Vec::new(),
        })))
    }

    /// `true` when there is nothing to settle.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// How many deliveries this obligation covers.
    pub fn len(&self) -> u64 {
        self.0.as_ref().map_or(0, |set| {
            set.more
                .iter()
                .fold(set.first.len(), |n, e| n.saturating_add(e.len()))
        })
    }

    /// The ranges, as `(partition, range)` pairs, in the order they were merged.
    pub fn ranges(&self) -> impl Iterator<Item = (u32, Range<u64>)> + '_ {
        self.0
            .iter()
            .flat_map(|set| std::iter::once(&set.first).chain(set.more.iter()))
            .map(|e| (e.partition, e.range.clone()))
    }

    /// Takes over `other`'s obligation: what a chunk or window does with its elements'.
    /// Ranges that continue the last one of the same source and partition are joined.
    pub fn merge(&mut self, mut other: Acks) {
        let Some(theirs) = other.0.take() else {
            return;
        };
        let Some(mine) = self.0.as_mut() else {
            self.0 = Some(theirs);
            return;
        };
        let Set { first, more } = *theirs;
        for entry in std::iter::once(first).chain(more) {
            let last = mine.more.last_mut().unwrap_or(&mut mine.first);
            if !last.absorb(&entry) {
                mine.more.push(entry);
            }
        }
    }

    /// Moves the obligation out, leaving none behind.
    #[inline]
    pub fn take(&mut self) -> Acks {
        Acks(self.0.take())
    }

    /// The item was handled: the source may forget it.
    #[inline]
    pub fn ack(mut self) {
        self.settle(Outcome::Acked);
    }

    /// The item failed for `reason`.
    #[inline]
    pub fn reject(mut self, reason: &(dyn fmt::Display + Send + Sync)) {
        self.settle(Outcome::Rejected(reason));
    }

    /// Settles every range with `outcome` and counts it in the terminal's report.
    #[inline]
    pub fn settle(&mut self, outcome: Outcome<'_>) {
        if let Some(set) = self.0.take() {
            settle_set(*set, outcome);
        }
    }
}

#[cold]
#[inline(never)]
fn settle_set(set: Set, outcome: Outcome<'_>) {
    let Set { first, more } = set;
    let mut n = 0u64;
    for e in std::iter::once(first).chain(more) {
        n = n.saturating_add(e.len());
        e.sink.settle(e.partition, e.range, outcome);
    }
    report::record(outcome, n);
}

impl Drop for Acks {
    #[inline]
    fn drop(&mut self) {
        if self.0.is_some() {
            self.settle(Outcome::Released);
        }
    }
}

impl fmt::Debug for Acks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ranges()).finish()
    }
}

/// Items that carry acknowledgement obligations: the receiver and the sinks take them out
/// before handing an item over, and settle them once it was handled.
///
/// Implemented for events, for the containers operators build (`Vec`, `Option`,
/// `Result`, fired windows) and for [`Acked`]. Types that carry none implement it by
/// returning [`Acks::none`].
pub trait TakeAcks {
    /// Moves out every obligation this value carries.
    fn take_acks(&mut self) -> Acks;
}

impl<T: TakeAcks> TakeAcks for Vec<T> {
    fn take_acks(&mut self) -> Acks {
        let mut all = Acks::none();
        for item in self.iter_mut() {
            all.merge(item.take_acks());
        }
        all
    }
}

impl<T: TakeAcks> TakeAcks for Option<T> {
    fn take_acks(&mut self) -> Acks {
        self.as_mut().map_or_else(Acks::none, TakeAcks::take_acks)
    }
}

impl<T: TakeAcks, E> TakeAcks for Result<T, E> {
    fn take_acks(&mut self) -> Acks {
        self.as_mut()
            .map_or_else(|_| Acks::none(), TakeAcks::take_acks)
    }
}

impl<A: TakeAcks, B: TakeAcks> TakeAcks for (A, B) {
    fn take_acks(&mut self) -> Acks {
        let mut all = self.0.take_acks();
        all.merge(self.1.take_acks());
        all
    }
}

impl TakeAcks for Acks {
    fn take_acks(&mut self) -> Acks {
        self.take()
    }
}

/// A value with the obligations of the inputs it was made from: the output of an
/// aggregate over acknowledged events (see
/// [`WindowAggregate`](crate::operators::window::WindowAggregate) wrapped by
/// [`KeepAcks`](crate::operators::window::KeepAcks)), or of a user's own combining code.
#[derive(Debug, Default)]
pub struct Acked<T> {
    /// The value.
    pub value: T,
    /// The inputs' obligations, settled when the value is handled.
    pub acks: Acks,
}

impl<T> Acked<T> {
    /// `value`, owing `acks`.
    pub fn new(value: T, acks: Acks) -> Self {
        Acked { value, acks }
    }

    /// The value; the obligation is released unless it was taken first.
    pub fn into_value(self) -> T {
        self.value
    }
}

impl<T> TakeAcks for Acked<T> {
    fn take_acks(&mut self) -> Acks {
        self.acks.take()
    }
}

impl<T: Clone> Clone for Acked<T> {
    /// The clone carries the value only: an obligation is settled once, by the original.
    fn clone(&self) -> Self {
        Acked::new(self.value.clone(), Acks::none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Log(Mutex<Vec<(u32, Range<u64>, String)>>);

    impl AckSink for Log {
        fn settle(&self, partition: u32, range: Range<u64>, outcome: Outcome<'_>) {
            let what = match outcome {
                Outcome::Acked => "ack".to_owned(),
                Outcome::Rejected(r) => format!("reject {r}"),
                Outcome::Released => "release".to_owned(),
            };
            self.0.lock().unwrap().push((partition, range, what));
        }
    }

    fn log() -> (Arc<Log>, Arc<dyn AckSink>) {
        let log = Arc::new(Log::default());
        let sink: Arc<dyn AckSink> = log.clone();
        (log, sink)
    }

    #[test]
    fn merge_joins_touching_ranges_of_one_partition_only() {
        let (log, sink) = log();
        let (_, other) = self::log();
        let mut acks = Acks::none();
        for (p, r) in [(0, 0..1), (0, 1..2), (1, 2..3), (1, 3..5), (0, 7..8)] {
            acks.merge(Acks::new(sink.clone(), p, r));
        }
        acks.merge(Acks::new(other, 0, 8..9));
        assert_eq!(acks.len(), 7);
        assert_eq!(
            acks.ranges().collect::<Vec<_>>(),
            [(0, 0..2), (1, 2..5), (0, 7..8), (0, 8..9)]
        );
        acks.reject(&"bad row");
        assert_eq!(
            *log.0.lock().unwrap(),
            [
                (0, 0..2, "reject bad row".to_owned()),
                (1, 2..5, "reject bad row".to_owned()),
                (0, 7..8, "reject bad row".to_owned()),
            ]
        );
    }

    #[test]
    fn dropped_obligations_are_released_once_and_none_costs_nothing() {
        let (log, sink) = log();
        drop(Acks::new(sink.clone(), 3, 5..6));
        let mut taken = Acks::new(sink, 3, 6..7);
        let moved = taken.take();
        drop(taken);
        moved.ack();
        assert_eq!(
            *log.0.lock().unwrap(),
            [(3, 5..6, "release".to_owned()), (3, 6..7, "ack".to_owned())]
        );
        assert_eq!(std::mem::size_of::<Acks>(), std::mem::size_of::<usize>());
        assert!(Acks::none().is_empty());
        assert_eq!(Acks::none().len(), 0);
    }

    #[test]
    fn containers_take_their_elements_obligations() {
        let (log, sink) = log();
        let mut batch = vec![
            Acked::new(1, Acks::new(sink.clone(), 0, 0..1)),
            Acked::new(2, Acks::new(sink.clone(), 0, 1..2)),
        ];
        let copy = batch.clone();
        let acks = batch.take_acks();
        assert_eq!(acks.len(), 2);
        drop((batch, copy)); // neither the taken-from originals nor clones owe anything
        assert!(log.0.lock().unwrap().is_empty());
        acks.ack();
        assert_eq!(*log.0.lock().unwrap(), [(0, 0..2, "ack".to_owned())]);
    }
}
