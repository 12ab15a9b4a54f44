//! The core protocol shared by the parallel maps: the [`Core`] trait, the signals around
//! it ([`Signals`]: who sets and who clears each flag), the consumer's side
//! ([`Shared::poll_next`]) and the spawned [`Driver`]. See the module above for why there
//! are two parties.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{
    AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Release, Ordering::SeqCst,
};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;
use tokio::task::JoinHandle;

use super::error::ParMapError;
use crate::ledger::Ledger;

/// A spawned task that is aborted when this handle is dropped: no task outlives its owner.
#[derive(Debug)]
pub(crate) struct AbortOnDrop<T>(pub(crate) JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// Upstream, `f`, the calls in flight and the output buffer of one operator.
pub(crate) trait Core: Send + 'static {
    /// What the consumer receives.
    type Item;

    /// Pulls, starts and harvests work until nothing moves or a budget is spent (then it
    /// wakes `cx` to be run again). `cx` carries the work waker. `held` finished items
    /// are with the consumer already: they count against the bound.
    fn run(&mut self, cx: &mut Context<'_>, held: usize);

    /// Finished items, in output order, waiting for the consumer.
    fn finished(&mut self) -> &mut VecDeque<Self::Item>;

    /// Moves every finished item, in output order, to the back of `out`; returns how
    /// many.
    fn take_all(&mut self, out: &mut VecDeque<Self::Item>) -> usize {
        let finished = self.finished();
        let n = finished.len();
        if out.is_empty() {
            std::mem::swap(finished, out);
        } else {
            out.extend(finished.drain(..));
        }
        n
    }

    /// Finished items waiting in the core.
    fn buffered(&self) -> usize;

    /// As many items are held (in flight, finished, and `held` with the consumer) as the
    /// bound allows: nothing more is pulled until the consumer takes an item.
    fn is_full(&self, held: usize) -> bool;

    /// No work left: upstream has ended and nothing is in flight (items may still be
    /// buffered).
    fn is_drained(&self) -> bool;

    /// Items still to come: buffered, in flight, and upstream's hint.
    fn size_hint(&self) -> (usize, Option<usize>);

    /// Drops upstream and every call in flight.
    fn cancel(&mut self);

    /// The item that reports `e`.
    fn error_item(e: ParMapError) -> Self::Item;
}

/// How many times one party runs the core in a row while wake-ups keep arriving.
const RERUNS: usize = 4;

/// Who is waiting for what; shared by the work waker, the consumer and the driver.
///
/// The runner is whichever party holds the core's lock (consumer or driver).
///
/// | flag | set by | cleared by |
/// |---|---|---|
/// | `consumer_waiting` | consumer, returning `Pending` for want of an item (`wait_for_work`) | consumer, when it takes the core |
/// | `routed_to_consumer` | work waker, when it wakes the consumer | consumer (`swap`), before it runs the core |
/// | `driver_missed` | driver, finding the core locked; consumer, leaving work for the driver | consumer (`swap`) after unlocking, then it wakes the driver |
/// | `driver_gone` | the driver's drop (ended, aborted, runtime shut down) | never |
/// | `running` | runner, around each run of the core | runner, after each run |
/// | `rerun` | work waker, on every wake-up | work waker (`swap`) when nobody runs, else runner (`swap`) to run again |
/// | `full` | runner, after its runs (the bound on held items reached) | runner, once there is room |
///
/// `consumed` is a counter, written by the consumer only and read by the driver under
/// the lock.
#[derive(Debug, Default)]
struct Signals {
    /// The consumer returned `Pending` and waits for an item: work wake-ups go to it.
    consumer_waiting: AtomicBool,
    /// A work wake-up went to the consumer since it last ran the core.
    routed_to_consumer: AtomicBool,
    /// The driver was woken while the consumer held the core.
    driver_missed: AtomicBool,
    /// The driver task has ended (or was dropped): every wake-up goes to the consumer.
    driver_gone: AtomicBool,
    /// Someone is running the core right now: a work wake-up only asks for another run.
    running: AtomicBool,
    /// A work wake-up arrived that nobody has acted on yet.
    rerun: AtomicBool,
    /// The last run stopped pulling because the bound was reached: the consumer runs the
    /// core when it takes its next item.
    full: AtomicBool,
    /// Items the consumer has yielded (written by the consumer only, so a plain store).
    consumed: AtomicU64,
    consumer: AtomicWaker,
    driver: AtomicWaker,
}

impl Signals {
    /// The consumer waits for an item: from now on work wake-ups go to `waker`.
    fn wait_for_work(&self, waker: &Waker) {
        self.consumer.register(waker);
        self.consumer_waiting.store(true, SeqCst);
    }
}

impl Wake for Signals {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // During a run (a budget yield of the core, a call finishing on another
        // thread) the runner runs again instead: no task is woken, nothing crosses
        // threads. Otherwise exactly one of us and the runner claims the flag.
        self.rerun.store(true, SeqCst);
        if self.running.load(SeqCst) || !self.rerun.swap(false, SeqCst) {
            return;
        }
        if self.consumer_waiting.load(SeqCst) || self.driver_gone.load(SeqCst) {
            self.routed_to_consumer.store(true, SeqCst);
            self.consumer.wake();
        } else {
            self.driver.wake();
        }
    }
}

