//! [`PartitionOffsets`]: the offsets of one partition in flight, and the offset it may
//! commit.
//!
//! Kafka commits are cumulative: committing offset `c` says "everything below `c` is
//! done". With events acknowledged out of order (parallel workers, windows that close at
//! different times), the committable offset is the smallest offset delivered and not yet
//! acknowledged, or one past the last delivered offset when every delivery is.

use std::collections::BTreeMap;
use std::ops::{Bound, Range};

/// The deliveries of one partition (within one assignment) and their acknowledgements.
///
/// Deliveries come in increasing offset order; acknowledgements come in any order, as
/// ranges (a chunk or window of consecutive offsets is one range). Only the acknowledged
/// ranges *above* the commit point are stored, merged when they touch, so the structure
/// holds at most one entry per gap of unacknowledged offsets: `ack` costs `O(log n)` in
/// those gaps (and `O(1)` when acknowledgements come in order, the common case), and
/// [`committable`](Self::committable) is a field read.
///
/// Offsets the broker skipped between two deliveries (compacted records, transaction
/// markers) count as acknowledged: nothing will ever acknowledge them.
///
/// # Examples
///
/// ```
/// use sweet_async::connectors::kafka::PartitionOffsets;
///
/// let mut p = PartitionOffsets::new();
/// for offset in [10, 11, 12, 14] {       // 13 was compacted away
///     p.deliver(offset);
/// }
/// assert_eq!(p.committable(), Some(10));
/// p.ack(11..13);                          // a later chunk finished first
/// assert_eq!(p.committable(), Some(10));  // 10 still pins the commit point
/// p.ack(10..11);
/// assert_eq!(p.committable(), Some(14));  // 11, 12 and the gap at 13 are done
/// assert_eq!(p.in_flight(), 1);
/// p.ack(14..15);
/// assert_eq!(p.committable(), Some(15));  // last delivered + 1
/// ```
#[derive(Debug, Clone, Default)]
pub struct PartitionOffsets {
    /// Smallest offset delivered and not acknowledged (`next` when every one is).
    commit: u64,
    /// One past the last delivered offset.
    next: u64,
    /// Acknowledged ranges above `commit` (start → end): disjoint, not touching, each
    /// starting after `commit` and ending at or before `next`.
    acked: BTreeMap<u64, u64>,
    /// Delivered and not acknowledged.
    in_flight: u64,
    /// `false` until the first delivery.
    started: bool,
}

impl PartitionOffsets {
    /// Nothing delivered yet.
    pub fn new() -> Self {
        PartitionOffsets::default()
    }

    /// Records the delivery of `offset`. Returns `false` (and changes nothing) for an
    /// offset at or below one delivered before: a redelivery, whose acknowledgement is
    /// harmless because acknowledging an offset twice counts once.
    #[inline]
    // `offset >= self.next` past the check above (equal when starting) and `end > offset`
    // unless `offset == u64::MAX`, where `end == offset`: no subtraction wraps.
    #[allow(clippy::arithmetic_side_effects)]
    pub fn deliver(&mut self, offset: u64) -> bool {
        if !self.started {
            self.started = true;
            self.commit = offset;
            self.next = offset;
        } else if offset < self.next {
            return false;
        }
        let end = offset.saturating_add(1);
        let skipped = offset - self.next;
        self.in_flight = self.in_flight.saturating_add(end - self.next);
        let gap = self.next..offset;
        self.next = end;
        if skipped > 0 {
            // Skipped offsets are done: nothing will acknowledge them.
            self.ack(gap);
        }
        true
    }

    /// Records that deliveries `range` were handled; returns how many of them were
    /// newly acknowledged (offsets already acknowledged, committed or never delivered
    /// count 0).
    #[inline]
    // `start < end` past the check, and `start..end` lies in `commit..next`, none of it
    // acknowledged yet on this path: all of it is counted in `in_flight`.
    #[allow(clippy::arithmetic_side_effects)]
    pub fn ack(&mut self, range: Range<u64>) -> u64 {
        let start = range.start.max(self.commit);
        let end = range.end.min(self.next);
        if start >= end {
            return 0;
        }
        if start == self.commit && self.acked.is_empty() {
            // In order: the commit point moves, nothing is stored.
            self.commit = end;
            self.in_flight -= end - start;
            return end - start;
        }
        self.ack_out_of_order(start, end)
    }

