//! [`ChunksTimeout`]: chunks of up to `n` items, emitted early when the first item of the
//! chunk has waited `d`.

use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::chunks::{chunk_count, prealloc};
use super::lazy_sleep::{LazySleep, deadline};

pin_project! {
    /// Stream for [`DataflowExt::chunks_timeout`](super::DataflowExt::chunks_timeout).
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct ChunksTimeout<S: Stream> {
        #[pin]
        stream: S,
        #[pin]
        timer: LazySleep,
        items: Vec<S::Item>,
        size: NonZeroUsize,
        timeout: Duration,
        done: bool,
    }
}

impl<S: Stream> ChunksTimeout<S> {
    pub(crate) fn new(stream: S, size: NonZeroUsize, timeout: Duration) -> Self {
        ChunksTimeout {
            stream,
            timer: LazySleep::new("chunks_timeout"),
            items: Vec::with_capacity(prealloc::<S::Item>(size.get())),
            size,
            timeout,
            done: false,
        }
    }

    /// The largest chunk.
    pub fn size(&self) -> NonZeroUsize {
        self.size
    }

    /// How long the first item of a chunk waits at most.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Items pulled from upstream and not yet emitted (always fewer than the chunk size).
    pub fn buffered_items(&self) -> usize {
        self.items.len()
    }

    super::chunk_accessors::stream_accessors!(stream: S);

    /// The upstream stream and the items of the partial chunk not yet emitted.
    pub fn into_parts(self) -> (S, Vec<S::Item>) {
        (self.stream, self.items)
    }
}

impl<S: Stream> Stream for ChunksTimeout<S> {
    type Item = Vec<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let size = this.size.get();
        // A chunk whose deadline passed while nobody polled goes out as it is, before
        // anything more is pulled into it.
        if !this.items.is_empty() && this.timer.as_mut().poll_elapsed(cx).is_ready() {
            return Poll::Ready(Some(take(this.items, size)));
        }
        loop {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    if this.items.is_empty() {
                        // The clock of a chunk starts with its first item. Without a
                        // tokio timer, chunks close on size and end of stream only.
                        this.timer
                            .as_mut()
                            .arm(deadline(Instant::now(), *this.timeout));
                    }
                    this.items.push(item);
                    if this.items.len() >= size {
                        this.timer.as_mut().disarm();
                        return Poll::Ready(Some(take(this.items, size)));
                    }
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    this.timer.as_mut().disarm();
                    let last = std::mem::take(this.items);
                    return Poll::Ready((!last.is_empty()).then_some(last));
                }
                Poll::Pending => break,
            }
        }
        if !this.items.is_empty() && this.timer.as_mut().poll_elapsed(cx).is_ready() {
            return Poll::Ready(Some(take(this.items, size)));
        }
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        let held = self.items.len();
        let (lower, upper) = self.stream.size_hint();
        // A timeout can split the rest into as many chunks as there are items.
        let lower = chunk_count(lower.saturating_add(held), self.size);
        let upper = upper.and_then(|u| u.checked_add(held));
        (lower, upper)
    }
}

impl<S: Stream> FusedStream for ChunksTimeout<S> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

/// The full or timed-out chunk, leaving a fresh buffer behind.
fn take<T>(items: &mut Vec<T>, size: usize) -> Vec<T> {
    std::mem::replace(items, Vec::with_capacity(prealloc::<T>(size)))
}
