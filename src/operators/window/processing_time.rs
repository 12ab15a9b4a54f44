//! Processing-time windows on the tokio clock.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::spec::{NonMerging, TimeConfig};
use super::store::TimeCore;
use super::{
    Contents, FireReason, Fold, FoldWithMerge, KeySelector, Reduce, WindowAggregate, WindowEvent,
    WindowStats, YIELD_EVERY, catch, polled_before_aggregate,
};
use crate::error::TaskError;
use crate::task::timing::try_sleep_until;

pin_project! {
    /// Stream for [`DataflowExt::processing_time_window`](crate::operators::DataflowExt::processing_time_window).
    #[must_use = "streams do nothing unless polled"]
    pub struct ProcessingTimeWindow<S, KS, A, G>
    where
        S: Stream,
        KS: KeySelector<S::Item>,
        G: WindowAggregate<S::Item>,
    {
        #[pin]
        stream: S,
        key: KS,
        config: TimeConfig,
        core: TimeCore<KS::Key, S::Item, G>,
        // Window bounds are nanoseconds since `origin`, the instant of the first poll.
        origin: Option<Instant>,
        sleep: Option<Pin<Box<Sleep>>>,
        upstream_done: bool,
        done: bool,
        shape: PhantomData<fn() -> A>,
    }
}

impl<S, KS, A> ProcessingTimeWindow<S, KS, A, Contents>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
{
    pub(crate) fn new(stream: S, key: KS, config: TimeConfig) -> Self {
        ProcessingTimeWindow {
            stream,
            key,
            config,
            core: TimeCore::new(&config, Contents),
            origin: None,
            sleep: None,
            upstream_done: false,
            done: false,
            shape: PhantomData,
        }
    }

    /// Aggregates each window with `agg` instead of collecting its elements.
    ///
    /// Call it before polling; on a stream already polled, the new stream yields one
    /// [`WindowEvent::Error`] and ends.
    #[doc(alias = "aggregate")]
    pub fn aggregate_windows<G>(self, agg: G) -> ProcessingTimeWindow<S, KS, A, G>
    where
        G: WindowAggregate<S::Item>,
    {
        let mut core = TimeCore::new(&self.config, agg);
        let done = self.done || self.origin.is_some() || self.core.touched();
        if done {
            core.fail(polled_before_aggregate());
        }
        ProcessingTimeWindow {
            stream: self.stream,
            key: self.key,
            config: self.config,
            core,
            origin: self.origin,
            sleep: None,
            upstream_done: self.upstream_done,
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
    pub fn fold_windows<B, R>(self, init: B, f: R) -> ProcessingTimeWindow<S, KS, A, Fold<B, R>>
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
    ) -> ProcessingTimeWindow<S, KS, A, FoldWithMerge<B, R, M>>
    where
        B: Clone,
        R: FnMut(B, S::Item) -> B,
        M: FnMut(B, B) -> B,
    {
        self.aggregate_windows(FoldWithMerge::new(init, f, merge))
    }

    /// Reduces each window's elements with `f`; sessions merge with `f` too.
    #[doc(alias = "reduce")]
    pub fn reduce_windows<R>(self, f: R) -> ProcessingTimeWindow<S, KS, A, Reduce<R>>
    where
        R: FnMut(S::Item, S::Item) -> S::Item,
    {
        self.aggregate_windows(Reduce::new(f))
    }
}

impl<S, KS, A, G> ProcessingTimeWindow<S, KS, A, G>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    G: WindowAggregate<S::Item>,
{
    /// Counters: elements, windows fired, evictions, open windows.
    pub fn stats(&self) -> WindowStats {
        self.core.stats()
    }

