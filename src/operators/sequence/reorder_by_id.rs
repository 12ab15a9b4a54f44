use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::{Phase, SequenceCounts, SequenceError, Sequenced, guard, hint};
use crate::error::{ConfigError, TaskError};
use crate::task::timing::try_sleep_until;
use crate::units::Count;

const OPERATOR: &str = "reorder_by_id";

/// Settings of [`reorder_by_id`](crate::operators::DataflowExt::reorder_by_id): the
/// buffer bound, the first id and an optional gap timeout.
///
/// A plain number or a [`Count`] converts into a config with that buffer bound, first id
/// 0 and no timeout: `stream.reorder_by_id(1024, |m| m.seq)`.
///
/// # Examples
///
/// ```
/// use sweet_async::operators::ReorderConfig;
/// use sweet_async::prelude::*;
///
/// let config = ReorderConfig::new(1000.messages())
///     .first_seen()                 // start at whatever id arrives first
///     .gap_timeout(5.seconds());    // give up on a missing id after 5 s
/// assert_eq!(config.max_buffered().get(), 1000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a config does nothing until passed to reorder_by_id"]
pub struct ReorderConfig {
    max_buffered: Count,
    first: Option<u64>,
    timeout: Option<Duration>,
}

impl ReorderConfig {
    /// Buffer at most `max_buffered` out-of-order elements; ids start at 0; no timeout.
    pub fn new(max_buffered: impl Into<Count>) -> Self {
        ReorderConfig {
            max_buffered: max_buffered.into(),
            first: Some(0),
            timeout: None,
        }
    }

    /// The first expected id (default 0). Elements with a smaller id are reported as
    /// [`Sequenced::AlreadyPassed`].
    pub fn first_id(mut self, id: u64) -> Self {
        self.first = Some(id);
        self
    }

    /// The first element to arrive sets the first expected id, whatever it is.
    pub fn first_seen(mut self) -> Self {
        self.first = None;
        self
    }

    /// Gives up on the next expected id when it has not arrived `timeout` after the
    /// operator started waiting for it with later elements buffered (tokio clock, so
    /// paused-time tests control it).
    pub fn gap_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The buffer bound.
    pub fn max_buffered(&self) -> Count {
        self.max_buffered
    }

    /// The first expected id, or `None` for "first seen".
    pub fn first(&self) -> Option<u64> {
        self.first
    }

    /// The gap timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

impl From<usize> for ReorderConfig {
    fn from(max_buffered: usize) -> Self {
        ReorderConfig::new(max_buffered)
    }
}

impl From<Count> for ReorderConfig {
    fn from(max_buffered: Count) -> Self {
        ReorderConfig::new(max_buffered)
    }
}

/// Elements waiting for their turn, by id: a ring of slots for ids less than its width
/// ahead of the next expected one (constant-time insert and take), a `BTreeMap` for ids
/// further ahead.
///
/// Every id in the ring lies in `next..next + width`, so each has its own slot: `next`
/// only moves to an id just emitted plus one, or to the smallest buffered id.
struct IdBuffer<T> {
    /// Empty until the first element arrives out of order, then `width` slots.
    ring: Vec<Option<(u64, T)>>,
    /// A power of two, at most `MAX_RING`.
    width: usize,
    in_ring: usize,
    far: BTreeMap<u64, T>,
}

/// The widest ring: a larger bound keeps its extra elements in the map.
const MAX_RING: usize = 4096;

impl<T> IdBuffer<T> {
    fn new(max_buffered: usize) -> Self {
        IdBuffer {
            ring: Vec::new(),
            width: max_buffered.clamp(1, MAX_RING).next_power_of_two(),
            in_ring: 0,
            far: BTreeMap::new(),
        }
    }

