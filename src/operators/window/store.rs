//! The open windows of a time window operator (event time or processing time), their
//! timers and their firing: Flink's `WindowOperator` on integer time.
//!
//! A window is a slot `(key, start, end, accumulator)`. Unfired windows have a timer at
//! `end - 1`; a window that fired is kept until its cleanup time
//! `end - 1 + allowed_lateness` so allowed-late elements can update it. The watermark `W`
//! only grows; `advance(W)` fires and cleans up what is due, in due order.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::Hash;

use super::assigner::{Shape, sliding_starts, window_start};
use super::spec::TimeConfig;
use super::{Fault, FireReason, Window, WindowAggregate, WindowEvent, WindowStats};
use crate::error::TaskError;

/// No cached slot.
const NO_SLOT: usize = usize::MAX;

/// One key's open windows: `(start, slot)` sorted by start. A key holds a few windows at
/// a time (one per tumbling window, `size / slide` sliding ones, a few sessions); a sorted
/// vector of them is one small allocation where a `BTreeMap` allocated a node per key
/// (Nexmark q8, a key per person, 200 000 events inline: 41.3 -> 40.6 M instructions,
/// callgrind).
#[derive(Debug, Default)]
pub(super) struct Starts(Vec<(i64, usize)>);

impl Starts {
    fn get(&self, start: i64) -> Option<usize> {
        let i = self.0.binary_search_by_key(&start, |e| e.0).ok()?;
        self.0.get(i).map(|e| e.1)
    }

    fn insert(&mut self, start: i64, idx: usize) {
        match self.0.binary_search_by_key(&start, |e| e.0) {
            Ok(i) => {
                if let Some(e) = self.0.get_mut(i) {
                    e.1 = idx;
                }
            }
            Err(i) => self.0.insert(i, (start, idx)),
        }
    }

