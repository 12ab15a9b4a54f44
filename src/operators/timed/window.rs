//! [`TimedWindow`]: event-time windows over a timed stream, closed by its watermarks.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::{Timed, TimedStream};
use crate::operators::window::{
    Contents, FireReason, Fold, KeySelector, NonMerging, Reduce, TimeConfig, TimeCore,
    WindowAggregate, WindowEvent, WindowStats, YIELD_EVERY, catch, polled_before_aggregate,
};

pin_project! {
    /// Stream for [`DataflowExt::timed_window`](crate::operators::DataflowExt::timed_window).
    #[must_use = "streams do nothing unless polled"]
    pub struct TimedWindow<S, KS, A, G>
    where
        S: TimedStream,
        KS: KeySelector<S::Value>,
        G: WindowAggregate<S::Value>,
    {
        #[pin]
        stream: S,
        key: KS,
        config: TimeConfig,
        core: TimeCore<KS::Key, S::Value, G>,
        // The timestamp of the last element inserted: a late element comes out at once.
        last_ts: i64,
        // A watermark to forward once the windows it fired are out.
        forward: Option<i64>,
        done: bool,
        shape: PhantomData<fn() -> A>,
    }
}

impl<S, KS, A> TimedWindow<S, KS, A, Contents>
where
    S: TimedStream,
    S::Value: Clone,
    KS: KeySelector<S::Value>,
{
    pub(crate) fn new(stream: S, key: KS, config: TimeConfig) -> Self {
        TimedWindow {
            stream,
            key,
            config,
            core: TimeCore::new(&config, Contents),
            last_ts: i64::MIN,
            forward: None,
            done: false,
            shape: PhantomData,
        }
    }

    /// Aggregates each window with `agg` instead of collecting its elements.
    ///
    /// Call it before polling; on a stream already polled, the new stream yields one
    /// [`WindowEvent::Error`] and ends.
    pub fn aggregate<G>(self, agg: G) -> TimedWindow<S, KS, A, G>
    where
        G: WindowAggregate<S::Value>,
    {
        let mut core = TimeCore::new(&self.config, agg);
        let done = self.done || self.core.touched();
        if done {
            core.fail(polled_before_aggregate());
        }
        TimedWindow {
            stream: self.stream,
            key: self.key,
            config: self.config,
            core,
            last_ts: i64::MIN,
            forward: None,
            done,
            shape: PhantomData,
        }
    }

    /// Folds each window's elements into a clone of `init` with `f` (tumbling and sliding
    /// windows).
    pub fn fold<B, R>(self, init: B, f: R) -> TimedWindow<S, KS, A, Fold<B, R>>
    where
        A: NonMerging,
        B: Clone,
        R: FnMut(B, S::Value) -> B,
    {
        self.aggregate(Fold::new(init, f))
    }

    /// Reduces each window's elements with `f`.
    pub fn reduce<R>(self, f: R) -> TimedWindow<S, KS, A, Reduce<R>>
    where
        R: FnMut(S::Value, S::Value) -> S::Value,
    {
        self.aggregate(Reduce::new(f))
    }
}

impl<S, KS, A, G> TimedWindow<S, KS, A, G>
where
    S: TimedStream,
    S::Value: Clone,
    KS: KeySelector<S::Value>,
    G: WindowAggregate<S::Value>,
{
    /// Counters: elements, windows fired, late elements, evictions, open windows.
    pub fn stats(&self) -> WindowStats {
        self.core.stats()
    }

    /// The watermark the windows were closed with (`None` before the first).
    pub fn watermark(&self) -> Option<i64> {
        Some(self.core.watermark()).filter(|w| *w != i64::MIN)
    }

    crate::operators::accessors::stream_accessors!(stream: S);
}

impl<S, KS, A, G> futures::Stream for TimedWindow<S, KS, A, G>
where
    S: TimedStream,
    S::Value: Clone,
    KS: KeySelector<S::Value>,
    G: WindowAggregate<S::Value>,
{
    type Item = Timed<WindowEvent<KS::Key, G::Output, S::Value>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let mut budget = YIELD_EVERY;
        loop {
            if let Some(event) = this.core.pop() {
                let ts = match &event {
                    WindowEvent::Fired(w) => w.end.saturating_sub(1),
                    WindowEvent::Late(_) => *this.last_ts,
                    WindowEvent::Error(_) => this.core.watermark(),
                };
                return Poll::Ready(Some(Timed::Item { ts, value: event }));
            }
            if let Some(w) = this.forward.take() {
                return Poll::Ready(Some(Timed::Watermark(w)));
            }
            if *this.done {
                return Poll::Ready(None);
            }
            let core = &mut *this.core;
            match this.stream.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    *this.done = true;
                    if let Err(fault) = catch(|| core.finish()) {
                        core.fail(fault.into());
                    }
                }
                Poll::Ready(Some(Timed::Watermark(w))) => {
                    if w > core.watermark() {
                        if let Err(fault) = catch(|| core.advance(w, FireReason::Watermark)) {
                            *this.done = true;
                            core.fail(fault.into());
                        } else {
                            *this.forward = Some(w);
                        }
                    }
                }
                Poll::Ready(Some(Timed::Item { ts, value })) => {
                    core.begin_element();
                    *this.last_ts = ts;
                    let key = &mut *this.key;
                    let step = catch(|| {
                        let k = key.key(&value);
                        core.insert(k, ts, value)
                    });
                    if let Err(fault) = step {
                        *this.done = true;
                        core.fail(fault.into());
                    }
                    budget = budget.saturating_sub(1);
                    if budget == 0 && core.pending_len() == 0 {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = (self.core.pending_len()).saturating_add(usize::from(self.forward.is_some()));
        if self.done {
            (pending, Some(pending))
        } else {
            (pending, None)
        }
    }
}

impl<S, KS, A, G> FusedStream for TimedWindow<S, KS, A, G>
where
    S: TimedStream,
    S::Value: Clone,
    KS: KeySelector<S::Value>,
    G: WindowAggregate<S::Value>,
{
    fn is_terminated(&self) -> bool {
        self.done && self.core.pending_len() == 0 && self.forward.is_none()
    }
}

impl<S, KS, A, G> fmt::Debug for TimedWindow<S, KS, A, G>
where
    S: TimedStream + fmt::Debug,
    S::Value: Clone,
    KS: KeySelector<S::Value>,
    G: WindowAggregate<S::Value>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedWindow")
            .field("stream", &self.stream)
            .field("config", &self.config)
            .field("watermark", &self.watermark())
            .field("stats", &self.stats())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
