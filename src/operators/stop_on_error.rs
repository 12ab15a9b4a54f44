//! [`StopOnError`]: a stream of results that ends right after its first error.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

pin_project! {
    /// Stream for [`DataflowExt::stop_on_error`](super::DataflowExt::stop_on_error).
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct StopOnError<S> {
        #[pin]
        stream: S,
        done: bool,
    }
}

impl<S> StopOnError<S> {
    pub(crate) fn new(stream: S) -> Self {
        StopOnError {
            stream,
            done: false,
        }
    }

    super::accessors::stream_accessors!(stream: S);

    /// The upstream stream (after an error, with the items that were never pulled).
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S, T, E> Stream for StopOnError<S>
where
    S: Stream<Item = Result<T, E>>,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let item = ready!(this.stream.poll_next(cx));
        if !matches!(item, Some(Ok(_))) {
            *this.done = true;
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        // The first item may be an error.
        let (lower, upper) = self.stream.size_hint();
        (lower.min(1), upper)
    }
}

impl<S, T, E> FusedStream for StopOnError<S>
where
    S: Stream<Item = Result<T, E>>,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}
