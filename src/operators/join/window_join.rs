//! [`WindowJoin`]: Flink's window join and window co-group on the window operator's store.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;

use super::inputs::{Inputs, Next};
use super::{JoinEvent, JoinStats, Side};
use crate::operators::timed::{Timed, TimedStream, TwoClocks};
use crate::operators::window::{
    FireReason, KeySelector, TimeConfig, TimeCore, Window, WindowAggregate, WindowEvent,
    WindowStats, YIELD_EVERY, catch,
};

/// The window contents of a join: both sides' elements in arrival order.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sides;

impl<L: Clone, R: Clone> WindowAggregate<Side<L, R>> for Sides {
    type Acc = (Vec<L>, Vec<R>);
    type Output = (Vec<L>, Vec<R>);

    fn create(&mut self, first: Side<L, R>) -> Self::Acc {
        self.add((Vec::new(), Vec::new()), first)
    }

    #[inline]
    fn add(&mut self, (mut l, mut r): Self::Acc, item: Side<L, R>) -> Self::Acc {
        match item {
            Side::Left(x) => l.push(x),
            Side::Right(x) => r.push(x),
        }
        (l, r)
    }

    fn output(&mut self, acc: &Self::Acc) -> Self::Output {
        acc.clone()
    }

    fn finish(&mut self, acc: Self::Acc) -> Self::Output {
        acc
    }

    fn merge(&mut self, (mut l, mut r): Self::Acc, (l2, r2): Self::Acc) -> Option<Self::Acc> {
        l.extend(l2);
        r.extend(r2);
        Some((l, r))
    }
}

/// How a fired window of a window join becomes results: [`Pairs`] (a join) or
/// [`CoGroup`] (a co-group).
pub trait WindowJoinFn<K, L, R> {
    /// One result.
    type Output;

    /// The next result of the window with `key` and these elements; `cursor` starts at 0
    /// for each window and is this function's to move. `None` when the window is done.
    fn next(
        &mut self,
        key: &K,
        left: &[L],
        right: &[R],
        cursor: &mut usize,
    ) -> Option<Self::Output>;
}

/// The join function of [`KeyedJoin::window`](super::KeyedJoin::window): every pair.
pub struct Pairs<F> {
    f: F,
}

impl<F> Pairs<F> {
    pub(crate) fn new(f: F) -> Self {
        Pairs { f }
    }
}

impl<F> fmt::Debug for Pairs<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pairs").finish_non_exhaustive()
    }
}

impl<K, L, R, O, F: FnMut(&L, &R) -> O> WindowJoinFn<K, L, R> for Pairs<F> {
    type Output = O;

    #[inline]
    fn next(&mut self, _key: &K, left: &[L], right: &[R], cursor: &mut usize) -> Option<O> {
        let width = right.len();
        if width == 0 {
            return None;
        }
        let (i, j) = (cursor.checked_div(width)?, cursor.checked_rem(width)?);
        let (l, r) = (left.get(i)?, right.get(j)?);
        // More than `usize::MAX` pairs (zero-sized elements) end the window's results.
        *cursor = cursor.checked_add(1)?;
        Some((self.f)(l, r))
    }
}

/// The co-group function of [`KeyedJoin::window_cogroup`](super::KeyedJoin::window_cogroup):
/// one call per window and key.
pub struct CoGroup<F> {
    f: F,
}

impl<F> CoGroup<F> {
    pub(crate) fn new(f: F) -> Self {
        CoGroup { f }
    }
}

impl<F> fmt::Debug for CoGroup<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoGroup").finish_non_exhaustive()
    }
}

impl<K, L, R, O, F: FnMut(&K, &[L], &[R]) -> Option<O>> WindowJoinFn<K, L, R> for CoGroup<F> {
    type Output = O;

    fn next(&mut self, key: &K, left: &[L], right: &[R], cursor: &mut usize) -> Option<O> {
        if *cursor > 0 {
            return None;
        }
        *cursor = 1;
        (self.f)(key, left, right)
    }
}

