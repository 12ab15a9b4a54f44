use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::{Phase, SequenceCounts, SequenceError, Sequenced, guard, hint};
use crate::error::ConfigError;
use crate::units::Count;

/// The buffer bound of [`order_by_timestamp`](crate::operators::DataflowExt::order_by_timestamp)
/// unless [`OrderByTimestamp::with_max_buffered`] sets another.
pub const DEFAULT_MAX_BUFFERED: usize = 65_536;

const OPERATOR: &str = "order_by_timestamp";

/// A buffered element, ordered so that `BinaryHeap` pops the smallest `(ts, seq)` first.
struct Entry<T> {
    ts: i64,
    seq: u64,
    item: T,
}

impl<T> Entry<T> {
    fn key(&self) -> (i64, u64) {
        (self.ts, self.seq)
    }
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

pin_project! {
    /// Stream for [`order_by_timestamp`](crate::operators::DataflowExt::order_by_timestamp).
    #[must_use = "streams do nothing unless polled"]
    pub struct OrderByTimestamp<S: Stream, F> {
        #[pin]
        stream: S,
        ts_of: F,
        max_out_of_orderness: i64,
        max_buffered: usize,
        heap: BinaryHeap<Entry<S::Item>>,
        next_seq: u64,
        max_ts: Option<i64>,
        last_emitted: Option<i64>,
        // Buffered elements with `ts <= release` are ready: the watermark, or the last
        // emitted timestamp when the buffer bound pushed it ahead of the watermark.
        release: i128,
        phase: Phase,
        counts: SequenceCounts,
    }
}

impl<S: Stream, F> fmt::Debug for OrderByTimestamp<S, F>
where
    S: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderByTimestamp")
            .field("stream", &self.stream)
            .field("max_out_of_orderness", &self.max_out_of_orderness)
            .field("max_buffered", &self.max_buffered)
            .field("max_ts", &self.max_ts)
            .field("last_emitted", &self.last_emitted)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl<S, F> OrderByTimestamp<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> i64,
{
    pub(crate) fn new(stream: S, ts_of: F, max_out_of_orderness: i64) -> Result<Self, ConfigError> {
        if max_out_of_orderness < 0 {
            return Err(ConfigError::Invalid {
                setting: "max out-of-orderness",
                reason: format!("must not be negative, got {max_out_of_orderness}"),
            });
        }
        Ok(OrderByTimestamp {
            stream,
            ts_of,
            max_out_of_orderness,
            max_buffered: DEFAULT_MAX_BUFFERED,
            heap: BinaryHeap::new(),
            next_seq: 0,
            max_ts: None,
            last_emitted: None,
            release: i128::MIN,
            phase: Phase::Running,
            counts: SequenceCounts::default(),
        })
    }

    /// Sets the hard bound on buffered elements (default [`DEFAULT_MAX_BUFFERED`]).
    ///
    /// When an element arrives with the buffer full, the oldest of the buffered elements
    /// and the new one (smallest timestamp, earliest arrival among equals) is emitted at
    /// once, ahead of the watermark, and the operator treats its timestamp as passed:
    /// elements arriving later with a smaller timestamp are late. Nothing is dropped;
    /// [`SequenceCounts::forced`] counts these early emissions.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `max_buffered` is zero, [`ConfigError::OutOfRange`] above
    /// [`MAX_BUFFERED`](super::MAX_BUFFERED).
    pub fn with_max_buffered(
        mut self,
        max_buffered: impl Into<Count>,
    ) -> Result<Self, ConfigError> {
        self.max_buffered = super::buffer_bound(max_buffered.into(), "max buffered")?;
        Ok(self)
    }
}

impl<S: Stream, F> OrderByTimestamp<S, F> {
    /// What the operator did so far.
    pub fn counts(&self) -> SequenceCounts {
        self.counts
    }

    /// The current watermark, `max_ts_seen - max_out_of_orderness - 1`, or `None` before
    /// the first element (or when it is below `i64::MIN`).
    pub fn watermark(&self) -> Option<i64> {
        let max = i128::from(self.max_ts?);
        i64::try_from(
            max.saturating_sub(i128::from(self.max_out_of_orderness))
                .saturating_sub(1),
        )
        .ok()
    }

