//! [`RateLimit`]: a stream paced by a [`RateLimiter`], its own or a shared one.

use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::rate_limiter::{RateLimiter, Waiter};

pin_project! {
    /// Stream for [`DataflowExt::rate_limit`](super::DataflowExt::rate_limit) and
    /// [`DataflowExt::rate_limit_with`](super::DataflowExt::rate_limit_with).
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct RateLimit<S> {
        #[pin]
        stream: S,
        #[pin]
        waiter: Waiter,
        limiter: RateLimiter,
        // A permit taken for the next item, not yet used (upstream was not ready).
        permit: bool,
        done: bool,
    }
}

impl<S: Stream> RateLimit<S> {
    pub(crate) fn new(stream: S, limiter: RateLimiter) -> Self {
        RateLimit {
            stream,
            waiter: Waiter::new(),
            limiter,
            permit: false,
            done: false,
        }
    }

    /// Items allowed per period.
    pub fn limit(&self) -> NonZeroUsize {
        self.limiter.limit()
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.limiter.period()
    }

    /// The limiter pacing this stream (clone it to share the limit).
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    super::accessors::stream_accessors!(stream: S);

    /// The upstream stream.
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S: Stream> Stream for RateLimit<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if !*this.permit {
            // An upstream that says it has nothing left is asked at once, so that the
            // stream ends now rather than when the next permit comes (upstream is pulled
            // only with a permit otherwise, and nothing is read ahead).
            if this.stream.size_hint().1 == Some(0) {
                let item = ready!(this.stream.as_mut().poll_next(cx));
                *this.done = item.is_none();
                return Poll::Ready(item);
            }
            ready!(this.waiter.as_mut().poll_permit(this.limiter, cx));
            *this.permit = true;
        }
        // A permit is held: only now is upstream asked for an item.
        let item = ready!(this.stream.as_mut().poll_next(cx));
        *this.permit = false;
        if item.is_none() {
            *this.done = true;
            // The permit was not used: others sharing the limiter may have it.
            this.limiter.give_back();
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            self.stream.size_hint()
        }
    }
}

impl<S: Stream> FusedStream for RateLimit<S> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}
