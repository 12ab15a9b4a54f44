//! Count windows: tumbling (`n` elements) and sliding (every `s` elements, over the last
//! `n`), per key.
//!
//! Key `k`'s windows are numbered by the count `c` of its elements at which they fire
//! (`c` a multiple of the slide); window `c` holds its elements `max(0, c - n)..c`. A window
//! is opened by its first element and fires at its count, so a key holds at most
//! `ceil(n / s)` accumulators. At the end of the input the window that would fire next
//! fires with what it has if the key has elements not emitted yet (the later windows hold a
//! subset of its elements and are dropped).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::spec::CountConfig;
use super::{
    Contents, Fault, FireReason, Fold, KeySelector, Reduce, Window, WindowAggregate, WindowEvent,
    WindowStats, catch, polled_before_aggregate,
};
use crate::error::TaskError;

struct CountSlot<Acc> {
    /// The key-local count at which the window fires.
    fire_at: u64,
    /// Input position of its first element.
    start: u64,
    /// Input position of its last element.
    last: u64,
    acc: Option<Acc>,
    count: u64,
    seq: u64,
}

struct KeyWindows<Acc> {
    /// Elements of this key since its state was created.
    seen: u64,
    /// Open windows by `fire_at` (also by start).
    windows: VecDeque<CountSlot<Acc>>,
}

pub(crate) struct CountCore<K, T, G: WindowAggregate<T>> {
    size: u64,
    slide: u64,
    max_open: usize,
    /// Applies when `G::KEEPS_ELEMENTS`.
    max_held: u64,
    agg: G,
    keys: HashMap<K, KeyWindows<G::Acc>>,
    /// `(start, seq) -> key` of every open window: eviction and end-of-input order.
    order: BTreeMap<(u64, u64), K>,
    position: u64,
    next_seq: u64,
    open: usize,
    pending: VecDeque<WindowEvent<K, G::Output, T, u64>>,
    stats: WindowStats,
    /// The element being processed is in its windows.
    element_stored: bool,
    /// Elements of a window taken out while user code finishes it.
    in_hand: u64,
}