    // `newly` starts at `end - start` (`start < end`, checked by `ack`) and loses only the
    // parts of `start..end` already acknowledged; the stored ranges are disjoint, so it
    // never goes below 0, and each range subtracted starts below `end` and ends after
    // its start. What is newly acknowledged was counted in `in_flight`.
    #[allow(clippy::arithmetic_side_effects)]
    fn ack_out_of_order(&mut self, start: u64, end: u64) -> u64 {
        let mut newly = end - start;
        // The range starting at or before `start`: if it reaches `start`, grow it in
        // place (the common case of acknowledgements arriving almost in order).
        let mut grown = None;
        if let Some((&s, e)) = self.acked.range_mut(..=start).next_back()
            && *e >= start
        {
            newly -= (*e).min(end).saturating_sub(start);
            *e = (*e).max(end);
            grown = Some((s, *e));
        }
        // Ranges starting within `start..=hi` overlap or touch: absorb them.
        let (lo, mut hi) = grown.unwrap_or((start, end));
        // (One bound only: a range query with two bounds descends the tree twice.)
        while let Some((&s, &e)) = self
            .acked
            .range((Bound::Excluded(start), Bound::Unbounded))
            .next()
            .filter(|(s, _)| **s <= hi)
        {
            if s < end {
                newly -= e.min(end) - s;
            }
            hi = hi.max(e);
            self.acked.remove(&s);
        }
        self.in_flight -= newly;
        match grown {
            Some((_, e)) if e == hi => {}
            Some(_) => {
                if let Some(e) = self.acked.get_mut(&lo) {
                    *e = hi;
                }
            }
            None if lo == self.commit => self.commit = hi,
            None => {
                self.acked.insert(lo, hi);
            }
        }
        newly
    }

    /// The offset to commit: the smallest offset delivered and not acknowledged, or one
    /// past the last delivered offset when every delivery is acknowledged. `None` before
    /// the first delivery.
    #[inline]
    pub fn committable(&self) -> Option<u64> {
        self.started.then_some(self.commit)
    }

    /// Deliveries not acknowledged yet.
    #[inline]
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// One past the last delivered offset (`None` before the first delivery).
    pub fn next_offset(&self) -> Option<u64> {
        self.started.then_some(self.next)
    }

    /// Acknowledged ranges stored above the commit point: the structure's size, at most
    /// one more than the unacknowledged offsets above the commit point.
    pub fn stored_ranges(&self) -> usize {
        self.acked.len()
    }

