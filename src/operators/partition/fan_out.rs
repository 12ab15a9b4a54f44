//! [`FanOut`]: one timed stream read once and delivered to several branches.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use futures::Stream;

use crate::operators::timed::{Timed, TimedStream};

/// Items a branch pulls from upstream in one turn, at most (fewer when another branch's
/// queue fills or upstream is not ready).
const PULL_BATCH: usize = 256;

/// What all branches share: upstream, the route, one bounded queue per branch.
struct Shared<S: TimedStream, F> {
    upstream: Pin<Box<S>>,
    route: F,
    queues: Vec<VecDeque<Timed<S::Value>>>,
    wakers: Vec<Option<Waker>>,
    alive: Vec<bool>,
    capacity: usize,
    done: bool,
    failed: bool,
    unrouted: u64,
}

impl<S: TimedStream, F> Shared<S, F> {
    fn wake_others(&mut self, me: usize) {
        for (i, w) in self.wakers.iter_mut().enumerate() {
            if i != me {
                if let Some(w) = w.take() {
                    w.wake();
                }
            }
        }
    }

    fn wake(&mut self, i: usize) {
        if let Some(w) = self.wakers.get_mut(i).and_then(Option::take) {
            w.wake();
        }
    }

    fn park(&mut self, me: usize, cx: &Context<'_>) {
        if let Some(w) = self.wakers.get_mut(me) {
            if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *w = Some(cx.waker().clone());
            }
        }
    }

    fn full(&self) -> bool {
        self.queues
            .iter()
            .zip(&self.alive)
            .any(|(q, alive)| *alive && q.len() >= self.capacity)
    }
}

/// One branch of [`DataflowExt::fan_out`](crate::operators::DataflowExt::fan_out).
#[must_use = "streams do nothing unless polled"]
pub struct FanOut<S: TimedStream, F> {
    shared: Arc<Mutex<Shared<S, F>>>,
    index: usize,
    local: VecDeque<Timed<S::Value>>,
}

// The queues hold items by value and are never pinned: a branch can move.
impl<S: TimedStream, F> Unpin for FanOut<S, F> {}

pub(crate) fn fan_out<S, F, const N: usize>(
    upstream: S,
    capacity: usize,
    route: F,
) -> [FanOut<S, F>; N]
where
    S: TimedStream,
{
    let shared = Arc::new(Mutex::new(Shared {
        upstream: Box::pin(upstream),
        route,
        queues: (0..N).map(|_| VecDeque::new()).collect(),
        wakers: (0..N).map(|_| None).collect(),
        alive: vec![true; N],
        capacity,
        done: false,
        failed: false,
        unrouted: 0,
    }));
    std::array::from_fn(|index| FanOut {
        shared: Arc::clone(&shared),
        index,
        local: VecDeque::new(),
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S: TimedStream, F> FanOut<S, F> {
    /// This branch's index (what `route` returns for its elements).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Elements `route` sent to no branch (an index `>= N`), over all branches.
    pub fn unrouted(&self) -> u64 {
        lock(&self.shared).unrouted
    }
}

impl<S, F> Stream for FanOut<S, F>
where
    S: TimedStream,
    F: FnMut(&S::Value) -> usize,
{
    type Item = Timed<S::Value>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(item) = this.local.pop_front() {
            return Poll::Ready(Some(item));
        }
        let me = this.index;
        let mut guard = lock(&this.shared);
        let shared = &mut *guard;
        loop {
            if let Some(queue) = shared.queues.get_mut(me) {
                if !queue.is_empty() {
                    let was_full = queue.len() >= shared.capacity;
                    std::mem::swap(queue, &mut this.local);
                    if was_full {
                        shared.wake_others(me);
                    }
                    drop(guard);
                    return Poll::Ready(this.local.pop_front());
                }
            }
            if shared.done || shared.failed {
                return Poll::Ready(None);
            }
            if shared.full() {
                // Another branch must drain first: wait for it (backpressure).
                shared.park(me, cx);
                return Poll::Pending;
            }
            let step = catch_unwind(AssertUnwindSafe(|| pull(shared, me, cx)));
            match step {
                Ok(true) => {}
                Ok(false) => {
                    shared.park(me, cx);
                    return Poll::Pending;
                }
                Err(payload) => {
                    shared.failed = true;
                    shared.wake_others(me);
                    drop(guard);
                    resume_unwind(payload);
                }
            }
        }
    }
}

/// Pulls up to [`PULL_BATCH`] items into the queues; `false` when upstream is pending.
fn pull<S, F>(shared: &mut Shared<S, F>, me: usize, cx: &mut Context<'_>) -> bool
where
    S: TimedStream,
    F: FnMut(&S::Value) -> usize,
{
    for _ in 0..PULL_BATCH {
        match shared.upstream.as_mut().poll_next(cx) {
            Poll::Pending => {
                return shared.queues.get(me).is_some_and(|q| !q.is_empty());
            }
            Poll::Ready(None) => {
                shared.done = true;
                shared.wake_others(me);
                return true;
            }
            Poll::Ready(Some(Timed::Watermark(w))) => {
                for (i, q) in shared.queues.iter_mut().enumerate() {
                    if shared.alive.get(i).copied().unwrap_or(false) {
                        q.push_back(Timed::Watermark(w));
                    }
                }
                shared.wake_others(me);
            }
            Poll::Ready(Some(Timed::Item { ts, value })) => {
                let to = (shared.route)(&value);
                match shared.queues.get_mut(to) {
                    Some(q) if shared.alive.get(to).copied().unwrap_or(false) => {
                        q.push_back(Timed::Item { ts, value });
                        if to != me {
                            shared.wake(to);
                        }
                    }
                    // A dropped branch's elements are not wanted any more.
                    Some(_) => {}
                    None => shared.unrouted = shared.unrouted.saturating_add(1),
                }
            }
        }
        if shared.full() {
            break;
        }
    }
    true
}

impl<S: TimedStream, F> Drop for FanOut<S, F> {
    fn drop(&mut self) {
        let mut shared = lock(&self.shared);
        if let Some(alive) = shared.alive.get_mut(self.index) {
            *alive = false;
        }
        if let Some(q) = shared.queues.get_mut(self.index) {
            q.clear();
        }
        // Whoever polled upstream last may be this branch: let the others poll it again.
        shared.wake_others(self.index);
    }
}

impl<S: TimedStream, F> fmt::Debug for FanOut<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOut")
            .field("index", &self.index)
            .field("buffered", &self.local.len())
            .finish_non_exhaustive()
    }
}
