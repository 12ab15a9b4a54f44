//! [`TimeoutEach`]: reports every wait longer than `d` for the next item.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::lazy_sleep::LazySleep;
use crate::task::timing::after;

/// The next item did not arrive within the per-item timeout of
/// [`timeout_each`](super::DataflowExt::timeout_each).
///
/// It is a report, not the end: the stream goes on waiting for the same item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    after: Duration,
    item: u64,
}

impl Elapsed {
    /// The configured timeout that passed.
    pub fn after(&self) -> Duration {
        self.after
    }

    /// The 0-based index of the item that was awaited (the number of items received
    /// before it).
    pub fn item(&self) -> u64 {
        self.item
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "item {} did not arrive within {:?}",
            self.item, self.after
        )
    }
}

impl StdError for Elapsed {}

pin_project! {
    /// Stream for [`DataflowExt::timeout_each`](super::DataflowExt::timeout_each).
    #[must_use = "streams do nothing unless polled"]
    #[derive(Debug)]
    pub struct TimeoutEach<S> {
        #[pin]
        stream: S,
        #[pin]
        timer: LazySleep,
        after: Duration,
        received: u64,
        done: bool,
    }
}

impl<S: Stream> TimeoutEach<S> {
    pub(crate) fn new(stream: S, after: Duration) -> Self {
        TimeoutEach {
            stream,
            timer: LazySleep::new("timeout_each"),
            after,
            received: 0,
            done: false,
        }
    }

    /// The per-item timeout.
    pub fn timeout(&self) -> Duration {
        self.after
    }

    super::accessors::stream_accessors!(stream: S);

    /// The upstream stream.
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S: Stream> Stream for TimeoutEach<S> {
    type Item = Result<S::Item, Elapsed>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match this.stream.poll_next(cx) {
            Poll::Ready(Some(item)) => {
                this.timer.disarm();
                *this.received = this.received.saturating_add(1);
                Poll::Ready(Some(Ok(item)))
            }
            Poll::Ready(None) => {
                this.timer.disarm();
                *this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                // The first poll of a request that finds nothing ready starts its clock:
                // it is the moment the item was asked for. Without a tokio timer the
                // stream just waits.
                if !this.timer.is_armed()
                    && !this.timer.as_mut().arm(after(Instant::now(), *this.after))
                {
                    return Poll::Pending;
                }
                ready!(this.timer.poll_elapsed(cx));
                Poll::Ready(Some(Err(Elapsed {
                    after: *this.after,
                    item: *this.received,
                })))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        // Any number of `Elapsed` reports may come between two items.
        (self.stream.size_hint().0, None)
    }
}

impl<S: Stream> FusedStream for TimeoutEach<S> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}