type Fired<K, L, R> = Window<K, (Vec<L>, Vec<R>)>;

pin_project! {
    /// Stream for [`KeyedJoin::window`](super::KeyedJoin::window) and
    /// [`KeyedJoin::window_cogroup`](super::KeyedJoin::window_cogroup).
    #[must_use = "streams do nothing unless polled"]
    pub struct WindowJoin<L, R, KL, KR, A, J>
    where
        L: TimedStream,
        R: TimedStream,
        L::Value: Clone,
        R::Value: Clone,
        KL: KeySelector<L::Value>,
    {
        #[pin]
        left: L,
        #[pin]
        right: R,
        left_key: KL,
        right_key: KR,
        joiner: J,
        config: TimeConfig,
        core: TimeCore<KL::Key, Side<L::Value, R::Value>, Sides>,
        inputs: Inputs,
        clocks: TwoClocks,
        // The fired window being turned into results, and the joiner's cursor in it.
        current: Option<(Fired<KL::Key, L::Value, R::Value>, usize)>,
        last_ts: i64,
        forward: Option<i64>,
        stats: JoinStats,
        done: bool,
        shape: PhantomData<fn() -> A>,
    }
}

impl<L, R, KL, KR, A, J> WindowJoin<L, R, KL, KR, A, J>
where
    L: TimedStream,
    R: TimedStream,
    L::Value: Clone,
    R::Value: Clone,
    KL: KeySelector<L::Value>,
{
    pub(crate) fn new(
        left: L,
        right: R,
        left_key: KL,
        right_key: KR,
        config: TimeConfig,
        joiner: J,
    ) -> Self {
        WindowJoin {
            left,
            right,
            left_key,
            right_key,
            joiner,
            config,
            core: TimeCore::new(&config, Sides),
            inputs: Inputs::default(),
            clocks: TwoClocks::new(),
            current: None,
            last_ts: i64::MIN,
            forward: None,
            stats: JoinStats::default(),
            done: false,
            shape: PhantomData,
        }
    }

    /// Counters: elements of each side, results, late elements (see [`JoinStats`]).
    pub fn stats(&self) -> JoinStats {
        let w = self.core.stats();
        JoinStats {
            late: w.late,
            held: w.held_elements,
            discarded: w.discarded,
            ..self.stats
        }
    }

    /// The counters of the windows: fired, open, evicted, held element-window pairs.
    pub fn window_stats(&self) -> WindowStats {
        self.core.stats()
    }

    /// The join's watermark, the minimum of its inputs' (`None` before both have one).
    pub fn watermark(&self) -> Option<i64> {
        Some(self.clocks.current()).filter(|w| *w != i64::MIN)
    }
}

