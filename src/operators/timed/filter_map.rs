//! [`TimedFilterMap`]: `filter_map` on a timed stream, without a flood of watermarks.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::{Timed, TimedStream};

pin_project! {
    /// Stream for [`DataflowExt::timed_filter_map`](crate::operators::DataflowExt::timed_filter_map).
    #[must_use = "streams do nothing unless polled"]
    pub struct TimedFilterMap<S, F, U> {
        #[pin]
        stream: S,
        f: F,
        // The latest watermark not handed on yet.
        held: Option<i64>,
        // An element that follows the watermark being handed on.
        next: Option<Timed<U>>,
        done: bool,
    }
}

impl<S, F, U> TimedFilterMap<S, F, U> {
    pub(crate) fn new(stream: S, f: F) -> Self {
        TimedFilterMap {
            stream,
            f,
            held: None,
            next: None,
            done: false,
        }
    }

    crate::operators::accessors::stream_accessors!(stream: S);
}

impl<S, F, U> Stream for TimedFilterMap<S, F, U>
where
    S: TimedStream,
    F: FnMut(S::Value) -> Option<U>,
{
    type Item = Timed<U>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Timed<U>>> {
        let mut this = self.project();
        if let Some(item) = this.next.take() {
            return Poll::Ready(Some(item));
        }
        if *this.done {
            return Poll::Ready(this.held.take().map(Timed::Watermark));
        }
        loop {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Timed::Item { ts, value })) => {
                    if let Some(value) = (this.f)(value) {
                        let item = Timed::Item { ts, value };
                        // The element comes after the watermark that preceded it.
                        return Poll::Ready(Some(match this.held.take() {
                            Some(w) => {
                                *this.next = Some(item);
                                Timed::Watermark(w)
                            }
                            None => item,
                        }));
                    }
                }
                Poll::Ready(Some(Timed::Watermark(w))) => {
                    if this.held.is_none_or(|h| w > h) {
                        *this.held = Some(w);
                    }
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready(this.held.take().map(Timed::Watermark));
                }
                // Upstream waits: hand on the watermark so event time moves downstream.
                Poll::Pending => {
                    return match this.held.take() {
                        Some(w) => Poll::Ready(Some(Timed::Watermark(w))),
                        None => Poll::Pending,
                    };
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let extra =
            usize::from(self.held.is_some()).saturating_add(usize::from(self.next.is_some()));
        if self.done {
            return (extra, Some(extra));
        }
        let (_, hi) = self.stream.size_hint();
        (extra, hi.and_then(|h| h.checked_add(extra)))
    }
}

impl<S, F, U> FusedStream for TimedFilterMap<S, F, U>
where
    S: TimedStream,
    F: FnMut(S::Value) -> Option<U>,
{
    fn is_terminated(&self) -> bool {
        self.done && self.held.is_none() && self.next.is_none()
    }
}

impl<S: fmt::Debug, F, U> fmt::Debug for TimedFilterMap<S, F, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedFilterMap")
            .field("stream", &self.stream)
            .field("held", &self.held)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
