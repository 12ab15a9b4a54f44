//! [`WithWatermarks`]: a plain stream made timed, with a bounded-out-of-orderness watermark.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::Timed;

pin_project! {
    /// Stream for [`DataflowExt::with_watermarks`](crate::operators::DataflowExt::with_watermarks).
    #[must_use = "streams do nothing unless polled"]
    pub struct WithWatermarks<S, F> {
        #[pin]
        stream: S,
        timestamp: F,
        bound: i64,
        max_ts: i64,
        emitted: i64,
        pending: Option<i64>,
        done: bool,
    }
}

impl<S, F> WithWatermarks<S, F> {
    pub(crate) fn new(stream: S, timestamp: F, bound: i64) -> Self {
        WithWatermarks {
            stream,
            timestamp,
            bound,
            max_ts: i64::MIN,
            emitted: i64::MIN,
            pending: None,
            done: false,
        }
    }

    /// The last watermark emitted (`None` before the first).
    pub fn watermark(&self) -> Option<i64> {
        Some(self.emitted).filter(|w| *w != i64::MIN)
    }

    crate::operators::accessors::stream_accessors!(stream: S);

    /// The upstream stream.
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S, F> Stream for WithWatermarks<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> i64,
{
    type Item = Timed<S::Item>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if let Some(w) = this.pending.take() {
            return Poll::Ready(Some(Timed::Watermark(w)));
        }
        if *this.done {
            return Poll::Ready(None);
        }
        match this.stream.poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                *this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(value)) => {
                let ts = (this.timestamp)(&value);
                if ts > *this.max_ts {
                    *this.max_ts = ts;
                    let w = ts.saturating_sub(*this.bound).saturating_sub(1);
                    if w > *this.emitted {
                        *this.emitted = w;
                        *this.pending = Some(w);
                    }
                }
                Poll::Ready(Some(Timed::Item { ts, value }))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let extra = usize::from(self.pending.is_some());
        if self.done {
            return (extra, Some(extra));
        }
        let (lo, hi) = self.stream.size_hint();
        // At most one watermark after each element.
        (
            lo.saturating_add(extra),
            hi.and_then(|h| h.checked_mul(2)?.checked_add(extra)),
        )
    }
}

impl<S, F> FusedStream for WithWatermarks<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> i64,
{
    fn is_terminated(&self) -> bool {
        self.done && self.pending.is_none()
    }
}

impl<S: fmt::Debug, F> fmt::Debug for WithWatermarks<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithWatermarks")
            .field("stream", &self.stream)
            .field("out_of_orderness", &self.bound)
            .field("watermark", &self.watermark())
            .finish_non_exhaustive()
    }
}
