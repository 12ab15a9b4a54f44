//! [`CollectVec`]: every item of a stream into a `Vec`, with a summary.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use pin_project_lite::pin_project;

use crate::collect::summary::{Summary, Tally};

pin_project! {
    /// The future returned by [`collect_vec`](crate::collect::CollectExt::collect_vec).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct CollectVec<S: Stream> {
        #[pin]
        stream: S,
        items: Vec<S::Item>,
        tally: Tally,
        done: bool,
    }
}

impl<S: Stream> CollectVec<S> {
    pub(crate) fn new(stream: S) -> Self {
        // A lower bound is a promise the stream may break (`repeat(x).take_until(..)`
        // claims `usize::MAX` items): reserve at most 1 MiB of items up front.
        let per_item = std::mem::size_of::<S::Item>().max(1);
        let cap = (1usize << 20).checked_div(per_item).unwrap_or(1);
        let items = Vec::with_capacity(stream.size_hint().0.min(cap));
        CollectVec {
            stream,
            items,
            tally: Tally::default(),
            done: false,
        }
    }
}

impl<S: Stream> Future for CollectVec<S> {
    type Output = (Vec<S::Item>, Summary);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.done {
            return Poll::Pending;
        }
        let mut stream = this.stream;
        let items = this.items;
        let ended = this.tally.drain(stream.as_mut(), cx, |tally, item| {
            tally.out = tally.out.saturating_add(1);
            items.push(item);
        });
        if ended.is_pending() {
            return Poll::Pending;
        }
        *this.done = true;
        Poll::Ready((std::mem::take(items), this.tally.finish()))
    }
}

impl<S: Stream + fmt::Debug> fmt::Debug for CollectVec<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectVec")
            .field("stream", &self.stream)
            .field("collected", &self.items.len())
            .finish()
    }
}
