//! [`RateLimit`]: a token bucket that lets at most `n` items through per period.

use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::lazy_sleep::{LazySleep, deadline};

pin_project! {
    /// Stream for [`DataflowExt::rate_limit`](super::DataflowExt::rate_limit).
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct RateLimit<S> {
        #[pin]
        stream: S,
        #[pin]
        timer: LazySleep,
        // Credit is counted in nanoseconds-of-period times `n`: one token is `period`
        // units and the bucket refills `n` units per nanosecond, so the arithmetic is
        // exact whatever `period / n` is.
        credit: u128,
        capacity: u128,
        token: u128,
        refill_per_ns: u128,
        last: Option<Instant>,
        n: NonZeroUsize,
        period: Duration,
        unlimited: bool,
        done: bool,
    }
}

impl<S: Stream> RateLimit<S> {
    pub(crate) fn new(stream: S, n: NonZeroUsize, period: Duration) -> Self {
        let token = period.as_nanos();
        let refill_per_ns = n.get() as u128;
        RateLimit {
            stream,
            timer: LazySleep::new("rate_limit"),
            credit: 0,
            capacity: token.saturating_mul(refill_per_ns),
            token,
            refill_per_ns,
            last: None,
            n,
            period,
            unlimited: false,
            done: false,
        }
    }

    /// Items allowed per period (also the largest burst).
    pub fn limit(&self) -> NonZeroUsize {
        self.n
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
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
        loop {
            if !*this.unlimited {
                let now = Instant::now();
                // The bucket starts full at the first poll.
                let elapsed = this.last.map_or(u128::MAX, |last| {
                    now.saturating_duration_since(last).as_nanos()
                });
                *this.credit = this
                    .credit
                    .saturating_add(elapsed.saturating_mul(*this.refill_per_ns))
                    .min(*this.capacity);
                *this.last = Some(now);
                if *this.credit < *this.token {
                    // Wait until the missing credit has flowed in (rounded up).
                    let missing = this.token.saturating_sub(*this.credit);
                    let wait_ns = missing.div_ceil(*this.refill_per_ns);
                    let wait = Duration::from_nanos(u64::try_from(wait_ns).unwrap_or(u64::MAX));
                    if this.timer.as_mut().arm(deadline(now, wait)) {
                        ready!(this.timer.as_mut().poll_elapsed(cx));
                        continue;
                    }
                    // No tokio timer to wait on: items pass unthrottled (the timer
                    // logged why) rather than the stream hanging.
                    *this.unlimited = true;
                }
            }
            // A token is available: only now is upstream asked for an item.
            let item = ready!(this.stream.as_mut().poll_next(cx));
            match item {
                Some(item) => {
                    *this.credit = this.credit.saturating_sub(*this.token);
                    return Poll::Ready(Some(item));
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
