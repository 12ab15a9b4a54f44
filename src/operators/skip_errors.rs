//! [`SkipErrors`]: the `Ok` values of a stream of results, with a count of the errors
//! skipped.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

/// A shared count of errors, readable while the stream runs and after it is consumed.
///
/// Handed out by [`SkipErrors::counter`] and [`PartitionErrors::counter`](super::PartitionErrors::counter);
/// clones share the count.
#[derive(Debug, Clone, Default)]
pub struct ErrorCount(Arc<AtomicU64>);

impl ErrorCount {
    /// Errors counted so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn add_one(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

pin_project! {
    /// Stream for [`DataflowExt::skip_errors`](super::DataflowExt::skip_errors).
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct SkipErrors<S> {
        #[pin]
        stream: S,
        skipped: ErrorCount,
        done: bool,
    }
}

impl<S> SkipErrors<S> {
    pub(crate) fn new(stream: S) -> Self {
        SkipErrors {
            stream,
            skipped: ErrorCount::default(),
            done: false,
        }
    }

    /// A handle on the number of errors skipped; keep it to read the count after the
    /// stream is consumed.
    pub fn counter(&self) -> ErrorCount {
        self.skipped.clone()
    }

    /// Errors skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped.get()
    }

    super::accessors::stream_accessors!(stream: S);

    /// The upstream stream.
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S, T, E> Stream for SkipErrors<S>
where
    S: Stream<Item = Result<T, E>>,
{
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        loop {
            match ready!(this.stream.as_mut().poll_next(cx)) {
                Some(Ok(item)) => return Poll::Ready(Some(item)),
                Some(Err(_)) => this.skipped.add_one(),
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
        // Every item may be an error.
        (0, self.stream.size_hint().1)
    }
}

impl<S, T, E> FusedStream for SkipErrors<S>
where
    S: Stream<Item = Result<T, E>>,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}
