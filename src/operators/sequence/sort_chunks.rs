use std::cmp::Ordering;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::{Phase, SequenceCounts, SequenceError, guard};
use crate::error::ConfigError;
use crate::units::Count;

const OPERATOR: &str = "sort_chunks";

pin_project! {
    /// Stream for [`sort_chunks`](crate::operators::DataflowExt::sort_chunks).
    #[must_use = "streams do nothing unless polled"]
    pub struct SortChunks<S: Stream, C> {
        #[pin]
        stream: S,
        cmp: C,
        size: usize,
        chunk: Vec<S::Item>,
        phase: Phase,
        counts: SequenceCounts,
    }
}

impl<S: Stream, C> fmt::Debug for SortChunks<S, C>
where
    S: fmt::Debug,
    S::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SortChunks")
            .field("stream", &self.stream)
            .field("size", &self.size)
            .field("chunk", &self.chunk)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl<S, C> SortChunks<S, C>
where
    S: Stream,
    C: FnMut(&S::Item, &S::Item) -> Ordering,
{
    pub(crate) fn new(stream: S, size: impl Into<Count>, cmp: C) -> Result<Self, ConfigError> {
        let size = super::buffer_bound(size.into(), "chunk size")?;
        Ok(SortChunks {
            stream,
            cmp,
            size,
            // Grows as elements arrive: a large chunk size costs nothing up front.
            chunk: Vec::with_capacity(size.min(1024)),
            phase: Phase::Running,
            counts: SequenceCounts::default(),
        })
    }
}

impl<S: Stream, C> SortChunks<S, C> {
    /// What the operator did so far (`emitted` counts elements, not chunks).
    pub fn counts(&self) -> SequenceCounts {
        self.counts
    }

    crate::operators::accessors::stream_accessors!(stream: S);
}

impl<S, C> Stream for SortChunks<S, C>
where
    S: Stream,
    C: FnMut(&S::Item, &S::Item) -> Ordering,
{
    type Item = Result<Vec<S::Item>, SequenceError<S::Item>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if *this.phase != Phase::Running {
                *this.phase = Phase::Done;
                return Poll::Ready(None);
            }
            match ready!(this.stream.as_mut().poll_next(cx)) {
                Some(item) => {
                    this.counts.items_in = this.counts.items_in.saturating_add(1);
                    this.chunk.push(item);
                    this.counts.set_buffered(this.chunk.len());
                    if this.chunk.len() < *this.size {
                        continue;
                    }
                }
                None if this.chunk.is_empty() => {
                    *this.phase = Phase::Done;
                    return Poll::Ready(None);
                }
                None => *this.phase = Phase::Draining,
            }
            let mut chunk =
                std::mem::replace(this.chunk, Vec::with_capacity((*this.size).min(1024)));
            this.counts.set_buffered(0);
            let cmp = &mut *this.cmp;
            // `sort_by` is stable, and keeps every element in the slice if `cmp` panics.
            return match guard(|| chunk.sort_by(cmp)) {
                Ok(()) => {
                    this.counts.emitted = this.counts.emitted.saturating_add(chunk.len() as u64);
                    Poll::Ready(Some(Ok(chunk)))
                }
                Err(error) => {
                    *this.phase = Phase::Done;
                    this.counts.handed_back =
                        this.counts.handed_back.saturating_add(chunk.len() as u64);
                    Poll::Ready(Some(Err(SequenceError::new(OPERATOR, error, chunk))))
                }
            };
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.phase != Phase::Running {
            return (0, Some(0));
        }
        let held = self.chunk.len();
        let (lower, upper) = self.stream.size_hint();
        let total = |n: usize| n.saturating_add(held).div_ceil(self.size);
        // Every chunk is one item, sorted or handed back in an error that ends the stream.
        let upper = upper
            .and_then(|u| u.checked_add(held))
            .map(|n| n.div_ceil(self.size));
        (total(lower).min(1), upper)
    }
}

impl<S, C> FusedStream for SortChunks<S, C>
where
    S: Stream,
    C: FnMut(&S::Item, &S::Item) -> Ordering,
{
    fn is_terminated(&self) -> bool {
        self.phase == Phase::Done
    }
}
