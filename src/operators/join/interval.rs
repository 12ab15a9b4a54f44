//! [`IntervalJoin`]: Flink's interval join of two keyed timed streams.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::paired::{Paired, Rule};
use super::{JoinEvent, JoinFn, JoinStats};
use crate::operators::timed::{Timed, TimedStream};
use crate::operators::window::KeySelector;

/// `a.ts + lower <= b.ts <= a.ts + upper`; late below the watermark.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Between {
    lower: i64,
    upper: i64,
}

impl Rule for Between {
    #[inline]
    fn is_late(&self, ts: i64, watermark: i64) -> bool {
        ts < watermark
    }

    #[inline]
    fn matches(&self, ts: i64, from_left: bool, stored: i64) -> bool {
        let (a, b) = if from_left {
            (ts, stored)
        } else {
            (stored, ts)
        };
        a.saturating_add(self.lower) <= b && b <= a.saturating_add(self.upper)
    }

    #[inline]
    fn until(&self, ts: i64, from_left: bool) -> i64 {
        if from_left {
            ts.saturating_add(self.upper)
        } else {
            ts.saturating_sub(self.lower)
        }
    }

    fn expiry_bound(&self, watermark: i64) -> Option<i64> {
        Some(watermark)
    }

    fn cap(&self) -> usize {
        usize::MAX
    }
}

pin_project! {
    /// Stream for [`KeyedJoin::interval`](super::KeyedJoin::interval).
    #[must_use = "streams do nothing unless polled"]
    pub struct IntervalJoin<L, R, KL, KR, F>
    where
        L: TimedStream,
        R: TimedStream,
        KL: KeySelector<L::Value>,
        F: JoinFn<L::Value, R::Value>,
    {
        #[pin]
        left: L,
        #[pin]
        right: R,
        left_key: KL,
        right_key: KR,
        f: F,
        core: Paired<KL::Key, L::Value, R::Value, F::Output, Between>,
    }
}

impl<L, R, KL, KR, F> IntervalJoin<L, R, KL, KR, F>
where
    L: TimedStream,
    R: TimedStream,
    KL: KeySelector<L::Value>,
    F: JoinFn<L::Value, R::Value>,
{
    pub(crate) fn new(
        left: L,
        right: R,
        left_key: KL,
        right_key: KR,
        (lower, upper): (i64, i64),
        f: F,
    ) -> Self {
        IntervalJoin {
            left,
            right,
            left_key,
            right_key,
            f,
            core: Paired::new(Between { lower, upper }),
        }
    }

    /// Counters: elements of each side, results, late and expired elements, state held.
    pub fn stats(&self) -> JoinStats {
        self.core.stats()
    }

    /// The join's watermark, the minimum of its inputs' (`None` before both have one).
    pub fn watermark(&self) -> Option<i64> {
        self.core.watermark()
    }
}

impl<L, R, KL, KR, F> Stream for IntervalJoin<L, R, KL, KR, F>
where
    L: TimedStream,
    R: TimedStream,
    KL: KeySelector<L::Value>,
    KR: KeySelector<R::Value, Key = KL::Key>,
    F: JoinFn<L::Value, R::Value>,
{
    type Item = Timed<JoinEvent<F::Output, L::Value, R::Value>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        this.core.poll(
            this.left,
            this.right,
            this.left_key,
            this.right_key,
            this.f,
            cx,
        )
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = self.core.pending_len();
        if self.core.is_terminated() {
            (0, Some(0))
        } else {
            (pending, None)
        }
    }
}

impl<L, R, KL, KR, F> FusedStream for IntervalJoin<L, R, KL, KR, F>
where
    L: TimedStream,
    R: TimedStream,
    KL: KeySelector<L::Value>,
    KR: KeySelector<R::Value, Key = KL::Key>,
    F: JoinFn<L::Value, R::Value>,
{
    fn is_terminated(&self) -> bool {
        self.core.is_terminated()
    }
}

impl<L, R, KL, KR, F> fmt::Debug for IntervalJoin<L, R, KL, KR, F>
where
    L: TimedStream + fmt::Debug,
    R: TimedStream + fmt::Debug,
    KL: KeySelector<L::Value>,
    F: JoinFn<L::Value, R::Value>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntervalJoin")
            .field("left", &self.left)
            .field("right", &self.right)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