impl<K, T, G> CountCore<K, T, G>
where
    K: Hash + Eq + Clone,
    T: Clone,
    G: WindowAggregate<T>,
{
    fn new(config: &CountConfig, agg: G) -> Self {
        CountCore {
            size: config.size,
            slide: config.slide,
            max_open: config.max_open_windows,
            max_held: config.max_held_elements,
            agg,
            keys: HashMap::new(),
            order: BTreeMap::new(),
            position: 0,
            next_seq: 0,
            open: 0,
            pending: VecDeque::new(),
            stats: WindowStats::default(),
            element_stored: true,
            in_hand: 0,
        }
    }

    fn stats(&self) -> WindowStats {
        WindowStats {
            open_windows: self.open,
            ..self.stats
        }
    }

    fn touched(&self) -> bool {
        self.stats.elements > 0 || !self.pending.is_empty()
    }

    /// Ends the stream on `error` (see `TimeCore::fail`).
    fn fail(&mut self, error: TaskError) {
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
        self.keys.clear();
        self.order.clear();
        self.open = 0;
        self.pending.push_back(WindowEvent::Error(error));
    }

    fn begin_element(&mut self) {
        self.stats.elements = self.stats.elements.saturating_add(1);
        self.element_stored = false;
    }

    fn push_fired(
        &mut self,
        key: K,
        slot: CountSlot<G::Acc>,
        reason: FireReason,
    ) -> Result<(), Fault> {
        self.open = self.open.saturating_sub(1);
        self.order.remove(&(slot.start, slot.seq));
        self.stats.held_elements = self.stats.held_elements.saturating_sub(slot.count);
        let Some(acc) = slot.acc else { return Ok(()) };
        self.in_hand = slot.count;
        let value = self.agg.finish(acc);
        self.in_hand = 0;
        self.stats.fired = self.stats.fired.saturating_add(1);
        self.pending.push_back(WindowEvent::Fired(Window {
            key,
            start: slot.start,
            end: slot.last.saturating_add(1),
            value,
            count: slot.count,
            reason,
            update: false,
        }));
        Ok(())
    }

    /// Fires the oldest window early until one more fits; never touches `current`'s state
    /// entry (only its windows).
    fn make_room(&mut self, current: &K) -> Result<(), Fault> {
        while self.open >= self.max_open {
            if !self.fire_oldest(Some(current), FireReason::Evicted)? {
                break;
            }
        }
        Ok(())
    }

    /// Fires the oldest open window early for `reason`; `false` when none is open. A key
    /// left without windows (other than `keep`) starts afresh with its next element.
    fn fire_oldest(&mut self, keep: Option<&K>, reason: FireReason) -> Result<bool, Fault> {
        let Some((&(start, seq), key)) = self.order.first_key_value() else {
            return Ok(false);
        };
        let key = key.clone();
        let slot = self.keys.get_mut(&key).and_then(|state| {
            let pos = state.windows.iter().position(|w| w.seq == seq)?;
            state.windows.remove(pos)
        });
        if keep != Some(&key) && self.keys.get(&key).is_some_and(|s| s.windows.is_empty()) {
            self.keys.remove(&key);
        }
        match slot {
            Some(slot) => {
                let counter = match reason {
                    FireReason::Full => &mut self.stats.full,
                    _ => &mut self.stats.evicted,
                };
                *counter = counter.saturating_add(1);
                self.push_fired(key, slot, reason)?;
            }
            None => {
                self.order.remove(&(start, seq));
            }
        }
        Ok(true)
    }

    fn open_window(&mut self, key: &K, fire_at: u64, start: u64) -> Result<(), Fault> {
        self.make_room(key)?;
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        let slot = CountSlot {
            fire_at,
            start,
            last: start,
            acc: None,
            count: 0,
            seq,
        };
        match self.keys.get_mut(key) {
            Some(state) => state.windows.push_back(slot),
            None => {
                self.keys.insert(
                    key.clone(),
                    KeyWindows {
                        seen: 0,
                        windows: VecDeque::from([slot]),
                    },
                );
            }
        }
        self.order.insert((start, seq), key.clone());
        self.open = self.open.saturating_add(1);
        Ok(())
    }

    fn insert(&mut self, key: K, item: T) -> Result<(), Fault> {
        self.insert_element(key, item)?;
        if G::KEEPS_ELEMENTS && self.stats.held_elements >= self.max_held {
            self.shed()?;
        }
        Ok(())
    }

    /// Fires the oldest windows early once the elements held reach `max_held`.
    #[cold]
    #[inline(never)]
    fn shed(&mut self) -> Result<(), Fault> {
        while self.stats.held_elements >= self.max_held {
            if !self.fire_oldest(None, FireReason::Full)? {
                break;
            }
        }
        Ok(())
    }

    fn insert_element(&mut self, key: K, item: T) -> Result<(), Fault> {
        let pos = self.position;
        self.position = self.position.saturating_add(1);
        let seen = self.keys.get(&key).map_or(0, |state| state.seen);
        // Windows whose first element this is: at a key's first element every window
        // firing at a multiple of the slide up to `size`; later, window `seen + size`.
        // Checked steps: a size near `u64::MAX` must end the loop, not wrap and restart
        // it (the spec bounds the number of windows, not the size).
        if seen == 0 {
            let mut fire_at = Some(self.slide);
            while let Some(at) = fire_at.filter(|at| *at <= self.size) {
                self.open_window(&key, at, pos)?;
                fire_at = at.checked_add(self.slide);
            }
        } else if let Some(at) = seen.checked_add(self.size) {
            // A window firing past `u64::MAX` elements never fires: none is opened.
            // `slide` is validated non-zero.
            if at.checked_rem(self.slide) == Some(0) {
                self.open_window(&key, at, pos)?;
            }
        }
        let agg = &mut self.agg;
        let Some(state) = self.keys.get_mut(&key) else {
            return Err(Fault::Lost);
        };
        let n = state.windows.len();
        let mut item = Some(item);
        for (i, slot) in state.windows.iter_mut().enumerate() {
            let element = if i.saturating_add(1) == n {
                item.take()
            } else {
                item.clone()
            };
            let Some(element) = element else { break };
            slot.acc = Some(match slot.acc.take() {
                Some(acc) => agg.add(acc, element),
                None => agg.create(element),
            });
            slot.count = slot.count.saturating_add(1);
            slot.last = pos;
            self.stats.held_elements = self.stats.held_elements.saturating_add(1);
            self.element_stored = true;
        }
        state.seen = state.seen.saturating_add(1);
        let seen = state.seen;
        let due = match state.windows.front() {
            Some(front) if front.fire_at == seen => state.windows.pop_front(),
            _ => None,
        };
        let empty = state.windows.is_empty();
        if empty {
            self.keys.remove(&key);
        }
        if let Some(slot) = due {
            let out_key = if empty { key } else { key.clone() };
            self.push_fired(out_key, slot, FireReason::Count)?;
        }
        Ok(())
    }

    /// End of input: a key with elements since its last firing fires its next window with
    /// what it has; its later windows hold a subset of those elements and are dropped, as
    /// are the windows of a key whose elements were all emitted already.
    fn finish(&mut self) -> Result<(), Fault> {
        let order = std::mem::take(&mut self.order);
        for ((_, seq), key) in order {
            let Some(state) = self.keys.remove(&key) else {
                continue;
            };
            let fire = state.seen.checked_rem(self.slide).is_some_and(|r| r != 0);
            for slot in state.windows {
                if fire && slot.seq == seq {
                    self.push_fired(key.clone(), slot, FireReason::EndOfStream)?;
                } else {
                    self.open = self.open.saturating_sub(1);
                    self.stats.held_elements = self.stats.held_elements.saturating_sub(slot.count);
                }
            }
        }
        Ok(())
    }
}