    fn len(&self) -> usize {
        self.in_ring.saturating_add(self.far.len())
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slot(&self, id: u64) -> usize {
        // The mask keeps fewer bits than `usize` has: the cast loses nothing.
        (id & (self.width as u64).saturating_sub(1)) as usize
    }

    /// Buffers an element whose `id` is ahead of `next`, or gives it back when an element
    /// with that id is already buffered.
    fn insert(&mut self, next: u64, id: u64, item: T) -> Result<(), T> {
        if id.wrapping_sub(next) < self.width as u64 {
            if !self.far.is_empty() && self.far.contains_key(&id) {
                return Err(item);
            }
            if self.ring.is_empty() {
                self.ring.resize_with(self.width, || None);
            }
            let slot = self.slot(id);
            if let Some(entry) = self.ring.get_mut(slot) {
                if entry.is_some() {
                    return Err(item);
                }
                *entry = Some((id, item));
                self.in_ring = self.in_ring.saturating_add(1);
                return Ok(());
            }
        }
        match self.far.entry(id) {
            std::collections::btree_map::Entry::Occupied(_) => Err(item),
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(item);
                Ok(())
            }
        }
    }

    /// Removes the element with `id`, looking only where the smallest id can be.
    fn take(&mut self, id: u64) -> Option<T> {
        if self.in_ring > 0 {
            let slot = self.slot(id);
            if let Some(entry) = self.ring.get_mut(slot) {
                if entry.as_ref().is_some_and(|(i, _)| *i == id) {
                    self.in_ring = self.in_ring.saturating_sub(1);
                    return entry.take().map(|(_, item)| item);
                }
            }
        }
        let entry = self.far.first_entry()?;
        if *entry.key() == id {
            Some(entry.remove())
        } else {
            None
        }
    }

    /// The smallest buffered id (the ring is scanned upwards from `next`).
    fn first_id(&self, next: u64) -> Option<u64> {
        let in_ring = if self.in_ring > 0 {
            (0..self.width as u64).find_map(|k| {
                let slot = self.slot(next.wrapping_add(k));
                self.ring.get(slot)?.as_ref().map(|(id, _)| *id)
            })
        } else {
            None
        };
        let far = self.far.keys().next().copied();
        match (in_ring, far) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Every buffered element, in id order.
    fn take_all(&mut self) -> Vec<T> {
        let mut all: Vec<(u64, T)> = self.ring.iter_mut().filter_map(Option::take).collect();
        all.extend(std::mem::take(&mut self.far));
        all.sort_unstable_by_key(|(id, _)| *id);
        self.in_ring = 0;
        all.into_iter().map(|(_, item)| item).collect()
    }
}

/// The id the operator waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Whatever arrives first.
    FirstSeen,
    /// This id.
    Next(u64),
    /// `u64::MAX` was emitted: every later id is already passed.
    Exhausted,
}

pin_project! {
    /// Stream for [`reorder_by_id`](crate::operators::DataflowExt::reorder_by_id).
    #[must_use = "streams do nothing unless polled"]
    pub struct ReorderById<S: Stream, F> {
        #[pin]
        stream: S,
        id_of: F,
        max_buffered: usize,
        timeout: Option<Duration>,
        expect: Expect,
        buffer: IdBuffer<S::Item>,
        // When the operator gives up on `expect` (only with a timeout and a non-empty
        // buffer); the timer is created once and reset.
        deadline: Option<Instant>,
        sleep: Option<Pin<Box<Sleep>>>,
        phase: Phase,
        counts: SequenceCounts,
    }
}

impl<S: Stream, F> fmt::Debug for ReorderById<S, F>
where
    S: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReorderById")
            .field("stream", &self.stream)
            .field("max_buffered", &self.max_buffered)
            .field("timeout", &self.timeout)
            .field("next_id", &self.next_id())
            .field("deadline", &self.deadline)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl<S, F> ReorderById<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> u64,
{
    pub(crate) fn new(stream: S, id_of: F, config: ReorderConfig) -> Result<Self, ConfigError> {
        let max_buffered = super::buffer_bound(config.max_buffered, "max buffered")?;
        let timeout = match config.timeout {
            Some(d) => Some(ConfigError::check_duration("gap timeout", d)?),
            None => None,
        };
        Ok(ReorderById {
            stream,
            id_of,
            max_buffered,
            timeout,
            expect: config.first.map_or(Expect::FirstSeen, Expect::Next),
            buffer: IdBuffer::new(max_buffered),
            deadline: None,
            sleep: None,
            phase: Phase::Running,
            counts: SequenceCounts::default(),
        })
    }
}

impl<S: Stream, F> ReorderById<S, F> {
    /// What the operator did so far.
    pub fn counts(&self) -> SequenceCounts {
        self.counts
    }

