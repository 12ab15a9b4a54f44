//! [`FoldItems`]: folds every item of a stream into one value, with a summary.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use pin_project_lite::pin_project;

use crate::collect::summary::{POLL_BUDGET, Summary, Tally};

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
        let Some(mut acc) = this.acc.take() else {
            return Poll::Pending; // polled after completion
        };
        let mut stream = this.stream;
        let f = this.f;
        let ended = this.tally.poll(|tally| {
            for _ in 0..POLL_BUDGET {
                match stream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        tally.out += 1;
                        acc = f(acc, item);
                    }
                    Poll::Ready(None) => return Step::Done(acc),
                    Poll::Pending => return Step::More(acc),
                }
            }
            cx.waker().wake_by_ref();
            Step::More(acc)
        });
        match ended {
            Step::Done(acc) => Poll::Ready((acc, this.tally.finish())),
            Step::More(acc) => {
                *this.acc = Some(acc);
                Poll::Pending
            }
        }
    }
}

/// Where one poll left the fold.
enum Step<A> {
    Done(A),
    More(A),
}

impl<S: fmt::Debug, A: fmt::Debug, F> fmt::Debug for FoldItems<S, A, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoldItems")
            .field("stream", &self.stream)
            .field("acc", &self.acc)
            .finish_non_exhaustive()
    }
}