    /// The hard bound on buffered elements.
    pub fn max_buffered(&self) -> usize {
        self.max_buffered
    }

    crate::operators::accessors::stream_accessors!(stream: S);
}

type Out<T> = Result<Sequenced<T, i64>, SequenceError<T>>;

impl<S, F> Stream for OrderByTimestamp<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> i64,
{
    type Item = Out<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            // Emit what the watermark (or the end of the stream) has released.
            if let Some(top) = this.heap.peek() {
                if *this.phase == Phase::Draining || i128::from(top.ts) <= *this.release {
                    if let Some(entry) = this.heap.pop() {
                        *this.last_emitted = Some(entry.ts);
                        *this.release = (*this.release).max(i128::from(entry.ts));
                        this.counts.emitted = this.counts.emitted.saturating_add(1);
                        this.counts.set_buffered(this.heap.len());
                        return Poll::Ready(Some(Ok(Sequenced::Item(entry.item))));
                    }
                }
            }
            match *this.phase {
                Phase::Running => {}
                Phase::Draining | Phase::Done => {
                    *this.phase = Phase::Done;
                    return Poll::Ready(None);
                }
            }
            let Some(item) = ready!(this.stream.as_mut().poll_next(cx)) else {
                *this.phase = Phase::Draining;
                continue;
            };
            this.counts.items_in = this.counts.items_in.saturating_add(1);
            let ts_of = &mut *this.ts_of;
            let ts = match guard(|| ts_of(&item)) {
                Ok(ts) => ts,
                Err(error) => {
                    let heap = std::mem::take(this.heap);
                    let mut items = Vec::with_capacity(heap.len().saturating_add(1));
                    items.push(item);
                    // `into_sorted_vec` is ascending by `Ord`, which is reversed here.
                    items.extend(heap.into_sorted_vec().into_iter().rev().map(|e| e.item));
                    this.counts.handed_back =
                        this.counts.handed_back.saturating_add(items.len() as u64);
                    this.counts.set_buffered(0);
                    *this.phase = Phase::Done;
                    return Poll::Ready(Some(Err(SequenceError::new(OPERATOR, error, items))));
                }
            };
            if this.max_ts.is_some_and(|max| ts < max) {
                this.counts.out_of_order = this.counts.out_of_order.saturating_add(1);
            }
            if this.last_emitted.is_some_and(|last| ts < last) {
                this.counts.late = this.counts.late.saturating_add(1);
                return Poll::Ready(Some(Ok(Sequenced::Late(item))));
            }
            if this.max_ts.is_none_or(|max| ts > max) {
                *this.max_ts = Some(ts);
                let watermark = i128::from(ts)
                    .saturating_sub(i128::from(*this.max_out_of_orderness))
                    .saturating_sub(1);
                *this.release = (*this.release).max(watermark);
            }
            let entry = Entry {
                ts,
                seq: *this.next_seq,
                item,
            };
            *this.next_seq = this.next_seq.saturating_add(1);
            if this.heap.len() < *this.max_buffered {
                this.heap.push(entry);
                this.counts.set_buffered(this.heap.len());
                continue;
            }
            // The buffer is full: the oldest of the buffered elements and the new one goes
            // out now, ready or not.
            let out = match this.heap.peek_mut() {
                Some(mut top) if top.key() < entry.key() => std::mem::replace(&mut *top, entry),
                _ => entry,
            };
            if i128::from(out.ts) > *this.release {
                this.counts.forced = this.counts.forced.saturating_add(1);
                *this.release = i128::from(out.ts);
            }
            *this.last_emitted = Some(out.ts);
            this.counts.emitted = this.counts.emitted.saturating_add(1);
            return Poll::Ready(Some(Ok(Sequenced::Item(out.item))));
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let held = self.heap.len();
        hint(self.phase, held, held, self.stream.size_hint(), 0)
    }
}

impl<S, F> FusedStream for OrderByTimestamp<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> i64,
{
    fn is_terminated(&self) -> bool {
        self.phase == Phase::Done
    }
}
