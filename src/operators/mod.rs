//! Backpressure-aware dataflow operators for every `Stream`, ours and anyone else's.
//!
//! [`DataflowExt`] adds the operators as methods. Each operator lives in its own file,
//! holds a bounded amount of state that the caller can see and set, and pulls from
//! upstream only as fast as downstream consumes. Invalid arguments (zero sizes, zero
//! durations, zero concurrency) are a [`ConfigError`](crate::error::ConfigError), never a
//! panic.

use futures::Stream;

// region: chunk (modules)
// endregion: chunk (modules)

// region: window (modules)
// endregion: window (modules)

// region: sequence (modules)
pub mod sequence;
pub use sequence::{ReorderConfig, SequenceCounts, SequenceError, Sequenced};
// endregion: sequence (modules)

// region: par_map (modules)
// endregion: par_map (modules)

/// Dataflow operators on every [`Stream`].
pub trait DataflowExt: Stream {
    // region: chunk (methods)
    // endregion: chunk (methods)

    // region: window (methods)
    // endregion: window (methods)

    // region: sequence (methods)
    /// Emits elements in non-decreasing timestamp order, behind a bounded-out-of-orderness
    /// watermark; elements that come too late are handed over as [`Sequenced::Late`].
    ///
    /// `ts_of` reads an element's timestamp (an `i64` in your unit: ms, µs, ticks...).
    /// The watermark is Flink's `W = max_timestamp_seen - max_out_of_orderness - 1`: "no
    /// element with a timestamp at or below `W` is expected any more". A buffered element
    /// is emitted as [`Sequenced::Item`] once its timestamp is `<= W`, smallest first;
    /// equal timestamps keep their arrival order. An element whose timestamp is below the
    /// last emitted one cannot be put in order any more: it comes out at once as
    /// [`Sequenced::Late`], never dropped. At the end of the stream everything buffered is
    /// emitted in order.
    ///
    /// The buffer only holds elements not yet released by the watermark, and never more
    /// than [`max_buffered`](sequence::OrderByTimestamp::with_max_buffered) of them
    /// (default [`DEFAULT_MAX_BUFFERED`](sequence::DEFAULT_MAX_BUFFERED)): when an element
    /// arrives with the buffer full, the oldest one is emitted early and the watermark
    /// moves up to it. [`counts()`](sequence::OrderByTimestamp::counts) reports elements
    /// in, emitted, out of order (behind the largest timestamp seen), late and forced out
    /// early; [`watermark()`](sequence::OrderByTimestamp::watermark) the current watermark.
    ///
    /// Seed name: `TimestampSequence` (`order_by_timestamp`, `handle_late_arrival`,
    /// `out_of_order_count`, `late_arrival_count`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`](crate::error::ConfigError::Invalid) when
    /// `max_out_of_orderness` is negative. If `ts_of` panics, the stream yields one
    /// [`SequenceError`] (with [`TaskError::Panicked`](crate::error::TaskError::Panicked))
    /// that hands back the element and everything buffered, then ends.
    ///
    /// # Cancel safety
    ///
    /// Dropping a pending `next()` loses nothing: buffered elements stay in the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{TryStreamExt, stream};
    /// use sweet_async::operators::Sequenced::{Item, Late};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // (timestamp in ms, trade id), up to 2 ms out of order.
    /// let trades = stream::iter([(10, 'a'), (12, 'b'), (11, 'c'), (16, 'd'), (9, 'e'), (20, 'f')]);
    /// let mut ordered = trades.order_by_timestamp(|t| t.0, 2)?;
    /// let mut out = Vec::new();
    /// while let Some(x) = ordered.try_next().await? {
    ///     out.push(x);
    /// }
    /// assert_eq!(
    ///     out,
    ///     [
    ///         Item((10, 'a')),
    ///         Item((11, 'c')),
    ///         Item((12, 'b')),
    ///         Late((9, 'e')), // 12 was already emitted
    ///         Item((16, 'd')),
    ///         Item((20, 'f')), // flushed at the end
    ///     ]
    /// );
    /// let counts = ordered.counts();
    /// assert_eq!((counts.out_of_order, counts.late, counts.emitted), (2, 1, 5));
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "TimestampSequence")]
    fn order_by_timestamp<F>(
        self,
        ts_of: F,
        max_out_of_orderness: i64,
    ) -> Result<sequence::OrderByTimestamp<Self, F>, crate::error::ConfigError>
    where
        Self: Sized,
        F: FnMut(&Self::Item) -> i64,
    {
        sequence::OrderByTimestamp::new(self, ts_of, max_out_of_orderness)
    }

    /// Passes every element through and, where two consecutive elements (in arrival
    /// order) have timestamps more than `threshold` apart, first emits a
    /// [`Sequenced::Gap`] `{ from, to }` with the two timestamps.
    ///
    /// For "the sensor went silent for more than 30 s". Only forward jumps are gaps: a
    /// timestamp smaller than the previous one is not reported (put the stream in order
    /// first with [`order_by_timestamp`](DataflowExt::order_by_timestamp)). Holds at most
    /// one element (the one after a gap marker). [`counts()`](sequence::DetectGaps::counts)
    /// reports elements in, emitted and gaps.
    ///
    /// Seed name: `TimestampSequence::detect_gaps`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`](crate::error::ConfigError::Invalid) when `threshold` is not
    /// positive. If `ts_of` panics, the stream yields one [`SequenceError`] handing back
    /// the element, then ends.
    ///
    /// # Cancel safety
    ///
    /// Dropping a pending `next()` loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{TryStreamExt, stream};
    /// use sweet_async::operators::Sequenced::{Gap, Item};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let readings = stream::iter([0_i64, 10, 20, 60, 70]); // seconds
    /// let out: Vec<_> = readings.detect_gaps(|ts| *ts, 30)?.try_collect().await?;
    /// assert_eq!(out, [Item(0), Item(10), Item(20), Gap { from: 20, to: 60 }, Item(60), Item(70)]);
    /// # Ok(())
    /// # }
    /// ```
    fn detect_gaps<F>(
        self,
        ts_of: F,
        threshold: i64,
    ) -> Result<sequence::DetectGaps<Self, F>, crate::error::ConfigError>
    where
        Self: Sized,
        F: FnMut(&Self::Item) -> i64,
    {
        sequence::DetectGaps::new(self, ts_of, threshold)
    }

    /// Restores sequence-number order: emits elements strictly by id, reporting missing
    /// ids, duplicates and ids that come too late.
    ///
    /// `id_of` reads an element's `u64` sequence number. Ids start at
    /// [`ReorderConfig::first_id`] (default 0) or at the first id seen
    /// ([`ReorderConfig::first_seen`]). The element with the next expected id is emitted
    /// as [`Sequenced::Item`] at once; elements ahead of it wait in a buffer of at most
    /// `max_buffered` elements. When an element overflows the buffer, or the optional
    /// [`gap_timeout`](ReorderConfig::gap_timeout) passes while waiting for the next id
    /// (tokio clock), the missing ids are given up: a [`Sequenced::Gap`] `{ from, to }`
    /// reports them (`from..=to`) and processing goes on from the first buffered id. An
    /// element whose id is already buffered comes out as [`Sequenced::Duplicate`]; one
    /// whose id was emitted or given up as [`Sequenced::AlreadyPassed`]; neither is
    /// emitted twice. At the end of the stream the buffer is emitted in order, with gap
    /// markers for the holes.
    ///
    /// The buffer holds at most `max_buffered` elements whenever an element comes out;
    /// right after a gap marker caused by an overflow it holds one more, emitted next.
    /// [`counts()`](sequence::ReorderById::counts) reports elements in, emitted, out of
    /// order, gaps, missing ids, duplicates and already-passed elements.
    ///
    /// Seed name: `IdSequence`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`](crate::error::ConfigError::Zero) when `max_buffered` is zero,
    /// [`ConfigError::ZeroDuration`](crate::error::ConfigError::ZeroDuration) for a zero
    /// timeout. If `id_of` panics, or a timeout needs a timer outside a tokio runtime
    /// with timers enabled, the stream yields one [`SequenceError`] that hands back every
    /// held element in id order, then ends.
    ///
    /// # Cancel safety
    ///
    /// Dropping a pending `next()` loses nothing: buffered elements stay in the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{TryStreamExt, stream};
    /// use sweet_async::operators::Sequenced::{AlreadyPassed, Duplicate, Gap, Item};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let packets = stream::iter([0_u64, 2, 1, 1, 5, 5, 3, 4, 9]);
    /// let out: Vec<_> = packets.reorder_by_id(|id| *id, 8)?.try_collect().await?;
    /// assert_eq!(
    ///     out,
    ///     [
    ///         Item(0), Item(1), Item(2), AlreadyPassed(1), Duplicate(5),
    ///         Item(3), Item(4), Item(5), Gap { from: 6, to: 8 }, Item(9),
    ///     ]
    /// );
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// With a timeout, a missing id is given up after a while even if the buffer is not
    /// full:
    ///
    /// ```
    /// use futures::{StreamExt, TryStreamExt, stream};
    /// use sweet_async::operators::ReorderConfig;
    /// use sweet_async::operators::Sequenced::{Gap, Item};
    /// use sweet_async::prelude::*;
    /// use tokio::time::Instant;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let start = Instant::now();
    /// // Id 1 never comes, and the source stays open.
    /// let ids = stream::iter([0_u64, 2]).chain(stream::pending());
    /// let config = ReorderConfig::new(1000).gap_timeout(5.seconds());
    /// let mut ordered = ids.reorder_by_id(|id| *id, config)?;
    /// assert_eq!(ordered.try_next().await?, Some(Item(0)));
    /// assert_eq!(ordered.try_next().await?, Some(Gap { from: 1, to: 1 }));
    /// assert_eq!(start.elapsed(), 5.seconds());
    /// assert_eq!(ordered.try_next().await?, Some(Item(2)));
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "IdSequence")]
    fn reorder_by_id<F>(
        self,
        id_of: F,
        config: impl Into<ReorderConfig>,
    ) -> Result<sequence::ReorderById<Self, F>, crate::error::ConfigError>
    where
        Self: Sized,
        F: FnMut(&Self::Item) -> u64,
    {
        sequence::ReorderById::new(self, id_of, config.into())
    }

    /// Sorts by `cmp` within a sliding buffer of `buffer` elements: once the buffer is
    /// full, each new element pushes out the smallest one held.
    ///
    /// The output is fully sorted whenever no element is more than `buffer` places away
    /// from its sorted position (for "nearly sorted" input: log lines from a few servers,
    /// packets reordered by the network); otherwise it is as sorted as the buffer allows.
    /// Equal elements keep their arrival order. At the end of the stream the buffer is
    /// emitted in order. Holds at most `buffer` elements;
    /// [`counts()`](sequence::SortBounded::counts) reports elements in and emitted.
    ///
    /// Seed name: `ComparatorSequence`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`](crate::error::ConfigError::Zero) when `buffer` is zero. If
    /// `cmp` panics, the stream yields one [`SequenceError`] that hands back every held
    /// element (in no particular order), then ends.
    ///
    /// # Cancel safety
    ///
    /// Dropping a pending `next()` loses nothing: buffered elements stay in the stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{TryStreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // No element is more than 2 places away from where it belongs.
    /// let nearly_sorted = stream::iter([3, 1, 2, 5, 4, 6]);
    /// let out: Vec<i32> = nearly_sorted.sort_bounded(2, i32::cmp)?.try_collect().await?;
    /// assert_eq!(out, [1, 2, 3, 4, 5, 6]);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "ComparatorSequence")]
    fn sort_bounded<C>(
        self,
        buffer: impl Into<crate::units::Count>,
        cmp: C,
    ) -> Result<sequence::SortBounded<Self, C>, crate::error::ConfigError>
    where
        Self: Sized,
        C: FnMut(&Self::Item, &Self::Item) -> std::cmp::Ordering,
    {
        sequence::SortBounded::new(self, buffer, cmp)
    }

    /// Groups elements into chunks of `size` (the last one partial, never empty) and
    /// emits each chunk sorted by `cmp` (stable).
    ///
    /// For batches that must be sorted before they are written. To sort the contents of
    /// windows, sort each window with
    /// [`slice::sort_by`](https://doc.rust-lang.org/std/primitive.slice.html#method.sort_by)
    /// in a `map`. Holds at most `size` elements; [`counts()`](sequence::SortChunks::counts)
    /// reports elements in and emitted.
    ///
    /// Seed name: `ComparatorSequence`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`](crate::error::ConfigError::Zero) when `size` is zero. If `cmp`
    /// panics, the stream yields one [`SequenceError`] that hands back the chunk's
    /// elements (in no particular order), then ends.
    ///
    /// # Cancel safety
    ///
    /// Dropping a pending `next()` loses nothing: the chunk being filled stays in the
    /// stream.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{TryStreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rows = stream::iter([5, 3, 9, 1, 2]);
    /// let out: Vec<Vec<i32>> = rows.sort_chunks(2.rows(), |a, b| b.cmp(a))?.try_collect().await?;
    /// assert_eq!(out, [vec![5, 3], vec![9, 1], vec![2]]);
    /// # Ok(())
    /// # }
    /// ```
    fn sort_chunks<C>(
        self,
        size: impl Into<crate::units::Count>,
        cmp: C,
    ) -> Result<sequence::SortChunks<Self, C>, crate::error::ConfigError>
    where
        Self: Sized,
        C: FnMut(&Self::Item, &Self::Item) -> std::cmp::Ordering,
    {
        sequence::SortChunks::new(self, size, cmp)
    }
    // endregion: sequence (methods)

    // region: par_map (methods)
    // endregion: par_map (methods)
}

impl<S: Stream + ?Sized> DataflowExt for S {}
