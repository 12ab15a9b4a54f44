//! [`PartitionErrors`]: the `Ok` values of a stream of results, each error handed with its
//! position to a closure the moment it is pulled.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::skip_errors::ErrorCount;

pin_project! {
    /// Stream for [`DataflowExt::partition_errors`](super::DataflowExt::partition_errors).
    #[must_use = "streams do nothing unless polled"]
    pub struct PartitionErrors<S, F> {
        #[pin]
        stream: S,
        on_err: F,
        errors: ErrorCount,
        index: u64,
        done: bool,
    }
}

impl<S, F> PartitionErrors<S, F> {
    pub(crate) fn new(stream: S, on_err: F) -> Self {
        PartitionErrors {
            stream,
            on_err,
            errors: ErrorCount::default(),
            index: 0,
            done: false,
        }
    }

    /// A handle on the number of errors handed to the closure so far.
    pub fn counter(&self) -> ErrorCount {
        self.errors.clone()
    }

    /// Items (values and errors) pulled from upstream so far.
    pub fn pulled(&self) -> u64 {
        self.index
    }

    super::accessors::stream_accessors!(stream: S);

    /// The upstream stream.
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S: fmt::Debug, F> fmt::Debug for PartitionErrors<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionErrors")
            .field("stream", &self.stream)
            .field("errors", &self.errors)
            .field("index", &self.index)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<S, F, T, E> Stream for PartitionErrors<S, F>
where
    S: Stream<Item = Result<T, E>>,
    F: FnMut(u64, E),
{
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        loop {
            let item = ready!(this.stream.as_mut().poll_next(cx));
            let index = *this.index;
            match item {
                Some(Ok(value)) => {
                    *this.index = index.saturating_add(1);
                    return Poll::Ready(Some(value));
                }
                Some(Err(err)) => {
                    *this.index = index.saturating_add(1);
                    this.errors.add_one();
                    (this.on_err)(index, err);
                }
                None => {
                    *this.done = true;
                    return Poll::Ready(None);
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        (0, self.stream.size_hint().1)
    }
}

impl<S, F, T, E> FusedStream for PartitionErrors<S, F>
where
    S: Stream<Item = Result<T, E>>,
    F: FnMut(u64, E),
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}
