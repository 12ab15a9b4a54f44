//! Event-time windows with a bounded-out-of-orderness watermark.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::spec::{NonMerging, TimeConfig};
use super::store::TimeCore;
use super::watermark::BoundedOutOfOrderness;
use super::{
    Contents, FireReason, Fold, FoldWithMerge, KeySelector, Reduce, WindowAggregate, WindowEvent,
    WindowStats, YIELD_EVERY, catch, polled_before_aggregate,
};

pin_project! {
    /// Stream for [`DataflowExt::event_time_window`](crate::operators::DataflowExt::event_time_window).
    #[must_use = "streams do nothing unless polled"]
    pub struct EventTimeWindow<S, KS, F, A, G>
    where
        S: Stream,
        KS: KeySelector<S::Item>,
        G: WindowAggregate<S::Item>,
    {
        #[pin]
        stream: S,
        key: KS,
        timestamp: F,
        config: TimeConfig,
        watermark: BoundedOutOfOrderness,
        core: TimeCore<KS::Key, S::Item, G>,
        done: bool,
        shape: PhantomData<fn() -> A>,
    }
}

impl<S, KS, F, A> EventTimeWindow<S, KS, F, A, Contents>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
{
    pub(crate) fn new(stream: S, key: KS, timestamp: F, config: TimeConfig) -> Self {
        EventTimeWindow {
            stream,
            key,
            timestamp,
            config,
            watermark: BoundedOutOfOrderness::new(config.out_of_orderness),
            core: TimeCore::new(&config, Contents),
            done: false,
            shape: PhantomData,
        }
    }

    /// Aggregates each window with `agg` instead of collecting its elements.
    ///
    /// Call it before polling; on a stream already polled, the new stream yields one
    /// [`WindowEvent::Error`] and ends.
    #[doc(alias = "aggregate")]
    pub fn aggregate_windows<G>(self, agg: G) -> EventTimeWindow<S, KS, F, A, G>
    where
        G: WindowAggregate<S::Item>,
    {
        let mut core = TimeCore::new(&self.config, agg);
        let done = self.done || self.core.touched();
        if done {
            core.fail(polled_before_aggregate());
        }
        EventTimeWindow {
            stream: self.stream,
            key: self.key,
            timestamp: self.timestamp,
            config: self.config,
            watermark: self.watermark,
            core,
            done,
            shape: PhantomData,
        }
    }

    /// Folds each window's elements into `init` with `f`, keeping only the accumulator
    /// (tumbling and sliding windows; sessions need
    /// [`fold_windows_with_merge`](Self::fold_windows_with_merge)).
    ///
    /// Named so that it never hides `StreamExt::fold`, which folds the stream of windows
    /// itself.
    #[doc(alias = "fold")]
    pub fn fold_windows<B, R>(self, init: B, f: R) -> EventTimeWindow<S, KS, F, A, Fold<B, R>>
    where
        A: NonMerging,
        B: Clone,
        R: FnMut(B, S::Item) -> B,
    {
        self.aggregate_windows(Fold::new(init, f))
    }

    /// Folds each window like [`fold_windows`](Self::fold_windows); `merge(earlier, later)` combines the
    /// accumulators of two sessions that merge.
    #[doc(alias = "fold_with_merge")]
    pub fn fold_windows_with_merge<B, R, M>(
        self,
        init: B,
        f: R,
        merge: M,
    ) -> EventTimeWindow<S, KS, F, A, FoldWithMerge<B, R, M>>
    where
        B: Clone,
        R: FnMut(B, S::Item) -> B,
        M: FnMut(B, B) -> B,
    {
        self.aggregate_windows(FoldWithMerge::new(init, f, merge))
    }

    /// Reduces each window's elements with `f`, keeping only the running value; sessions
    /// merge with `f` too.
    #[doc(alias = "reduce")]
    pub fn reduce_windows<R>(self, f: R) -> EventTimeWindow<S, KS, F, A, Reduce<R>>
    where
        R: FnMut(S::Item, S::Item) -> S::Item,
    {
        self.aggregate_windows(Reduce::new(f))
    }
}

impl<S, KS, F, A, G> EventTimeWindow<S, KS, F, A, G>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    G: WindowAggregate<S::Item>,
{
    /// Counters: elements, windows fired, updates, late elements, evictions, open windows.
    pub fn stats(&self) -> WindowStats {
        self.core.stats()
    }

    /// The current watermark, `None` before the first element (and `i64::MAX` after the
    /// end of the input).
    pub fn watermark(&self) -> Option<i64> {
        Some(self.core.watermark()).filter(|w| *w != i64::MIN)
    }

    crate::operators::accessors::stream_accessors!(stream: S);
}

impl<S, KS, F, A, G> Stream for EventTimeWindow<S, KS, F, A, G>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    F: FnMut(&S::Item) -> i64,
    G: WindowAggregate<S::Item>,
{
    type Item = WindowEvent<KS::Key, G::Output, S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let mut budget = YIELD_EVERY;
        loop {
            if let Some(event) = this.core.pop() {
                return Poll::Ready(Some(event));
            }
            if *this.done {
                return Poll::Ready(None);
            }
            match this.stream.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    *this.done = true;
                    let core = &mut *this.core;
                    if let Err(fault) = catch(|| core.finish()) {
                        core.fail(fault.into());
                    }
                }
                Poll::Ready(Some(item)) => {
                    this.core.begin_element();
                    let (key, timestamp) = (&mut *this.key, &mut *this.timestamp);
                    let (core, watermark) = (&mut *this.core, &mut *this.watermark);
                    // One unwind guard per element around all user code (key, timestamp,
                    // aggregate): a panic ends the stream with an error item.
                    let step = catch(|| {
                        let (key, ts) = (key.key(&item), timestamp(&item));
                        // The element is processed under the old watermark, then the
                        // watermark moves (Flink emits it after the element).
                        core.insert(key, ts, item)?;
                        watermark.observe(ts);
                        core.advance(watermark.current(), FireReason::Watermark)
                    });
                    if let Err(fault) = step {
                        *this.done = true;
                        core.fail(fault.into());
                    }
                    budget = budget.saturating_sub(1);
                    if budget == 0 && this.core.pending_len() == 0 {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = self.core.pending_len();
        if self.done {
            (pending, Some(pending))
        } else {
            (pending, None)
        }
    }
}

impl<S, KS, F, A, G> FusedStream for EventTimeWindow<S, KS, F, A, G>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    F: FnMut(&S::Item) -> i64,
    G: WindowAggregate<S::Item>,
{
    fn is_terminated(&self) -> bool {
        self.done && self.core.pending_len() == 0
    }
}

impl<S, KS, F, A, G> fmt::Debug for EventTimeWindow<S, KS, F, A, G>
where
    S: Stream + fmt::Debug,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    G: WindowAggregate<S::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventTimeWindow")
            .field("stream", &self.stream)
            .field("config", &self.config)
            .field("watermark", &self.watermark())
            .field("stats", &self.stats())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