    /// The id the operator waits for, or `None` before the first element (with
    /// [`ReorderConfig::first_seen`]) and after `u64::MAX`.
    pub fn next_id(&self) -> Option<u64> {
        match self.expect {
            Expect::Next(id) => Some(id),
            Expect::FirstSeen | Expect::Exhausted => None,
        }
    }

    crate::operators::accessors::stream_accessors!(stream: S);
}

/// The buffer and the bookkeeping that moves `expect` forward.
struct Cursor<'a, T> {
    expect: &'a mut Expect,
    buffer: &'a mut IdBuffer<T>,
    deadline: &'a mut Option<Instant>,
    timeout: Option<Duration>,
    counts: &'a mut SequenceCounts,
}

impl<T> Cursor<'_, T> {
    /// The id after `id` was emitted; restarts the gap clock when later elements wait.
    fn passed(&mut self, id: u64) {
        *self.expect = id.checked_add(1).map_or(Expect::Exhausted, Expect::Next);
        self.restart_clock();
    }

    fn restart_clock(&mut self) {
        *self.deadline = match self.timeout {
            Some(t) if !self.buffer.is_empty() => {
                Some(crate::task::timing::after(Instant::now(), t))
            }
            _ => None,
        };
    }

    /// The next buffered element if it is the expected one.
    fn pop_ready(&mut self) -> Option<T> {
        let Expect::Next(next) = *self.expect else {
            return None;
        };
        if self.buffer.is_empty() {
            return None;
        }
        let item = self.buffer.take(next)?;
        self.passed(next);
        self.counts.emitted = self.counts.emitted.saturating_add(1);
        self.counts.set_buffered(self.buffer.len());
        Some(item)
    }

    /// Gives up on the ids missing before the first buffered one.
    fn skip_to_first(&mut self) -> Option<Sequenced<T, u64>> {
        let Expect::Next(next) = *self.expect else {
            return None;
        };
        let first = self.buffer.first_id(next)?;
        *self.expect = Expect::Next(first);
        *self.deadline = None;
        let to = first.checked_sub(1)?;
        self.counts.gaps = self.counts.gaps.saturating_add(1);
        self.counts.missing = self
            .counts
            .missing
            .saturating_add(first.saturating_sub(next));
        Some(Sequenced::Gap { from: next, to })
    }

    /// All held elements, in id order, for an error.
    fn take_all(&mut self, first: Option<T>) -> Vec<T> {
        let mut items: Vec<T> = first.into_iter().collect();
        items.extend(self.buffer.take_all());
        self.counts.handed_back = self.counts.handed_back.saturating_add(items.len() as u64);
        self.counts.set_buffered(0);
        *self.deadline = None;
        items
    }
}

/// A timer for `deadline`, reusing `sleep`; `None` when no tokio timer is available.
fn arm(sleep: &mut Option<Pin<Box<Sleep>>>, deadline: Instant) -> Option<Pin<&mut Sleep>> {
    match sleep {
        Some(s) => {
            if s.deadline() != deadline {
                s.as_mut().reset(deadline);
            }
        }
        None => *sleep = Some(Box::pin(try_sleep_until(deadline)?)),
    }
    sleep.as_mut().map(|s| s.as_mut())
}