impl<L, R, KL, KR, A, J> Stream for WindowJoin<L, R, KL, KR, A, J>
where
    L: TimedStream,
    R: TimedStream,
    L::Value: Clone,
    R::Value: Clone,
    KL: KeySelector<L::Value>,
    KR: KeySelector<R::Value, Key = KL::Key>,
    J: WindowJoinFn<KL::Key, L::Value, R::Value>,
{
    type Item = Timed<JoinEvent<J::Output, L::Value, R::Value>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        let mut budget = YIELD_EVERY;
        loop {
            if let Some((window, cursor)) = this.current.as_mut() {
                let joiner = &mut *this.joiner;
                let (left, right) = (&window.value.0, &window.value.1);
                let key = &window.key;
                match catch(|| Ok(joiner.next(key, left, right, cursor))) {
                    Ok(Some(out)) => {
                        this.stats.joined = this.stats.joined.saturating_add(1);
                        let ts = window.end.saturating_sub(1);
                        return Poll::Ready(Some(Timed::item(ts, JoinEvent::Joined(out))));
                    }
                    Ok(None) => *this.current = None,
                    Err(fault) => {
                        *this.current = None;
                        *this.done = true;
                        this.core.fail(fault.into());
                    }
                }
            }
            if let Some(event) = this.core.pop() {
                match event {
                    WindowEvent::Fired(w) => *this.current = Some((w, 0)),
                    WindowEvent::Late(side) => {
                        let ts = *this.last_ts;
                        return Poll::Ready(Some(Timed::item(ts, JoinEvent::Late(side))));
                    }
                    WindowEvent::Error(e) => {
                        let ts = this.core.watermark();
                        return Poll::Ready(Some(Timed::item(ts, JoinEvent::Error(e))));
                    }
                }
                continue;
            }
            if let Some(w) = this.forward.take() {
                return Poll::Ready(Some(Timed::Watermark(w)));
            }
            if *this.done {
                return Poll::Ready(None);
            }
            let core = &mut *this.core;
            let moved = match this
                .inputs
                .poll(this.left.as_mut(), this.right.as_mut(), cx)
            {
                Next::Pending => return Poll::Pending,
                Next::Ended => {
                    *this.done = true;
                    if let Err(fault) = catch(|| core.finish()) {
                        core.fail(fault.into());
                    }
                    continue;
                }
                Next::Left(Timed::Item { ts, value }) => {
                    this.stats.left = this.stats.left.saturating_add(1);
                    core.begin_element();
                    *this.last_ts = ts;
                    let key = &mut *this.left_key;
                    let step = catch(|| {
                        let k = key.key(&value);
                        core.insert(k, ts, Side::Left(value))
                    });
                    if let Err(fault) = step {
                        *this.done = true;
                        core.fail(fault.into());
                    }
                    budget = budget.saturating_sub(1);
                    false
                }
                Next::Right(Timed::Item { ts, value }) => {
                    this.stats.right = this.stats.right.saturating_add(1);
                    core.begin_element();
                    *this.last_ts = ts;
                    let key = &mut *this.right_key;
                    let step = catch(|| {
                        let k = key.key(&value);
                        core.insert(k, ts, Side::Right(value))
                    });
                    if let Err(fault) = step {
                        *this.done = true;
                        core.fail(fault.into());
                    }
                    budget = budget.saturating_sub(1);
                    false
                }
                Next::Left(Timed::Watermark(w)) => {
                    this.clocks.left(w);
                    true
                }
                Next::Right(Timed::Watermark(w)) => {
                    this.clocks.right(w);
                    true
                }
                Next::LeftEnded => {
                    this.clocks.left(i64::MAX);
                    true
                }
                Next::RightEnded => {
                    this.clocks.right(i64::MAX);
                    true
                }
            };
            if moved && !this.inputs.ended() {
                if let Some(w) = this.clocks.advanced() {
                    match catch(|| core.advance(w, FireReason::Watermark)) {
                        Ok(()) => *this.forward = Some(w),
                        Err(fault) => {
                            *this.done = true;
                            core.fail(fault.into());
                        }
                    }
                }
            }
            if budget == 0 && core.pending_len() == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pending = (self.core.pending_len()).saturating_add(usize::from(self.forward.is_some()));
        if self.done && self.current.is_none() {
            (pending, Some(pending))
        } else {
            (pending, None)
        }
    }
}

impl<L, R, KL, KR, A, J> FusedStream for WindowJoin<L, R, KL, KR, A, J>
where
    L: TimedStream,
    R: TimedStream,
    L::Value: Clone,
    R::Value: Clone,
    KL: KeySelector<L::Value>,
    KR: KeySelector<R::Value, Key = KL::Key>,
    J: WindowJoinFn<KL::Key, L::Value, R::Value>,
{
    fn is_terminated(&self) -> bool {
        self.done
            && self.current.is_none()
            && self.core.pending_len() == 0
            && self.forward.is_none()
    }
}

impl<L, R, KL, KR, A, J> fmt::Debug for WindowJoin<L, R, KL, KR, A, J>
where
    L: TimedStream + fmt::Debug,
    R: TimedStream + fmt::Debug,
    L::Value: Clone,
    R::Value: Clone,
    KL: KeySelector<L::Value>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowJoin")
            .field("left", &self.left)
            .field("right", &self.right)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