pin_project! {
    /// Stream for [`DataflowExt::count_window`](crate::operators::DataflowExt::count_window).
    #[must_use = "streams do nothing unless polled"]
    pub struct CountWindow<S, KS, G>
    where
        S: Stream,
        KS: KeySelector<S::Item>,
        G: WindowAggregate<S::Item>,
    {
        #[pin]
        stream: S,
        key: KS,
        config: CountConfig,
        core: CountCore<KS::Key, S::Item, G>,
        done: bool,
    }
}

impl<S, KS> CountWindow<S, KS, Contents>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
{
    pub(crate) fn new(stream: S, key: KS, config: CountConfig) -> Self {
        CountWindow {
            stream,
            key,
            config,
            core: CountCore::new(&config, Contents),
            done: false,
        }
    }

    /// Aggregates each window with `agg` instead of collecting its elements.
    ///
    /// Call it before polling; on a stream already polled, the new stream yields one
    /// [`WindowEvent::Error`] and ends.
    #[doc(alias = "aggregate")]
    pub fn aggregate_windows<G>(self, agg: G) -> CountWindow<S, KS, G>
    where
        G: WindowAggregate<S::Item>,
    {
        let mut core = CountCore::new(&self.config, agg);
        let done = self.done || self.core.touched();
        if done {
            core.fail(polled_before_aggregate());
        }
        CountWindow {
            stream: self.stream,
            key: self.key,
            config: self.config,
            core,
            done,
        }
    }

    /// Folds each window's elements into `init` with `f`, keeping only the accumulator
    /// (one per open window).
    ///
    /// Named so that it never hides `StreamExt::fold`, which folds the stream of windows
    /// itself.
    #[doc(alias = "fold")]
    pub fn fold_windows<B, R>(self, init: B, f: R) -> CountWindow<S, KS, Fold<B, R>>
    where
        B: Clone,
        R: FnMut(B, S::Item) -> B,
    {
        self.aggregate_windows(Fold::new(init, f))
    }

    /// Reduces each window's elements with `f`, keeping only the running value.
    #[doc(alias = "reduce")]
    pub fn reduce_windows<R>(self, f: R) -> CountWindow<S, KS, Reduce<R>>
    where
        R: FnMut(S::Item, S::Item) -> S::Item,
    {
        self.aggregate_windows(Reduce::new(f))
    }
}

impl<S, KS, G> CountWindow<S, KS, G>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    G: WindowAggregate<S::Item>,
{
    /// Counters: elements, windows fired, evictions, open windows.
    pub fn stats(&self) -> WindowStats {
        self.core.stats()
    }

    crate::operators::accessors::stream_accessors!(stream: S);
}

impl<S, KS, G> Stream for CountWindow<S, KS, G>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    G: WindowAggregate<S::Item>,
{
    type Item = WindowEvent<KS::Key, G::Output, S::Item, u64>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let mut budget = super::YIELD_EVERY;
        loop {
            if let Some(event) = this.core.pending.pop_front() {
                return Poll::Ready(Some(event));
            }
            if *this.done {
                return Poll::Ready(None);
            }
            match this.stream.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    *this.done = true;
                    let core = &mut *this.core;
                    if let Err(fault) = catch(|| core.finish()) {
                        core.fail(fault.into());
                    }
                }
                Poll::Ready(Some(item)) => {
                    this.core.begin_element();
                    let (key, core) = (&mut *this.key, &mut *this.core);
                    let step = catch(|| core.insert(key.key(&item), item));
                    if let Err(fault) = step {
                        *this.done = true;
                        core.fail(fault.into());
                    }
                    budget = budget.saturating_sub(1);
                    if budget == 0 && this.core.pending.is_empty() {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = self.core.pending.len();
        if self.done {
            (pending, Some(pending))
        } else {
            (pending, None)
        }
    }
}

impl<S, KS, G> FusedStream for CountWindow<S, KS, G>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    G: WindowAggregate<S::Item>,
{
    fn is_terminated(&self) -> bool {
        self.done && self.core.pending.is_empty()
    }
}

impl<S, KS, G> fmt::Debug for CountWindow<S, KS, G>
where
    S: Stream + fmt::Debug,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    G: WindowAggregate<S::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountWindow")
            .field("stream", &self.stream)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
