//! [`ChunksWeighted`]: chunks whose total weight (bytes, rows, cost) stays within a bound.

use std::fmt;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

pin_project! {
    /// Stream for [`DataflowExt::chunked_weighted`](super::DataflowExt::chunked_weighted).
    #[must_use = "streams do nothing unless polled"]
    pub struct ChunksWeighted<S: Stream, F> {
        #[pin]
        stream: S,
        weigh: F,
        items: Vec<S::Item>,
        weight: usize,
        max: NonZeroUsize,
        done: bool,
    }
}

impl<S: Stream, F> ChunksWeighted<S, F>
where
    F: FnMut(&S::Item) -> usize,
{
    pub(crate) fn new(stream: S, max: NonZeroUsize, weigh: F) -> Self {
        ChunksWeighted {
            stream,
            weigh,
            items: Vec::new(),
            weight: 0,
            max,
            done: false,
        }
    }
}

impl<S: Stream, F> ChunksWeighted<S, F> {
    /// The largest total weight of a chunk (a single heavier item forms a chunk alone).
    pub fn max_weight(&self) -> NonZeroUsize {
        self.max
    }

    /// Items pulled from upstream and not yet emitted.
    pub fn buffered_items(&self) -> usize {
        self.items.len()
    }

    /// Total weight of the items pulled and not yet emitted.
    pub fn buffered_weight(&self) -> usize {
        self.weight
    }

    super::accessors::stream_accessors!(stream: S);

    /// The upstream stream and the items of the partial chunk not yet emitted.
    pub fn into_parts(self) -> (S, Vec<S::Item>) {
        (self.stream, self.items)
    }
}

impl<S, F> fmt::Debug for ChunksWeighted<S, F>
where
    S: Stream + fmt::Debug,
    S::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunksWeighted")
            .field("stream", &self.stream)
            .field("items", &self.items)
            .field("weight", &self.weight)
            .field("max", &self.max)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S, F> Stream for ChunksWeighted<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> usize,
{
    type Item = Vec<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let max = this.max.get();
        loop {
            // A chunk that reached the bound goes out before anything more is pulled
            // (this is also where a heavy item held over from the last poll leaves).
            if *this.weight >= max && !this.items.is_empty() {
                *this.weight = 0;
                return Poll::Ready(Some(take(this.items)));
            }
            match ready!(this.stream.as_mut().poll_next(cx)) {
                Some(item) => {
                    let w = (this.weigh)(&item);
                    if !this.items.is_empty() && this.weight.saturating_add(w) > max {
                        // The item does not fit: it opens the next chunk.
                        let full = take(this.items);
                        this.items.push(item);
                        *this.weight = w;
                        return Poll::Ready(Some(full));
                    }
                    this.items.push(item);
                    *this.weight = this.weight.saturating_add(w);
                }
                None => {
                    *this.done = true;
                    *this.weight = 0;
                    let last = std::mem::take(this.items);
                    return Poll::Ready((!last.is_empty()).then_some(last));
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        let held = self.items.len();
        let (lower, upper) = self.stream.size_hint();
        // Everything may fit one chunk; every item may be a chunk of its own.
        let lower = usize::from(lower.saturating_add(held) > 0);
        (lower, upper.and_then(|u| u.checked_add(held)))
    }
}

impl<S, F> FusedStream for ChunksWeighted<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> usize,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}

/// The finished chunk; the next buffer starts with room for as many items as this one had.
fn take<T>(items: &mut Vec<T>) -> Vec<T> {
    let len = items.len();
    std::mem::replace(items, Vec::with_capacity(len))
}
