use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::{Phase, SequenceCounts, SequenceError, Sequenced, guard, hint};
use crate::error::ConfigError;

const OPERATOR: &str = "detect_gaps";

pin_project! {
    /// Stream for [`detect_gaps`](crate::operators::DataflowExt::detect_gaps).
    #[must_use = "streams do nothing unless polled"]
    pub struct DetectGaps<S: Stream, F> {
        #[pin]
        stream: S,
        ts_of: F,
        threshold: i64,
        prev: Option<i64>,
        // The element that follows the gap marker just emitted.
        pending: Option<S::Item>,
        phase: Phase,
        counts: SequenceCounts,
    }
}

impl<S: Stream, F> fmt::Debug for DetectGaps<S, F>
where
    S: fmt::Debug,
    S::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetectGaps")
            .field("stream", &self.stream)
            .field("threshold", &self.threshold)
            .field("prev", &self.prev)
            .field("pending", &self.pending)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl<S, F> DetectGaps<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> i64,
{
    pub(crate) fn new(stream: S, ts_of: F, threshold: i64) -> Result<Self, ConfigError> {
        if threshold <= 0 {
            return Err(ConfigError::Invalid {
                setting: "gap threshold",
                reason: format!("must be positive, got {threshold}"),
            });
        }
        Ok(DetectGaps {
            stream,
            ts_of,
            threshold,
            prev: None,
            pending: None,
            phase: Phase::Running,
            counts: SequenceCounts::default(),
        })
    }
}

impl<S: Stream, F> DetectGaps<S, F> {
    /// What the operator did so far.
    pub fn counts(&self) -> SequenceCounts {
        self.counts
    }

    crate::operators::accessors::stream_accessors!(stream: S);
}

impl<S, F> Stream for DetectGaps<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> i64,
{
    type Item = Result<Sequenced<S::Item, i64>, SequenceError<S::Item>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if let Some(item) = this.pending.take() {
            this.counts.emitted = this.counts.emitted.saturating_add(1);
            this.counts.set_buffered(0);
            return Poll::Ready(Some(Ok(Sequenced::Item(item))));
        }
        if *this.phase != Phase::Running {
            *this.phase = Phase::Done;
            return Poll::Ready(None);
        }
        let Some(item) = ready!(this.stream.as_mut().poll_next(cx)) else {
            *this.phase = Phase::Done;
            return Poll::Ready(None);
        };
        this.counts.items_in = this.counts.items_in.saturating_add(1);
        let ts_of = &mut *this.ts_of;
        let ts = match guard(|| ts_of(&item)) {
            Ok(ts) => ts,
            Err(error) => {
                this.counts.handed_back = this.counts.handed_back.saturating_add(1);
                *this.phase = Phase::Done;
                return Poll::Ready(Some(Err(SequenceError::new(OPERATOR, error, vec![item]))));
            }
        };
        let prev = this.prev.replace(ts);
        match prev {
            // i128 differences of i64 values cannot overflow.
            Some(from)
                if i128::from(ts).saturating_sub(i128::from(from))
                    > i128::from(*this.threshold) =>
            {
                this.counts.gaps = this.counts.gaps.saturating_add(1);
                *this.pending = Some(item);
                this.counts.set_buffered(1);
                Poll::Ready(Some(Ok(Sequenced::Gap { from, to: ts })))
            }
            _ => {
                this.counts.emitted = this.counts.emitted.saturating_add(1);
                Poll::Ready(Some(Ok(Sequenced::Item(item))))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let held = usize::from(self.pending.is_some());
        let (lower, upper) = hint(self.phase, held, held, self.stream.size_hint(), 1);
        // A held element comes out on the next poll, whatever happens.
        (lower.max(held), upper)
    }
}

impl<S, F> FusedStream for DetectGaps<S, F>
where
    S: Stream,
    F: FnMut(&S::Item) -> i64,
{
    fn is_terminated(&self) -> bool {
        self.phase == Phase::Done && self.pending.is_none()
    }
}
