//! Session windows: Flink's `EventTimeSessionWindows` / `ProcessingTimeSessionWindows` with
//! the merging of `MergingWindowSet`.

use std::hash::Hash;
use std::time::Duration;

use super::assigner::Shape;
use super::spec::{EventTimeSpec, ProcessingTimeSpec, duration_nanos};
use super::store::TimeCore;
use super::{Fault, WindowAggregate};

/// Session windows: each element opens `[t, t + gap)`, and windows of the same key that
/// overlap or touch merge (events at 0 and 5 with gap 5 are one session `[0, 10)`).
///
/// A namespace for the constructors; pass the spec to a `*_window` method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {}

impl Session {
    /// Event-time sessions closed by `gap` (in the unit of your timestamps) without
    /// elements.
    pub fn event_time(gap: i64) -> EventTimeSpec<Session> {
        EventTimeSpec::new(Shape::Session { gap })
    }

    /// Processing-time sessions closed by `gap` without elements, on the tokio clock.
    pub fn processing_time(gap: Duration) -> ProcessingTimeSpec<Session> {
        ProcessingTimeSpec::new(Shape::Session {
            gap: duration_nanos(gap),
        })
    }
}

impl<K, T, G> TimeCore<K, T, G>
where
    K: Hash + Eq + Clone,
    T: Clone,
    G: WindowAggregate<T>,
{
    /// Adds an element to the sessions of `key` (Flink's `MergingWindowSet.addWindow`,
    /// then the lateness check on the resulting window).
    pub(super) fn insert_session(
        &mut self,
        key: K,
        ts: i64,
        item: T,
        gap: i64,
    ) -> Result<(), Fault> {
        let (start, end) = (ts, ts.saturating_add(gap));
        // The key's sessions are disjoint and do not touch, so the ones this window
        // overlaps or touches (`s.start <= end && s.end >= start`) are consecutive.
        let mut touching = std::mem::take(&mut self.scratch);
        touching.clear();
        if let Some(by_start) = self.index.get(&key) {
            for &(_, idx) in by_start.up_to(end).iter().rev() {
                match self.slots.get(idx) {
                    Some(Some(slot)) if slot.end >= start => touching.push(idx),
                    _ => break,
                }
            }
        }
        let result = match touching.as_slice() {
            [] => {
                if self.is_late(end) {
                    self.late(item);
                    Ok(())
                } else {
                    self.open_and_add(key, start, end, item)
                }
            }
            [idx] if self.covers(*idx, start, end) => self.add_to(*idx, item),
            _ => {
                touching.reverse();
                self.merge_into_new(key, start, end, &touching)
                    .and_then(|idx| self.add_to(idx, item))
            }
        };
        self.scratch = touching;
        result
    }

    fn open_and_add(&mut self, key: K, start: i64, end: i64, item: T) -> Result<(), Fault> {
        self.make_room()?;
        let idx = self.create(key, start, end, None, 0, false);
        self.add_to(idx, item)
    }

    fn covers(&self, idx: usize, start: i64, end: i64) -> bool {
        matches!(self.slots.get(idx), Some(Some(s)) if s.start <= start && s.end >= end)
    }

    /// Replaces the sessions in `slots` (by start) and `[start, end)` with one session
    /// covering them all; its accumulator merges theirs in start order.
    fn merge_into_new(
        &mut self,
        key: K,
        start: i64,
        end: i64,
        slots: &[usize],
    ) -> Result<usize, Fault> {
        let (mut lo, mut hi) = (start, end);
        let (mut count, mut emitted) = (0u64, false);
        let mut merged: Option<G::Acc> = None;
        for &idx in slots {
            let Some(slot) = self.remove(idx) else {
                continue;
            };
            lo = lo.min(slot.start);
            hi = hi.max(slot.end);
            count = count.saturating_add(slot.count);
            emitted |= slot.emitted;
            // While user code merges, the removed windows' elements are in hand.
            self.in_hand = count;
            merged = match (merged, slot.acc) {
                (None, acc) => acc,
                (Some(acc), None) => Some(acc),
                (Some(earlier), Some(later)) => match self.agg.merge(earlier, later) {
                    Some(acc) => Some(acc),
                    None => return Err(Fault::Unmergeable),
                },
            };
        }
        // Merging only shrinks the number of open windows: no eviction needed.
        self.in_hand = 0;
        Ok(self.create(key, lo, hi, merged, count, emitted))
    }
}