type Out<T> = Result<Sequenced<T, u64>, SequenceError<T>>;

impl<S, F> Stream for ReorderById<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> u64,
{
    type Item = Out<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let mut cur = Cursor {
            expect: this.expect,
            buffer: this.buffer,
            deadline: this.deadline,
            timeout: *this.timeout,
            counts: this.counts,
        };
        loop {
            if let Some(item) = cur.pop_ready() {
                return Poll::Ready(Some(Ok(Sequenced::Item(item))));
            }
            if cur.buffer.len() > *this.max_buffered || *this.phase == Phase::Draining {
                if let Some(gap) = cur.skip_to_first() {
                    return Poll::Ready(Some(Ok(gap)));
                }
                if cur.buffer.is_empty() {
                    *this.phase = Phase::Done;
                }
                // Otherwise the first buffered id is now expected: emit it.
                continue;
            }
            if *this.phase == Phase::Done {
                return Poll::Ready(None);
            }
            if cur.deadline.is_some_and(|d| Instant::now() >= d) {
                if let Some(gap) = cur.skip_to_first() {
                    return Poll::Ready(Some(Ok(gap)));
                }
                continue;
            }
            let item = match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => item,
                Poll::Ready(None) => {
                    *this.phase = Phase::Draining;
                    continue;
                }
                Poll::Pending => {
                    let Some(deadline) = *cur.deadline else {
                        return Poll::Pending;
                    };
                    let Some(sleep) = arm(this.sleep, deadline) else {
                        *this.phase = Phase::Done;
                        let items = cur.take_all(None);
                        return Poll::Ready(Some(Err(SequenceError::new(
                            OPERATOR,
                            TaskError::NoRuntime,
                            items,
                        ))));
                    };
                    if sleep.poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    if let Some(gap) = cur.skip_to_first() {
                        return Poll::Ready(Some(Ok(gap)));
                    }
                    continue;
                }
            };
            cur.counts.items_in = cur.counts.items_in.saturating_add(1);
            let id_of = &mut *this.id_of;
            let id = match guard(|| id_of(&item)) {
                Ok(id) => id,
                Err(error) => {
                    *this.phase = Phase::Done;
                    let items = cur.take_all(Some(item));
                    return Poll::Ready(Some(Err(SequenceError::new(OPERATOR, error, items))));
                }
            };
            let next = match *cur.expect {
                Expect::FirstSeen => id,
                Expect::Next(next) => next,
                Expect::Exhausted => {
                    cur.counts.already_passed = cur.counts.already_passed.saturating_add(1);
                    return Poll::Ready(Some(Ok(Sequenced::AlreadyPassed(item))));
                }
            };
            if id == next {
                cur.passed(id);
                cur.counts.emitted = cur.counts.emitted.saturating_add(1);
                return Poll::Ready(Some(Ok(Sequenced::Item(item))));
            }
            if id < next {
                cur.counts.already_passed = cur.counts.already_passed.saturating_add(1);
                return Poll::Ready(Some(Ok(Sequenced::AlreadyPassed(item))));
            }
            if let Err(item) = cur.buffer.insert(next, id, item) {
                cur.counts.duplicates = cur.counts.duplicates.saturating_add(1);
                return Poll::Ready(Some(Ok(Sequenced::Duplicate(item))));
            }
            cur.counts.out_of_order = cur.counts.out_of_order.saturating_add(1);
            if cur.buffer.len() == 1 {
                cur.restart_clock();
            }
            // An element that overflows the bound is held for one more poll: the gap
            // marker comes first, then the smallest buffered element.
            cur.counts.set_buffered(cur.buffer.len());
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let held = self.buffer.len();
        hint(self.phase, held, held, self.stream.size_hint(), 1)
    }
}

impl<S, F> FusedStream for ReorderById<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> u64,
{
    fn is_terminated(&self) -> bool {
        self.phase == Phase::Done
    }
}
