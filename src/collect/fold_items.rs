//! [`FoldItems`]: folds every item of a stream into one value, with a summary.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use pin_project_lite::pin_project;

use crate::collect::summary::{Summary, Tally};

pin_project! {
    /// The future returned by [`fold_items`](crate::collect::CollectExt::fold_items).
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct FoldItems<S, A, F> {
        #[pin]
        stream: S,
        acc: Option<A>,
        f: F,
        tally: Tally,
    }
}

impl<S, A, F> FoldItems<S, A, F> {
    pub(crate) fn new(stream: S, init: A, f: F) -> Self {
        FoldItems {
            stream,
            acc: Some(init),
            f,
            tally: Tally::default(),
        }
    }
}

impl<S, A, F> Future for FoldItems<S, A, F>
where
    S: Stream,
    F: FnMut(A, S::Item) -> A,
{
    type Output = (A, Summary);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.acc.is_none() {
            return Poll::Pending; // polled after completion
        }
        let (acc, f) = (this.acc, this.f);
        let ended = this.tally.drain(this.stream, cx, |tally, item| {
            tally.out = tally.out.saturating_add(1);
            // Always `Some` here: taken only when the stream has ended.
            if let Some(a) = acc.take() {
                *acc = Some(f(a, item));
            }
        });
        match ended {
            Poll::Ready(()) => match acc.take() {
                Some(acc) => Poll::Ready((acc, this.tally.finish())),
                None => Poll::Pending,
            },
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: fmt::Debug, A: fmt::Debug, F> fmt::Debug for FoldItems<S, A, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoldItems")
            .field("stream", &self.stream)
            .field("acc", &self.acc)
            .finish_non_exhaustive()
    }
}