/// The core, with the count of items handed to the consumer.
struct Inner<C> {
    core: C,
    /// Items moved to the consumer's local queue (by the consumer, under the lock).
    taken: u64,
}

/// The core and the signals around it.
pub(crate) struct Shared<C> {
    inner: Mutex<Inner<C>>,
    signals: Arc<Signals>,
    /// Set when the consumer drops the stream; work running outside the core (a batch
    /// on the blocking pool) checks it, since it cannot be dropped.
    stop: Arc<AtomicBool>,
    /// The work waker (routes through `signals`; holds no reference to the core).
    work: Waker,
    /// The ledger of the terminal that polled the operator first: current while the
    /// driver runs the core, so that sources first polled there report to it.
    ledger: Option<Ledger>,
}

impl<C> Shared<C> {
    pub(super) fn new(core: C, stop: Arc<AtomicBool>) -> Arc<Self> {
        let signals = Arc::new(Signals::default());
        let work = Waker::from(Arc::clone(&signals));
        Arc::new(Shared {
            inner: Mutex::new(Inner { core, taken: 0 }),
            signals,
            stop,
            work,
            ledger: Ledger::current(),
        })
    }

    /// The core, unless the other party holds it. Never blocks. A poisoned lock (which
    /// would need a panic inside the core, where user code is wrapped in `catch_unwind`)
    /// is used as is.
    fn try_lock(&self) -> Option<MutexGuard<'_, Inner<C>>> {
        match self.inner.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// The consumer's side of the output: items taken from the core in one go, yielded
/// without touching the lock.
pub(crate) struct Local<T> {
    pub(super) items: VecDeque<T>,
    pub(super) consumed: u64,
    /// The last poll yielded so the driver could run: the next one returns an item.
    pub(super) yielded: bool,
}

impl<C: Core> Shared<C> {
    /// Runs the core, again while work wake-ups arrive during the run (up to a budget).
    /// Returns `true` when work is still pending: the caller must see that someone runs
    /// the core again.
    fn run(&self, inner: &mut Inner<C>, consumed: u64) -> bool {
        let sig = &*self.signals;
        let held = usize::try_from(inner.taken.saturating_sub(consumed)).unwrap_or(usize::MAX);
        let mut cx = Context::from_waker(&self.work);
        let mut more = true;
        for _ in 0..RERUNS {
            sig.running.store(true, SeqCst);
            inner.core.run(&mut cx, held);
            sig.running.store(false, SeqCst);
            if !(sig.rerun.load(SeqCst) && sig.rerun.swap(false, SeqCst)) {
                more = false;
                break;
            }
        }
        let full = inner.core.is_full(held);
        if sig.full.load(SeqCst) != full {
            sig.full.store(full, SeqCst);
        }
        more
    }

