//! [`Chunks`]: groups of exactly `n` items, the last one partial.

use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

/// The most memory a chunk buffer reserves up front: a chunk size of a million items does
/// not allocate a million slots before the first item arrives (it grows as it fills).
const MAX_PREALLOC_BYTES: usize = 1 << 20;

/// The capacity to reserve for a chunk of `size` items of type `T`: `size`, at most
/// [`MAX_PREALLOC_BYTES`] worth of items (and at least one).
pub(crate) fn prealloc<T>(size: usize) -> usize {
    let per_item = std::mem::size_of::<T>().max(1);
    // `per_item` is at least 1: the division cannot fail.
    size.min(MAX_PREALLOC_BYTES.checked_div(per_item).unwrap_or(1).max(1))
}

/// `ceil(items / size)`, saturating; `size` is never zero.
pub(crate) fn chunk_count(items: usize, size: NonZeroUsize) -> usize {
    items.div_ceil(size.get())
}

pin_project! {
    /// Stream for [`DataflowExt::chunked`](super::DataflowExt::chunked).
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct Chunks<S: Stream> {
        #[pin]
        stream: S,
        items: Vec<S::Item>,
        size: NonZeroUsize,
        done: bool,
    }
}

impl<S: Stream> Chunks<S> {
    pub(crate) fn new(stream: S, size: NonZeroUsize) -> Self {
        Chunks {
            stream,
            items: Vec::new(),
            size,
            done: false,
        }
    }

    /// The chunk size.
    pub fn size(&self) -> NonZeroUsize {
        self.size
    }

    /// Items pulled from upstream and not yet emitted (always fewer than the chunk size).
    pub fn buffered_items(&self) -> usize {
        self.items.len()
    }

    super::accessors::stream_accessors!(stream: S);

    /// The upstream stream and the items of the partial chunk not yet emitted.
    pub fn into_parts(self) -> (S, Vec<S::Item>) {
        (self.stream, self.items)
    }
}

impl<S: Stream> Stream for Chunks<S> {
    type Item = Vec<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let size = this.size.get();
        // Fill a local buffer (the optimiser keeps it in registers, as in futures'
        // `ready_chunks`) and put it back only when upstream is not ready.
        let mut items = std::mem::take(this.items);
        if items.capacity() == 0 {
            items.reserve_exact(prealloc::<S::Item>(size));
        }
        loop {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    items.push(item);
                    if items.len() >= size {
                        return Poll::Ready(Some(items));
                    }
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready((!items.is_empty()).then_some(items));
                }
                Poll::Pending => {
                    *this.items = items;
                    return Poll::Pending;
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
        let lower = chunk_count(lower.saturating_add(held), self.size);
        let upper = upper
            .and_then(|u| u.checked_add(held))
            .map(|u| chunk_count(u, self.size));
        (lower, upper)
    }
}

impl<S: Stream> FusedStream for Chunks<S> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}