    fn remove(&mut self, start: i64) {
        if let Ok(i) = self.0.binary_search_by_key(&start, |e| e.0) {
            self.0.remove(i);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The windows with `start <= end`, in start order.
    pub(super) fn up_to(&self, end: i64) -> &[(i64, usize)] {
        let n = self.0.partition_point(|e| e.0 <= end);
        self.0.get(..n).unwrap_or_default()
    }
}

pub(super) struct Slot<K, Acc> {
    pub(super) key: K,
    pub(super) start: i64,
    pub(super) end: i64,
    /// `None` only for an instant while an element is folded in.
    pub(super) acc: Option<Acc>,
    pub(super) count: u64,
    /// The watermark passed `end - 1` and the window fired; it waits for cleanup.
    pub(super) fired: bool,
    /// Some of its elements were emitted before: its next firing is an update.
    pub(super) emitted: bool,
    pub(super) seq: u64,
}

pub(crate) struct TimeCore<K, T, G: WindowAggregate<T>> {
    pub(super) shape: Shape,
    lateness: i64,
    max_open: usize,
    /// Applies when `G::KEEPS_ELEMENTS`.
    max_held: u64,
    pub(super) agg: G,
    pub(super) slots: Vec<Option<Slot<K, G::Acc>>>,
    free: Vec<usize>,
    /// Open windows by key, then by start.
    pub(super) index: HashMap<K, Starts>,
    /// `(due, seq, slot)`: fire time `end - 1` before firing, cleanup time after.
    timers: BTreeSet<(i64, u64, usize)>,
    /// The earliest due time in `timers` (`i64::MAX` when empty), so the per-element
    /// watermark check is one comparison.
    next_due: i64,
    /// `(end, seq, slot)`: eviction order.
    by_end: BTreeSet<(i64, u64, usize)>,
    watermark: i64,
    next_seq: u64,
    open: usize,
    /// The slot the previous element went to (consecutive elements usually share one).
    last: usize,
    pub(super) scratch: Vec<usize>,
    pending: VecDeque<WindowEvent<K, G::Output, T>>,
    pub(super) stats: WindowStats,
    /// The element being processed is in a window or in the late output.
    element_stored: bool,
    /// Elements of windows taken out of the store while user code runs on them (a final
    /// firing or a session merge): lost if that code panics.
    pub(super) in_hand: u64,
}

impl<K, T, G> TimeCore<K, T, G>
where
    K: Hash + Eq + Clone,
    T: Clone,
    G: WindowAggregate<T>,
{
    pub(crate) fn new(config: &TimeConfig, agg: G) -> Self {
        TimeCore {
            shape: config.shape,
            lateness: config.allowed_lateness,
            max_open: config.max_open_windows,
            max_held: config.max_held_elements,
            agg,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            timers: BTreeSet::new(),
            next_due: i64::MAX,
            by_end: BTreeSet::new(),
            watermark: i64::MIN,
            next_seq: 0,
            open: 0,
            last: NO_SLOT,
            scratch: Vec::new(),
            pending: VecDeque::new(),
            stats: WindowStats::default(),
            element_stored: true,
            in_hand: 0,
        }
    }

    /// The next output, if any is ready.
    pub(crate) fn pop(&mut self) -> Option<WindowEvent<K, G::Output, T>> {
        self.pending.pop_front()
    }

    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// `true` once anything was pulled or emitted.
    pub(crate) fn touched(&self) -> bool {
        self.stats.elements > 0 || !self.pending.is_empty()
    }

    pub(crate) fn stats(&self) -> WindowStats {
        WindowStats {
            open_windows: self.open,
            ..self.stats
        }
    }

    pub(crate) fn watermark(&self) -> i64 {
        self.watermark
    }

    /// The earliest timer, if a window is open.
    pub(crate) fn next_due(&self) -> Option<i64> {
        self.timers.first().map(|t| t.0)
    }

    fn add_timer(&mut self, timer: (i64, u64, usize)) {
        self.timers.insert(timer);
        self.next_due = self.next_due.min(timer.0);
    }

    fn remove_timer(&mut self, timer: (i64, u64, usize)) {
        if self.timers.remove(&timer) && timer.0 <= self.next_due {
            self.next_due = self.timers.first().map_or(i64::MAX, |t| t.0);
        }
    }

    /// Ends the stream on `error` (a panic in user code, caught by the caller around the
    /// whole processing of an element, or a typed error): the error is the last output; the
    /// open windows, the windows user code was working on, and the element in flight are
    /// dropped and counted in `discarded`. The store may be inconsistent after a panic:
    /// everything is cleared.
    pub(crate) fn fail(&mut self, error: TaskError) {
        self.stats.discarded = self
            .stats
            .discarded
            .saturating_add(self.stats.held_elements.saturating_add(self.in_hand));
        if !self.element_stored {
            self.stats.discarded = self.stats.discarded.saturating_add(1);
        }
        self.element_stored = true;
        self.in_hand = 0;
        self.stats.held_elements = 0;
        self.slots.clear();
        self.free.clear();
        self.index.clear();
        self.timers.clear();
        self.next_due = i64::MAX;
        self.by_end.clear();
        self.open = 0;
        self.last = NO_SLOT;
        self.pending.push_back(WindowEvent::Error(error));
    }

    /// Counts an element pulled from upstream, before its key and timestamp are read.
    #[inline]
    pub(crate) fn begin_element(&mut self) {
        self.stats.elements = self.stats.elements.saturating_add(1);
        self.element_stored = false;
    }

    fn cleanup_time(&self, end: i64) -> i64 {
        end.saturating_sub(1).saturating_add(self.lateness)
    }

    /// Flink's `isWindowLate`: the window's cleanup time has passed.
    pub(super) fn is_late(&self, end: i64) -> bool {
        self.cleanup_time(end) <= self.watermark
    }

    pub(super) fn late(&mut self, item: T) {
        self.element_stored = true;
        self.stats.late = self.stats.late.saturating_add(1);
        self.pending.push_back(WindowEvent::Late(item));
    }

    /// Adds one element with timestamp `ts` under `key` (Flink's `processElement`).
    ///
    /// User code runs here (the aggregate): call it inside `catch`, after
    /// [`begin_element`](Self::begin_element).
    #[inline]
    pub(crate) fn insert(&mut self, key: K, ts: i64, item: T) -> Result<(), Fault> {
        self.insert_element(key, ts, item)?;
        if G::KEEPS_ELEMENTS && self.stats.held_elements >= self.max_held {
            self.shed()?;
        }
        Ok(())
    }

    /// Fires windows (smallest end first) once the elements held reach `max_held`.
    #[cold]
    #[inline(never)]
    fn shed(&mut self) -> Result<(), Fault> {
        while self.stats.held_elements >= self.max_held {
            let Some(&(_, _, idx)) = self.by_end.first() else {
                break;
            };
            let Some(slot) = self.remove(idx) else {
                self.by_end.pop_first();
                continue;
            };
            // A fired window already emitted its current value: closing it loses nothing.
            if !slot.fired {
                self.stats.full = self.stats.full.saturating_add(1);
                self.emit_final(slot, FireReason::Full)?;
            }
        }
        Ok(())
    }

    #[inline]
    fn insert_element(&mut self, key: K, ts: i64, item: T) -> Result<(), Fault> {
        // Fast path: a tumbling element usually goes to the previous element's window. An
        // open window is never late (it is closed as soon as the watermark passes its
        // cleanup time).
        if let Shape::Tumbling { .. } = self.shape {
            if let Some(Some(slot)) = self.slots.get(self.last) {
                if slot.start <= ts && ts < slot.end && slot.key == key {
                    return self.add_to(self.last, item);
                }
            }
        }
        self.insert_assigned(key, ts, item)
    }

    fn insert_assigned(&mut self, key: K, ts: i64, item: T) -> Result<(), Fault> {
        match self.shape {
            Shape::Tumbling { size, offset } => {
                let start = window_start(ts, offset, size);
                let end = start.saturating_add(size);
                if self.is_late(end) {
                    self.late(item);
                    return Ok(());
                }
                let idx = self.find_or_create(&key, start, end)?;
                self.add_to(idx, item)
            }
            Shape::Sliding {
                size,
                slide,
                offset,
            } => {
                let (mut open, mut closed) = (0usize, 0u64);
                for start in sliding_starts(ts, size, slide, offset) {
                    if self.is_late(start.saturating_add(size)) {
                        closed = closed.saturating_add(1);
                    } else {
                        open = open.saturating_add(1);
                    }
                }
                if open == 0 {
                    self.late(item);
                    return Ok(());
                }
                self.stats.skipped = self.stats.skipped.saturating_add(closed);
                let mut item = Some(item);
                for start in sliding_starts(ts, size, slide, offset) {
                    let end = start.saturating_add(size);
                    if self.is_late(end) {
                        continue;
                    }
                    open = open.saturating_sub(1);
                    let element = if open == 0 { item.take() } else { item.clone() };
                    if let Some(element) = element {
                        let idx = self.find_or_create(&key, start, end)?;
                        self.add_to(idx, element)?;
                    }
                }
                Ok(())
            }
            Shape::Session { gap } => self.insert_session(key, ts, item, gap),
        }
    }

    fn find_or_create(&mut self, key: &K, start: i64, end: i64) -> Result<usize, Fault> {
        if let Some(Some(slot)) = self.slots.get(self.last) {
            if slot.start == start && slot.key == *key {
                return Ok(self.last);
            }
        }
        let found = self.index.get(key).and_then(|m| m.get(start));
        let idx = match found {
            Some(idx) => idx,
            None => {
                self.make_room()?;
                self.create(key.clone(), start, end, None, 0, false)
            }
        };
        self.last = idx;
        Ok(idx)
    }

    /// Opens a window (the caller made room) and returns its slot.
    pub(super) fn create(
        &mut self,
        key: K,
        start: i64,
        end: i64,
        acc: Option<G::Acc>,
        count: u64,
        emitted: bool,
    ) -> usize {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        let idx = match self.free.pop() {
            Some(i) if i < self.slots.len() => i,
            _ => {
                self.slots.push(None);
                self.slots.len().saturating_sub(1) // just pushed: at least 1
            }
        };
        match self.index.get_mut(&key) {
            Some(by_start) => {
                by_start.insert(start, idx);
            }
            None => {
                self.index.insert(key.clone(), Starts(vec![(start, idx)]));
            }
        }
        if let Some(s) = self.slots.get_mut(idx) {
            *s = Some(Slot {
                key,
                start,
                end,
                acc,
                count,
                fired: false,
                emitted,
                seq,
            });
        }
        self.add_timer((end.saturating_sub(1), seq, idx));
        self.by_end.insert((end, seq, idx));
        self.open = self.open.saturating_add(1);
        self.stats.held_elements = self.stats.held_elements.saturating_add(count);
        idx
    }

    /// Closes a window: removes it from every index and returns it.
    pub(super) fn remove(&mut self, idx: usize) -> Option<Slot<K, G::Acc>> {
        let slot = self.slots.get_mut(idx)?.take()?;
        self.free.push(idx);
        if let Some(by_start) = self.index.get_mut(&slot.key) {
            by_start.remove(slot.start);
            if by_start.is_empty() {
                self.index.remove(&slot.key);
            }
        }
        let due = if slot.fired {
            self.cleanup_time(slot.end)
        } else {
            slot.end.saturating_sub(1)
        };
        self.remove_timer((due, slot.seq, idx));
        self.by_end.remove(&(slot.end, slot.seq, idx));
        self.open = self.open.saturating_sub(1);
        self.stats.held_elements = self.stats.held_elements.saturating_sub(slot.count);
        if self.last == idx {
            self.last = NO_SLOT;
        }
        Some(slot)
    }

    /// Evicts windows (smallest end first) until one more fits.
    pub(super) fn make_room(&mut self) -> Result<(), Fault> {
        while self.open >= self.max_open {
            let Some(&(_, _, idx)) = self.by_end.first() else {
                break;
            };
            let Some(slot) = self.remove(idx) else {
                self.by_end.pop_first();
                continue;
            };
            self.stats.evicted = self.stats.evicted.saturating_add(1);
            // A fired window already emitted its current value: closing it loses nothing.
            if !slot.fired {
                self.emit_final(slot, FireReason::Evicted)?;
            }
        }
        Ok(())
    }

    /// Folds `item` into the window in `idx`; fires it at once if the watermark has
    /// already passed its end (Flink's `EventTimeTrigger.onElement`).
    #[inline]
    pub(super) fn add_to(&mut self, idx: usize, item: T) -> Result<(), Fault> {
        let agg = &mut self.agg;
        let Some(Some(slot)) = self.slots.get_mut(idx) else {
            return Err(Fault::Lost);
        };
        // A panic here loses the accumulator; `fail` counts the window's elements (in
        // `held_elements`) and this one (not stored yet) as discarded.
        slot.acc = Some(match slot.acc.take() {
            Some(acc) => agg.add(acc, item),
            None => agg.create(item),
        });
        slot.count = slot.count.saturating_add(1);
        let fire_now = slot.end.saturating_sub(1) <= self.watermark;
        self.stats.held_elements = self.stats.held_elements.saturating_add(1);
        self.element_stored = true;
        if fire_now {
            self.fire_and_keep(idx, FireReason::LateUpdate)?;
        }
        Ok(())
    }

    /// Emits the window's current value and keeps it open until its cleanup time.
    fn fire_and_keep(&mut self, idx: usize, reason: FireReason) -> Result<(), Fault> {
        let cleanup = self.cleanup_time(self.slot_end(idx));
        let agg = &mut self.agg;
        let Some(Some(slot)) = self.slots.get_mut(idx) else {
            return Err(Fault::Lost);
        };
        let Some(acc) = slot.acc.as_ref() else {
            return Ok(());
        };
        let value = agg.output(acc);
        let window = Window {
            key: slot.key.clone(),
            start: slot.start,
            end: slot.end,
            value,
            count: slot.count,
            reason,
            update: slot.emitted,
        };
        slot.emitted = true;
        if !slot.fired {
            slot.fired = true;
            let (end, seq) = (slot.end, slot.seq);
            self.remove_timer((end.saturating_sub(1), seq, idx));
            self.add_timer((cleanup, seq, idx));
        }
        self.push_fired(window);
        Ok(())
    }

    fn slot_end(&self, idx: usize) -> i64 {
        match self.slots.get(idx) {
            Some(Some(slot)) => slot.end,
            _ => i64::MAX,
        }
    }

    /// Emits a closed window's final value.
    fn emit_final(&mut self, slot: Slot<K, G::Acc>, reason: FireReason) -> Result<(), Fault> {
        let Some(acc) = slot.acc else { return Ok(()) };
        self.in_hand = slot.count;
        let value = self.agg.finish(acc);
        self.in_hand = 0;
        self.push_fired(Window {
            key: slot.key,
            start: slot.start,
            end: slot.end,
            value,
            count: slot.count,
            reason,
            update: slot.emitted,
        });
        Ok(())
    }

    fn push_fired(&mut self, window: Window<K, G::Output>) {
        self.stats.fired = self.stats.fired.saturating_add(1);
        if window.update {
            self.stats.updates = self.stats.updates.saturating_add(1);
        }
        self.pending.push_back(WindowEvent::Fired(window));
    }

    /// Raises the watermark to `watermark` (it never goes back) and fires or cleans up every
    /// window due (Flink's `processWatermark`): a window fires once `W >= end - 1` and is
    /// dropped once `W >= end - 1 + allowed_lateness`.
    #[inline]
    pub(crate) fn advance(&mut self, watermark: i64, reason: FireReason) -> Result<(), Fault> {
        if watermark > self.watermark {
            self.watermark = watermark;
        }
        if self.next_due > self.watermark {
            return Ok(());
        }
        self.fire_due(reason)
    }

    fn fire_due(&mut self, reason: FireReason) -> Result<(), Fault> {
        let w = self.watermark;
        while let Some(&(due, seq, idx)) = self.timers.first() {
            if due > w {
                break;
            }
            self.remove_timer((due, seq, idx));
            let (fired, end) = match self.slots.get(idx) {
                Some(Some(slot)) if slot.seq == seq => (slot.fired, slot.end),
                _ => continue,
            };
            if fired {
                self.remove(idx);
            } else if self.cleanup_time(end) <= w {
                if let Some(slot) = self.remove(idx) {
                    self.emit_final(slot, reason)?;
                }
            } else {
                self.fire_and_keep(idx, reason)?;
            }
        }
        Ok(())
    }

    /// End of input: the watermark becomes `+inf` and every open window fires.
    pub(crate) fn finish(&mut self) -> Result<(), Fault> {
        self.advance(i64::MAX, FireReason::EndOfStream)
    }
}