    crate::operators::accessors::stream_accessors!(stream: S);
}

fn nanos_since(origin: Instant, now: Instant) -> i64 {
    i64::try_from(now.saturating_duration_since(origin).as_nanos()).unwrap_or(i64::MAX)
}

fn checked_instant(origin: Instant, nanos: i64) -> Option<Instant> {
    let offset = Duration::from_nanos(nanos.unsigned_abs());
    if nanos >= 0 {
        origin.checked_add(offset)
    } else {
        origin.checked_sub(offset)
    }
}

fn instant_at(origin: Instant, nanos: i64) -> Instant {
    checked_instant(origin, nanos).unwrap_or(origin)
}

/// Points `sleep` at `deadline`, creating it on first use. Creating a tokio timer outside a
/// runtime, or on a runtime without timers, panics: that becomes an error.
fn arm(sleep: &mut Option<Pin<Box<Sleep>>>, deadline: Instant) -> Result<(), TaskError> {
    match sleep {
        // An elapsed timer for the same deadline is re-armed: tokio caps far deadlines
        // (about two years) and fires them early.
        Some(s) if s.deadline() == deadline && !s.is_elapsed() => {}
        Some(s) => s.as_mut().reset(deadline),
        None => {
            *sleep = Some(Box::pin(
                try_sleep_until(deadline).ok_or(TaskError::NoRuntime)?,
            ))
        }
    }
    Ok(())
}

impl<S, KS, A, G> Stream for ProcessingTimeWindow<S, KS, A, G>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    G: WindowAggregate<S::Item>,
{
    type Item = WindowEvent<KS::Key, G::Output, S::Item, Instant>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let origin = *this.origin.get_or_insert_with(Instant::now);
        let mut budget = YIELD_EVERY;
        loop {
            if let Some(event) = this.core.pop() {
                return Poll::Ready(Some(event.map_bounds(|n| instant_at(origin, n))));
            }
            if *this.done {
                return Poll::Ready(None);
            }
            // A window [start, end) fires once the clock reaches `end`: W = now - 1.
            let now = nanos_since(origin, Instant::now());
            let core = &mut *this.core;
            let fired = catch(|| core.advance(now.saturating_sub(1), FireReason::Timer));
            if let Err(fault) = fired {
                *this.done = true;
                core.fail(fault.into());
                continue;
            }
            if core.pending_len() > 0 {
                continue;
            }
            if *this.upstream_done {
                *this.done = true;
                if let Err(fault) = catch(|| core.finish()) {
                    core.fail(fault.into());
                }
                continue;
            }
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    core.begin_element();
                    let key = &mut *this.key;
                    let step = catch(|| core.insert(key.key(&item), now, item));
                    if let Err(fault) = step {
                        *this.done = true;
                        core.fail(fault.into());
                    }
                    budget = budget.saturating_sub(1);
                    if budget == 0 && core.pending_len() == 0 {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    continue;
                }
                Poll::Ready(None) => {
                    *this.upstream_done = true;
                    continue;
                }
                Poll::Pending => {}
            }
            // Nothing to emit and nothing from upstream: wake up when the next window ends.
            let Some(due) = core.next_due() else {
                return Poll::Pending;
            };
            let Some(deadline) = checked_instant(origin, due.saturating_add(1)) else {
                return Poll::Pending;
            };
            if let Err(error) = arm(this.sleep, deadline) {
                *this.done = true;
                core.fail(error);
                continue;
            }
            match this.sleep.as_mut().map(|s| s.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => continue,
                _ => return Poll::Pending,
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

impl<S, KS, A, G> FusedStream for ProcessingTimeWindow<S, KS, A, G>
where
    S: Stream,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    G: WindowAggregate<S::Item>,
{
    fn is_terminated(&self) -> bool {
        self.done && self.core.pending_len() == 0
    }
}

impl<S, KS, A, G> fmt::Debug for ProcessingTimeWindow<S, KS, A, G>
where
    S: Stream + fmt::Debug,
    S::Item: Clone,
    KS: KeySelector<S::Item>,
    G: WindowAggregate<S::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessingTimeWindow")
            .field("stream", &self.stream)
            .field("config", &self.config)
            .field("origin", &self.origin)
            .field("stats", &self.stats())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