    /// Consumer side: the next item, `None` at the end.
    #[inline]
    pub(super) fn poll_next(
        &self,
        local: &mut Local<C::Item>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<C::Item>> {
        let sig = &*self.signals;
        // The hot path: an item taken earlier, and nothing for us to do in the core.
        if !local.items.is_empty()
            && !sig.routed_to_consumer.load(SeqCst)
            && !sig.full.load(SeqCst)
            && !sig.driver_gone.load(SeqCst)
        {
            local.yielded = false;
            return Poll::Ready(self.pop_local(local));
        }
        self.poll_next_core(local, cx)
    }

    /// Consumer side, when the core needs running or the local items are used up (kept
    /// out of line so the hot path above stays small).
    #[inline(never)]
    fn poll_next_core(
        &self,
        local: &mut Local<C::Item>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<C::Item>> {
        let sig = &*self.signals;
        let mut inner = match self.try_lock() {
            Some(inner) => inner,
            None if !local.items.is_empty() => {
                local.yielded = false;
                return Poll::Ready(self.pop_local(local));
            }
            None => {
                // The driver runs the core; it wakes us after unlocking if it produced.
                sig.wait_for_work(cx.waker());
                match self.try_lock() {
                    Some(inner) => inner,
                    None => return Poll::Pending,
                }
            }
        };
        // While we run the core, work wake-ups go to the driver (a wake-up that arrives
        // after our last poll of a call must not be lost if we then return an item).
        if sig.consumer_waiting.load(SeqCst) {
            sig.consumer_waiting.store(false, SeqCst);
        }
        // Taking an item first makes room for the run below.
        let mut item = self.pop_local(local);
        if item.is_none() && inner.core.buffered() > 0 {
            self.take_all(&mut inner, local);
            item = self.pop_local(local);
        }
        let routed =
            sig.routed_to_consumer.load(SeqCst) && sig.routed_to_consumer.swap(false, SeqCst);
        let mut more = false;
        if routed || item.is_none() || sig.full.load(SeqCst) || sig.driver_gone.load(SeqCst) {
            more = self.run(&mut inner, local.consumed);
        }
        if item.is_none() {
            self.take_all(&mut inner, local);
            item = self.pop_local(local);
            if item.is_some() && sig.full.load(SeqCst) {
                // That item made room under the bound: pull again.
                more |= self.run(&mut inner, local.consumed);
            }
        }
        let out = match item {
            Some(item) if !local.yielded && (more || !inner.core.is_drained()) => {
                // We may be busy with this item for a while (computing, the worker
                // thread not ours to lend): the driver takes over the work in flight.
                // Waking it from here queues it on this thread, where a multi-thread
                // runtime keeps a task just woken (tokio's LIFO slot) out of other
                // workers' reach, and timers fire only on a worker that parks: so yield
                // once, which wakes an idle worker to take one of the two tasks, and the
                // item comes with the next poll.
                self.unpop_local(local, item);
                local.yielded = true;
                sig.driver_missed.store(true, SeqCst);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(item) => {
                if more {
                    sig.driver_missed.store(true, SeqCst);
                }
                local.yielded = false;
                Poll::Ready(Some(item))
            }
            None if inner.core.is_drained() => Poll::Ready(None),
            None => {
                sig.wait_for_work(cx.waker());
                if more {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        };
        drop(inner);
        if sig.driver_missed.load(SeqCst) && sig.driver_missed.swap(false, SeqCst) {
            sig.driver.wake();
        }
        out
    }

    /// Moves the core's finished items to the consumer's local queue.
    fn take_all(&self, inner: &mut Inner<C>, local: &mut Local<C::Item>) {
        let taken = inner.core.take_all(&mut local.items);
        inner.taken = inner.taken.saturating_add(taken as u64);
    }

    /// Puts back the item just taken by [`pop_local`](Self::pop_local), under the lock
    /// it was taken under (so the driver never sees it counted as consumed).
    fn unpop_local(&self, local: &mut Local<C::Item>, item: C::Item) {
        local.items.push_front(item);
        local.consumed = local.consumed.saturating_sub(1);
        self.signals.consumed.store(local.consumed, Release);
    }

    /// Yields a locally held item and publishes the count.
    #[inline]
    fn pop_local(&self, local: &mut Local<C::Item>) -> Option<C::Item> {
        let item = local.items.pop_front()?;
        local.consumed = local.consumed.saturating_add(1);
        // Release, not SeqCst: a plain store on the hot path; the driver reads it with
        // Acquire under the lock.
        self.signals.consumed.store(local.consumed, Release);
        Some(item)
    }

    /// Consumer side: items still to come, when the core is free to look at (otherwise
    /// the honest `(local, None)`).
    pub(super) fn size_hint(&self, local: &Local<C::Item>) -> (usize, Option<usize>) {
        let here = local.items.len();
        match self.try_lock() {
            Some(inner) => {
                let (lo, hi) = inner.core.size_hint();
                (
                    lo.saturating_add(here),
                    hi.and_then(|h| h.checked_add(here)),
                )
            }
            None => (here, None),
        }
    }

    /// Consumer side, on drop: cancels the work now if the driver is not running it (if
    /// it is, aborting the driver drops the work right after).
    pub(super) fn cancel(&self) {
        self.stop.store(true, SeqCst);
        if let Some(mut inner) = self.try_lock() {
            inner.core.cancel();
        }
    }
}

impl<C> fmt::Debug for Shared<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("signals", &self.signals)
            .finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// The spawned task that runs the core while the consumer is busy. Ends when the
    /// work is drained.
    pub(super) struct Driver<C: Core> {
        pub(super) shared: Arc<Shared<C>>,
    }

    impl<C: Core> PinnedDrop for Driver<C> {
        fn drop(this: Pin<&mut Self>) {
            // Aborted, dropped by a shutting-down runtime, or done: from now on the
            // consumer runs the core alone, like `buffered`.
            let sig = &this.shared.signals;
            sig.driver_gone.store(true, SeqCst);
            sig.consumer.wake();
        }
    }
}

impl<C: Core> Future for Driver<C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &self.shared.ledger {
            Some(ledger) => ledger.scope(|| Self::poll_core(&self.shared, cx)),
            None => Self::poll_core(&self.shared, cx),
        }
    }
}

impl<C: Core> Driver<C> {
    /// One run of the core by the driver.
    fn poll_core(shared: &Shared<C>, cx: &mut Context<'_>) -> Poll<()> {
        let sig = &*shared.signals;
        sig.driver.register(cx.waker());
        let mut inner = match shared.try_lock() {
            Some(inner) => inner,
            None => {
                // The consumer holds the core; it checks this flag after unlocking.
                sig.driver_missed.store(true, SeqCst);
                match shared.try_lock() {
                    Some(inner) => inner,
                    None => return Poll::Pending,
                }
            }
        };
        if shared.run(&mut inner, sig.consumed.load(Acquire)) {
            cx.waker().wake_by_ref();
        }
        let drained = inner.core.is_drained();
        let has_output = drained || inner.core.buffered() > 0;
        drop(inner);
        if has_output && sig.consumer_waiting.load(SeqCst) {
            sig.consumer.wake();
        }
        if drained {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
