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
use super::lazy_sleep::LazySleep;
use crate::task::timing::after;

pin_project! {
    /// Stream for [`DataflowExt::chunked_timeout`](super::DataflowExt::chunked_timeout).
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
            items: Vec::new(),
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

    super::accessors::stream_accessors!(stream: S);

    /// The upstream stream and the items of the partial chunk not yet emitted.
    ///
    /// This consumes the stream, which a stream already polled cannot give up (it is
    /// pinned: its timer must not move); take the partial chunk out of a pinned stream with
    /// [`take_buffered`](Self::take_buffered).
    pub fn into_parts(self) -> (S, Vec<S::Item>) {
        (self.stream, self.items)
    }

    /// Takes the items of the partial chunk out of the stream, which stays usable: for a
    /// stream already polled (and so pinned), for example when shutting down before
    /// upstream ends. The next chunk starts with the next item pulled, on a fresh clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), ConfigError> {
    /// // Two rows, then a source that stays open.
    /// let rows = stream::iter([1, 2]).chain(stream::pending());
    /// let mut batches = std::pin::pin!(rows.chunked_timeout(10, 60.seconds())?);
    /// // Shutting down: no batch is due yet, but the rows read must not be lost.
    /// let now = tokio::time::timeout(1.seconds(), batches.next()).await;
    /// assert!(now.is_err());
    /// assert_eq!(batches.as_mut().take_buffered(), [1, 2]);
    /// assert_eq!(batches.buffered_items(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_buffered(self: Pin<&mut Self>) -> Vec<S::Item> {
        let this = self.project();
        this.timer.disarm();
        std::mem::take(this.items)
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
            return Poll::Ready(Some(std::mem::take(this.items)));
        }
        // Fill a local buffer (kept in registers by the optimiser) and put it back only
        // when upstream is not ready.
        let mut items = std::mem::take(this.items);
        loop {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    if items.is_empty() {
                        // The clock of a chunk starts with its first item. Without a
                        // tokio timer, chunks close on size and end of stream only.
                        this.timer
                            .as_mut()
                            .arm(after(Instant::now(), *this.timeout));
                        if items.capacity() == 0 {
                            items.reserve_exact(prealloc::<S::Item>(size));
                        }
                    }
                    items.push(item);
                    if items.len() >= size {
                        this.timer.as_mut().disarm();
                        return Poll::Ready(Some(items));
                    }
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    this.timer.as_mut().disarm();
                    return Poll::Ready((!items.is_empty()).then_some(items));
                }
                Poll::Pending => break,
            }
        }
        if !items.is_empty() && this.timer.as_mut().poll_elapsed(cx).is_ready() {
            return Poll::Ready(Some(items));
        }
        *this.items = items;
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
