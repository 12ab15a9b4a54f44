use std::cmp::Ordering;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::{Phase, SequenceCounts, SequenceError, guard, hint};
use crate::error::ConfigError;
use crate::units::Count;

const OPERATOR: &str = "sort_bounded";

/// A min-heap ordered by a user comparator, ties broken by arrival order (stable).
///
/// Elements only move by `swap`, so a panicking comparator leaves every element in
/// `data`: nothing is lost, the heap order may just be broken.
struct CmpHeap<T> {
    data: Vec<(u64, T)>,
}

fn less<T, C>(cmp: &mut C, a: &(u64, T), b: &(u64, T)) -> bool
where
    C: FnMut(&T, &T) -> Ordering,
{
    cmp(&a.1, &b.1).then_with(|| a.0.cmp(&b.0)).is_lt()
}

impl<T> CmpHeap<T> {
    fn with_capacity(n: usize) -> Self {
        CmpHeap {
            data: Vec::with_capacity(n),
        }
    }

    fn len(&self) -> usize {
        self.data.len()
    }

    fn is_less<C: FnMut(&T, &T) -> Ordering>(&self, cmp: &mut C, i: usize, j: usize) -> bool {
        match (self.data.get(i), self.data.get(j)) {
            (Some(a), Some(b)) => less(cmp, a, b),
            _ => false,
        }
    }

    fn sift_up<C: FnMut(&T, &T) -> Ordering>(&mut self, cmp: &mut C, mut i: usize) {
        while i > 0 {
            // `i > 0` here.
            let parent = i.saturating_sub(1) / 2;
            if !self.is_less(cmp, i, parent) {
                break;
            }
            self.data.swap(i, parent);
            i = parent;
        }
    }

    /// Restores the heap below `i`, looking only at `data[..end]`.
    fn sift_down<C: FnMut(&T, &T) -> Ordering>(&mut self, cmp: &mut C, mut i: usize, end: usize) {
        loop {
            // Indices of a `Vec`: below `isize::MAX`, so `2 * i + 2` fits a `usize`.
            let left = i.saturating_mul(2).saturating_add(1);
            let right = left.saturating_add(1);
            let mut min = i;
            if left < end && self.is_less(cmp, left, min) {
                min = left;
            }
            if right < end && self.is_less(cmp, right, min) {
                min = right;
            }
            if min == i {
                return;
            }
            self.data.swap(i, min);
            i = min;
        }
    }

    fn push<C: FnMut(&T, &T) -> Ordering>(&mut self, cmp: &mut C, seq: u64, item: T) {
        self.data.push((seq, item));
        self.sift_up(cmp, self.data.len().saturating_sub(1)); // just pushed
    }

    /// Removes the smallest element. The heap is fixed before the element leaves `data`,
    /// so a panic in `cmp` keeps it inside.
    fn pop<C: FnMut(&T, &T) -> Ordering>(&mut self, cmp: &mut C) -> Option<T> {
        let last = self.data.len().checked_sub(1)?;
        self.data.swap(0, last);
        self.sift_down(cmp, 0, last);
        self.data.pop().map(|(_, item)| item)
    }

    /// Adds `item` and removes the smallest element (which may be `item`).
    fn push_pop<C: FnMut(&T, &T) -> Ordering>(
        &mut self,
        cmp: &mut C,
        seq: u64,
        item: T,
    ) -> Option<T> {
        self.data.push((seq, item));
        let last = self.data.len().saturating_sub(1);
        if last > 0 && self.is_less(cmp, 0, last) {
            self.data.swap(0, last);
            self.sift_down(cmp, 0, last);
        }
        self.data.pop().map(|(_, item)| item)
    }

    fn take(&mut self) -> Vec<T> {
        std::mem::take(&mut self.data)
            .into_iter()
            .map(|(_, item)| item)
            .collect()
    }
}

pin_project! {
    /// Stream for [`sort_bounded`](crate::operators::DataflowExt::sort_bounded).
    #[must_use = "streams do nothing unless polled"]
    pub struct SortBounded<S: Stream, C> {
        #[pin]
        stream: S,
        cmp: C,
        capacity: usize,
        heap: CmpHeap<S::Item>,
        next_seq: u64,
        phase: Phase,
        counts: SequenceCounts,
    }
}

impl<S: Stream, C> fmt::Debug for SortBounded<S, C>
where
    S: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SortBounded")
            .field("stream", &self.stream)
            .field("capacity", &self.capacity)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl<S, C> SortBounded<S, C>
where
    S: Stream,
    C: FnMut(&S::Item, &S::Item) -> Ordering,
{
    pub(crate) fn new(stream: S, capacity: impl Into<Count>, cmp: C) -> Result<Self, ConfigError> {
        let capacity = super::buffer_bound(capacity.into(), "sort buffer")?;
        Ok(SortBounded {
            stream,
            cmp,
            capacity,
            // Grows as elements arrive: a large bound costs nothing up front.
            heap: CmpHeap::with_capacity(capacity.min(1024)),
            next_seq: 0,
            phase: Phase::Running,
            counts: SequenceCounts::default(),
        })
    }
}

impl<S: Stream, C> SortBounded<S, C> {
    /// What the operator did so far.
    pub fn counts(&self) -> SequenceCounts {
        self.counts
    }

    crate::operators::accessors::stream_accessors!(stream: S);
}

impl<S, C> Stream for SortBounded<S, C>
where
    S: Stream,
    C: FnMut(&S::Item, &S::Item) -> Ordering,
{
    type Item = Result<S::Item, SequenceError<S::Item>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let heap = this.heap;
        let cmp = this.cmp;
        loop {
            let popped = match *this.phase {
                Phase::Done => return Poll::Ready(None),
                Phase::Draining => guard(|| heap.pop(cmp)),
                Phase::Running => match ready!(this.stream.as_mut().poll_next(cx)) {
                    None => {
                        *this.phase = Phase::Draining;
                        continue;
                    }
                    Some(item) => {
                        this.counts.items_in = this.counts.items_in.saturating_add(1);
                        let seq = *this.next_seq;
                        *this.next_seq = this.next_seq.saturating_add(1);
                        if heap.len() < *this.capacity {
                            match guard(|| heap.push(cmp, seq, item)) {
                                Ok(()) => {
                                    this.counts.set_buffered(heap.len());
                                    continue;
                                }
                                Err(error) => Err(error),
                            }
                        } else {
                            guard(|| heap.push_pop(cmp, seq, item))
                        }
                    }
                },
            };
            return match popped {
                Ok(Some(item)) => {
                    this.counts.emitted = this.counts.emitted.saturating_add(1);
                    this.counts.set_buffered(heap.len());
                    Poll::Ready(Some(Ok(item)))
                }
                Ok(None) => {
                    *this.phase = Phase::Done;
                    Poll::Ready(None)
                }
                Err(error) => {
                    *this.phase = Phase::Done;
                    let items = heap.take();
                    this.counts.handed_back =
                        this.counts.handed_back.saturating_add(items.len() as u64);
                    this.counts.set_buffered(0);
                    Poll::Ready(Some(Err(SequenceError::new(OPERATOR, error, items))))
                }
            };
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let held = self.heap.len();
        // Draining calls the comparator, which may panic: only one item is sure.
        hint(self.phase, held, held.min(1), self.stream.size_hint(), 0)
    }
}

impl<S, C> FusedStream for SortBounded<S, C>
where
    S: Stream,
    C: FnMut(&S::Item, &S::Item) -> Ordering,
{
    fn is_terminated(&self) -> bool {
        self.phase == Phase::Done
    }
}