    /// `true` when `offset` was delivered and is not acknowledged.
    pub fn is_pending(&self, offset: u64) -> bool {
        if !self.started || offset < self.commit || offset >= self.next {
            return false;
        }
        match self.acked.range(..=offset).next_back() {
            Some((_, &e)) => e <= offset,
            None => true,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn delivered(offsets: impl IntoIterator<Item = u64>) -> PartitionOffsets {
        let mut p = PartitionOffsets::new();
        for o in offsets {
            assert!(p.deliver(o));
        }
        p
    }

    #[test]
    fn nothing_to_commit_before_the_first_delivery() {
        let mut p = PartitionOffsets::new();
        assert_eq!(p.committable(), None);
        assert_eq!(p.ack(0..10), 0);
        assert_eq!(p.committable(), None);
        assert_eq!(p.next_offset(), None);
    }

    #[test]
    fn in_order_acks_move_the_commit_point_and_store_nothing() {
        let mut p = delivered(100..110);
        assert_eq!(p.committable(), Some(100));
        assert_eq!(p.in_flight(), 10);
        for o in 100..110 {
            assert_eq!(p.ack(o..o + 1), 1);
            assert_eq!(p.committable(), Some(o + 1));
            assert_eq!(p.stored_ranges(), 0);
        }
        assert_eq!(p.in_flight(), 0);
    }

    #[test]
    fn the_first_unacknowledged_offset_pins_the_commit_point() {
        let mut p = delivered(0..10);
        assert_eq!(p.ack(5..8), 3);
        assert_eq!(p.ack(1..3), 2);
        assert_eq!(p.committable(), Some(0));
        assert_eq!(p.stored_ranges(), 2);
        assert_eq!(p.ack(0..1), 1);
        assert_eq!(p.committable(), Some(3)); // 3 and 4 are still open
        assert_eq!(p.ack(3..5), 2);
        assert_eq!(p.committable(), Some(8));
        assert_eq!(p.stored_ranges(), 0);
        assert_eq!(p.in_flight(), 2);
    }

    #[test]
    fn touching_and_overlapping_ranges_merge_and_count_once() {
        let mut p = delivered(0..20);
        assert_eq!(p.ack(4..6), 2);
        assert_eq!(p.ack(6..8), 2); // touches: one range 4..8
        assert_eq!(p.stored_ranges(), 1);
        assert_eq!(p.ack(10..12), 2);
        assert_eq!(p.ack(3..11), 3); // 3, 8, 9 are new; bridges both
        assert_eq!(p.stored_ranges(), 1);
        assert_eq!(p.ack(3..12), 0); // all known
        assert_eq!(p.ack(0..3), 3);
        assert_eq!(p.committable(), Some(12));
        assert_eq!(p.in_flight(), 8);
    }

    #[test]
    fn acks_outside_the_delivered_window_are_ignored() {
        let mut p = delivered(10..15);
        assert_eq!(p.ack(0..10), 0); // below: already committed territory
        assert_eq!(p.ack(15..30), 0); // above: never delivered
        assert_eq!(p.ack(8..12), 2); // clipped to 10..12
        assert_eq!(p.committable(), Some(12));
        assert_eq!(p.ack(10..11), 0); // twice
        assert_eq!(p.in_flight(), 3);
    }

    #[test]
    fn skipped_offsets_count_as_acknowledged() {
        // Offsets 3..7 were compacted away (or are transaction markers).
        let mut p = delivered([1, 2, 7, 8]);
        assert_eq!(p.in_flight(), 4);
        assert_eq!(p.ack(1..3), 2);
        assert_eq!(p.committable(), Some(7));
        // A gap while the commit point is behind it: stored, merged later.
        let mut q = delivered([1, 5]);
        assert_eq!(q.committable(), Some(1));
        assert!(!q.is_pending(3));
        assert_eq!(q.ack(1..2), 1);
        assert_eq!(q.committable(), Some(5));
    }

    #[test]
    fn redeliveries_change_nothing() {
        let mut p = delivered(0..3);
        assert!(!p.deliver(1));
        assert!(!p.deliver(2));
        assert_eq!(p.in_flight(), 3);
        assert_eq!(p.ack(1..2), 1);
        assert_eq!(p.ack(1..2), 0);
        assert!(p.deliver(3));
        assert_eq!(p.in_flight(), 3);
    }

    #[test]
    fn pending_offsets() {
        let mut p = delivered(0..6);
        p.ack(2..4);
        let pending: Vec<u64> = (0..8).filter(|&o| p.is_pending(o)).collect();
        assert_eq!(pending, [0, 1, 4, 5]);
    }

    /// Every split of 0..6 into acked ranges, in every order of four ranges: the
    /// structure agrees with the set model.
    #[test]
    fn exhaustive_small_windows() {
        let n = 6u64;
        let mut ranges = Vec::new();
        for s in 0..=n {
            for e in s..=n {
                ranges.push(s..e);
            }
        }
        for a in &ranges {
            for b in &ranges {
                for c in &ranges {
                    let mut p = delivered(0..n);
                    let mut model = BTreeSet::new();
                    for r in [a, b, c] {
                        let before = model.len() as u64;
                        model.extend(r.clone());
                        let newly = model.len() as u64 - before;
                        assert_eq!(p.ack(r.clone()), newly, "{a:?} {b:?} {c:?}");
                        let min_unacked = (0..n).find(|o| !model.contains(o)).unwrap_or(n);
                        assert_eq!(p.committable(), Some(min_unacked), "{a:?} {b:?} {c:?}");
                        assert_eq!(p.in_flight(), n - model.len() as u64);
                        assert!(p.stored_ranges() as u64 <= p.in_flight() + 1);
                    }
                }
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Deliver(u64), // skip this many offsets, then deliver one
        Ack(u64, u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u64..3).prop_map(Op::Deliver),
            4 => (0u64..60, 1u64..6).prop_map(|(s, l)| Op::Ack(s, l)),
        ]
    }

    proptest! {
        /// Against the model "committable = min unacknowledged delivered offset, or last
        /// delivered + 1": any mix of deliveries with gaps and acknowledgements in any
        /// order, overlapping, repeated or out of range.
        #[test]
        fn committable_is_the_smallest_unacknowledged_offset(
            first in 0u64..5,
            ops in proptest::collection::vec(op(), 1..120),
        ) {
            let mut p = PartitionOffsets::new();
            let mut delivered = BTreeSet::new();
            let mut acked = BTreeSet::new();
            let mut next = first;
            for op in ops {
                match op {
                    Op::Deliver(skip) => {
                        let o = next + if delivered.is_empty() { 0 } else { skip };
                        prop_assert!(p.deliver(o));
                        delivered.insert(o);
                        next = o + 1;
                    }
                    Op::Ack(s, len) => {
                        let before = acked.len();
                        for o in s..s + len {
                            if delivered.contains(&o) {
                                acked.insert(o);
                            }
                        }
                        let newly = (acked.len() - before) as u64;
                        prop_assert_eq!(p.ack(s..s + len), newly);
                    }
                }
                let model = delivered
                    .iter()
                    .find(|o| !acked.contains(o))
                    .copied()
                    .or_else(|| delivered.last().map(|l| l + 1));
                prop_assert_eq!(p.committable(), model);
                prop_assert_eq!(p.in_flight(), (delivered.len() - acked.len()) as u64);
                prop_assert!(p.stored_ranges() as u64 <= p.in_flight() + 1);
                for o in delivered.iter().take(8) {
                    prop_assert_eq!(p.is_pending(*o), !acked.contains(o));
                }
            }
        }
    }
}
