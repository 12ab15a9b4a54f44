//! The machinery shared by the parallel-map operators: [`ParMapError`], the work core
//! (upstream, `f`, the calls in flight and the bounded output buffer), and the driver
//! task that keeps the core moving while the consumer is busy.
//!
//! `futures`' `buffered`/`buffer_unordered` poll their futures only from inside the
//! consumer's `poll_next`, so in-flight work stalls whenever the consumer is busy with an
//! earlier result (futures-rs issues #2387, #2961). Here the core sits behind a mutex that
//! two parties take with `try_lock`, never blocking:
//!
//! - the **consumer** runs the core itself when it polls (no hand-off, no cross-thread
//!   wake-up: as cheap as `buffered` while the consumer keeps up), and
//! - a **driver** task spawned on the first poll runs it when the consumer is busy.
//!   When the consumer takes a result from the core while work is in flight, it yields
//!   once first: on a multi-thread runtime a task woken by a busy worker waits in that
//!   worker's LIFO slot, out of other workers' reach, and timers fire only on a worker
//!   that parks; the yield wakes an idle worker, which then drives the work while the
//!   consumer computes (a consumer that blocks its thread for 4 ms per result: 1.9x
//!   `buffered`).
//!
//! Upstream is polled with one *work waker* that routes a wake-up to the consumer while
//! it waits for an item, and to the driver while the consumer is busy. Each async call
//! runs in one of `n` reusable slots whose waker queues the slot in a ready list and
//! then wakes the work waker; only the woken slots are polled, and a slot's box and
//! waker are made once, so a call costs no allocation of the operator's own. Whoever
//! fails to take the lock leaves a flag that the holder checks after unlocking, so no
//! wake-up is lost.
//!
//! Finished results wait in the core's buffer, and the consumer takes them all at once
//! into a local queue it yields from without locking (publishing how many it has yielded
//! with a plain store). The calls in flight are always polled when woken; the bound is
//! kept on the pulling side: an item is pulled only while fewer than `n` calls are in
//! flight and fewer than `n + b` items are held (in flight, finished, or with the
//! consumer), so memory stays bounded whatever the consumer does.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{
    AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Release, Ordering::SeqCst,
};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::task::{Context, Poll, Wake, Waker};

use futures::Stream;
use futures::task::AtomicWaker;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::error::ConfigError;
use crate::error::panic_message;
use crate::ledger::Ledger;
use crate::units::Count;

/// Why a parallel-map stream yielded an error item instead of a value.
///
/// `Panicked` replaces exactly one input item and the stream goes on with the others;
/// `UpstreamPanicked` and `NoRuntime` end the stream after the items already pulled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParMapError {
    /// The user's `f` (or the future it returned) panicked on one input item.
    Panicked {
        /// The position of the input item in the upstream stream, counted from 0.
        index: u64,
        /// The panic message (`"<non-string panic payload>"` when it was not a string).
        message: String,
    },
    /// The upstream stream panicked while being polled; nothing more is pulled from it.
    UpstreamPanicked {
        /// The panic message.
        message: String,
    },
    /// The stream was first polled outside a tokio runtime, so its driver could not be
    /// spawned. Nothing was pulled from upstream.
    NoRuntime,
    /// The runtime shut down before a blocking batch ran: one such error per input item
    /// of the batch, so nothing is lost silently.
    RuntimeShutdown {
        /// The position of the input item in the upstream stream, counted from 0.
        index: u64,
    },
}

impl ParMapError {
    /// `true` for [`ParMapError::Panicked`] and [`ParMapError::UpstreamPanicked`].
    pub fn is_panic(&self) -> bool {
        matches!(
            self,
            ParMapError::Panicked { .. } | ParMapError::UpstreamPanicked { .. }
        )
    }
}

impl fmt::Display for ParMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParMapError::Panicked { index, message } => {
                write!(
                    f,
                    "parallel map function panicked on item {index}: {message}"
                )
            }
            ParMapError::UpstreamPanicked { message } => {
                write!(f, "upstream stream of a parallel map panicked: {message}")
            }
            ParMapError::NoRuntime => f.write_str(
                "parallel map polled outside a tokio runtime: its driver cannot be spawned",
            ),
            ParMapError::RuntimeShutdown { index } => {
                write!(f, "the runtime shut down before item {index} was mapped")
            }
        }
    }
}

impl std::error::Error for ParMapError {}

impl<E> From<ParMapError> for crate::error::TaskError<E> {
    /// Panics become [`TaskError::Panicked`](crate::error::TaskError::Panicked) (the item's
    /// index goes into the message), a missing runtime
    /// [`TaskError::NoRuntime`](crate::error::TaskError::NoRuntime), a shutdown
    /// [`TaskError::Cancelled`](crate::error::TaskError::Cancelled).
    fn from(e: ParMapError) -> Self {
        use crate::error::TaskError;
        match e {
            ParMapError::Panicked { index, message } => TaskError::Panicked {
                message: format!("item {index}: {message}"),
            },
            ParMapError::UpstreamPanicked { message } => TaskError::Panicked {
                message: format!("upstream: {message}"),
            },
            ParMapError::NoRuntime => TaskError::NoRuntime,
            ParMapError::RuntimeShutdown { .. } => TaskError::Cancelled {
                level: crate::task::CancellationLevel::KillHard,
            },
        }
    }
}

/// Polls `upstream` with a panic turned into an error.
pub(crate) fn poll_upstream<St: Stream>(
    upstream: Pin<&mut St>,
    cx: &mut Context<'_>,
) -> Result<Poll<Option<St::Item>>, ParMapError> {
    catch_unwind(AssertUnwindSafe(|| upstream.poll_next(cx))).map_err(|payload| {
        ParMapError::UpstreamPanicked {
            message: panic_message(&*payload),
        }
    })
}

/// Validated settings of a parallel-map operator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// At most this many calls (or batches, for the blocking variant) in flight.
    pub(crate) concurrency: NonZeroUsize,
    /// The output buffer `b`: at most `concurrency + b` items held at once.
    pub(crate) buffer: NonZeroUsize,
}

impl Limits {
    /// Concurrency `n` and an output buffer of `n`.
    pub(crate) fn new(n: NonZeroUsize) -> Self {
        Limits {
            concurrency: n,
            buffer: n,
        }
    }
}

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

// ---------------------------------------------------------------------------------------
// The core and the two parties that run it.
// ---------------------------------------------------------------------------------------

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
    fn new(core: C, stop: Arc<AtomicBool>) -> Arc<Self> {
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
    items: VecDeque<T>,
    consumed: u64,
    /// The last poll yielded so the driver could run: the next one returns an item.
    yielded: bool,
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
    fn poll_next(&self, local: &mut Local<C::Item>, cx: &mut Context<'_>) -> Poll<Option<C::Item>> {
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
    fn size_hint(&self, local: &Local<C::Item>) -> (usize, Option<usize>) {
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
    fn cancel(&self) {
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
    struct Driver<C: Core> {
        shared: Arc<Shared<C>>,
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

/// The consumer's handle on a running operator. Dropping it cancels the work: the
/// driver is aborted and the calls in flight are dropped at once (or, if the driver is
/// running them at that instant, as soon as its poll ends).
pub(crate) struct Running<C, T> {
    shared: Arc<Shared<C>>,
    local: Local<T>,
    driver: AbortOnDrop<()>,
    /// `Shared::cancel`, captured where `C: Core` is known, so the public stream types
    /// need no `Core` bounds.
    cancel: fn(&Shared<C>),
}

impl<C, T> Drop for Running<C, T> {
    fn drop(&mut self) {
        self.driver.0.abort();
        (self.cancel)(&self.shared);
    }
}

/// The consumer side of every parallel-map operator. Before the first poll it holds
/// upstream and `f`; the first poll builds the core and spawns the driver, so nothing is
/// pulled before the stream is polled, and the runtime is looked up where it is polled.
/// `T` is the item type (the core's `Item`).
pub(crate) enum State<St, F, C, T> {
    Idle {
        upstream: St,
        f: F,
    },
    Running(Running<C, T>),
    /// The driver could not be spawned: yield `NoRuntime` once, then end.
    NoRuntime,
    Done,
}

impl<St, F, C, T> State<St, F, C, T> {
    pub(crate) fn new(upstream: St, f: F) -> Self {
        State::Idle { upstream, f }
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self, State::Done)
    }

    /// `Ok` before the first poll; a setting named `setting` cannot change after it.
    pub(crate) fn check_unpolled(&self, setting: &'static str) -> Result<(), ConfigError> {
        if matches!(self, State::Idle { .. }) {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                setting,
                reason: String::from("the stream has already been polled"),
            })
        }
    }

    /// Checks a new setting that only makes sense before the first poll.
    pub(crate) fn check_setting(
        &self,
        setting: &'static str,
        value: Count,
    ) -> Result<NonZeroUsize, ConfigError> {
        let value = value.validate(setting)?;
        self.check_unpolled(setting)?;
        Ok(value)
    }
}

impl<St, F, C: Core<Item = T>, T> State<St, F, C, T> {
    /// The next item: on the first poll, builds the core with `make` (given the runtime
    /// and the flag that is set when the stream is dropped) and spawns the driver on the
    /// current runtime.
    #[inline]
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        make: impl FnOnce(St, F, &Handle, Arc<AtomicBool>) -> C,
    ) -> Poll<Option<T>> {
        if let State::Running(running) = self {
            let polled = running.shared.poll_next(&mut running.local, cx);
            if let Poll::Ready(None) = polled {
                *self = State::Done;
            }
            return polled;
        }
        self.poll_next_cold(cx, make)
    }

    /// The first poll (which starts the work) and the polls after the end.
    #[inline(never)]
    fn poll_next_cold(
        &mut self,
        cx: &mut Context<'_>,
        make: impl FnOnce(St, F, &Handle, Arc<AtomicBool>) -> C,
    ) -> Poll<Option<T>> {
        if matches!(self, State::Idle { .. }) {
            let State::Idle { upstream, f } = std::mem::replace(self, State::Done) else {
                return Poll::Ready(None);
            };
            *self = match Handle::try_current() {
                Ok(handle) => {
                    let stop = Arc::new(AtomicBool::new(false));
                    let core = make(upstream, f, &handle, Arc::clone(&stop));
                    let shared = Shared::new(core, stop);
                    let driver = handle.spawn(Driver {
                        shared: Arc::clone(&shared),
                    });
                    State::Running(Running {
                        shared,
                        local: Local {
                            items: VecDeque::new(),
                            consumed: 0,
                            yielded: false,
                        },
                        driver: AbortOnDrop(driver),
                        cancel: Shared::cancel,
                    })
                }
                Err(_) => State::NoRuntime,
            };
        }
        match self {
            State::Running(running) => {
                let polled = running.shared.poll_next(&mut running.local, cx);
                if let Poll::Ready(None) = polled {
                    *self = State::Done;
                }
                polled
            }
            State::NoRuntime => {
                *self = State::Done;
                Poll::Ready(Some(C::error_item(ParMapError::NoRuntime)))
            }
            State::Idle { .. } | State::Done => Poll::Ready(None),
        }
    }

    pub(crate) fn size_hint(&self) -> (usize, Option<usize>)
    where
        St: Stream,
    {
        match self {
            State::Idle { upstream, .. } => upstream.size_hint(),
            State::Running(running) => running.shared.size_hint(&running.local),
            State::NoRuntime => (1, Some(1)),
            State::Done => (0, Some(0)),
        }
    }
}

impl<St: fmt::Debug, F, C, T> fmt::Debug for State<St, F, C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Idle { upstream, .. } => f
                .debug_struct("Idle")
                .field("upstream", upstream)
                .finish_non_exhaustive(),
            State::Running(running) => f
                .debug_struct("Running")
                .field("shared", &running.shared)
                .field("held", &running.local.items.len())
                .finish(),
            State::NoRuntime => f.write_str("NoRuntime"),
            State::Done => f.write_str("Done"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The async core (par_map, par_map_unordered).
// ---------------------------------------------------------------------------------------

/// How many polls of calls one run may make before it yields to the runtime, so calls
/// that wake themselves at once (or an always-ready upstream) cannot monopolise a worker
/// thread.
const POLLS_PER_RUN: usize = 1024;

/// The slots whose calls were woken, in wake order; shared with every slot's waker.
#[derive(Debug, Default)]
struct ReadySlots {
    list: Mutex<VecDeque<usize>>,
    /// The work waker, told when a slot becomes ready (taken on the first wake, registered
    /// again on each run, as `FuturesUnordered` does).
    parent: AtomicWaker,
}

impl ReadySlots {
    fn list(&self) -> MutexGuard<'_, VecDeque<usize>> {
        // Nothing panics while holding it; a poisoned list is still a valid list.
        self.list
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The waker of one slot: queues the slot for polling (once until it is polled).
#[derive(Debug)]
struct SlotWake {
    slot: usize,
    /// The slot is in the ready list and will be polled: further wakes add nothing.
    queued: AtomicBool,
    ready: Arc<ReadySlots>,
}

impl Wake for SlotWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, SeqCst) {
            self.ready.list().push_back(self.slot);
            self.ready.parent.wake();
        }
    }
}

/// One place for a call in flight, reused by call after call: the future lives in a
/// box allocated once (replaced in place with `Pin::set`), and the waker is made once,
/// so a call costs no allocation once the slots exist.
struct Slot<Fut> {
    fut: Pin<Box<Option<Fut>>>,
    /// The input index of the call in the slot.
    index: u64,
    wake: Arc<SlotWake>,
    waker: Waker,
}

/// How finished calls reach the output: in input order (`par_map`) or as they finish
/// (`par_map_unordered`).
pub(crate) trait Order<T>: Default + Send + 'static {
    /// Hands the result of call `index` to `out`, now or once the calls before it have.
    fn deliver(&mut self, index: u64, result: T, out: &mut VecDeque<T>);

    /// Calls counted as in flight: running (`running`) or finished but waiting for an
    /// earlier call. `next` is the index of the next call to start.
    fn in_flight(&self, next: u64, running: usize) -> usize;

    /// Forgets every waiting result.
    fn clear(&mut self);
}

/// Results in input order: a result that finishes early waits in a ring indexed from
/// the oldest call not yet delivered (at most `n` long).
#[derive(Debug)]
pub(crate) struct InOrder<T> {
    /// The index of the oldest call not yet delivered (`ring[0]`).
    base: u64,
    ring: VecDeque<Option<T>>,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        InOrder {
            base: 0,
            ring: VecDeque::new(),
        }
    }
}

impl<T: Send + 'static> Order<T> for InOrder<T> {
    fn deliver(&mut self, index: u64, result: T, out: &mut VecDeque<T>) {
        let slot = usize::try_from(index.saturating_sub(self.base)).unwrap_or(usize::MAX);
        if slot == 0 && self.ring.is_empty() {
            // The common case: calls finish about in order.
            out.push_back(result);
            self.base = self.base.saturating_add(1);
            return;
        }
        if self.ring.len() <= slot {
            self.ring.resize_with(slot.saturating_add(1), || None);
        }
        if let Some(place) = self.ring.get_mut(slot) {
            *place = Some(result);
        }
        while let Some(Some(_)) = self.ring.front() {
            if let Some(Some(ready)) = self.ring.pop_front() {
                out.push_back(ready);
                self.base = self.base.saturating_add(1);
            }
        }
    }

    fn in_flight(&self, next: u64, _running: usize) -> usize {
        usize::try_from(next.saturating_sub(self.base)).unwrap_or(usize::MAX)
    }

    fn clear(&mut self) {
        self.ring.clear();
    }
}

/// Results as they finish.
#[derive(Debug)]
pub(crate) struct AnyOrder<T>(std::marker::PhantomData<fn(T) -> T>);

impl<T> Default for AnyOrder<T> {
    fn default() -> Self {
        AnyOrder(std::marker::PhantomData)
    }
}

impl<T: 'static> Order<T> for AnyOrder<T> {
    fn deliver(&mut self, _index: u64, result: T, out: &mut VecDeque<T>) {
        out.push_back(result);
    }

    fn in_flight(&self, _next: u64, running: usize) -> usize {
        running
    }

    fn clear(&mut self) {}
}

/// What the core was doing when a panic unwound into its `catch_unwind`.
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// Nothing that can panic.
    Idle,
    /// Polling upstream.
    Upstream,
    /// Calling `f` on the item with this index.
    Call(u64),
    /// Polling the call in this slot.
    Poll(usize),
}

pin_project_lite::pin_project! {
    /// The core of `par_map` (`O` = `InOrder`) and `par_map_unordered` (`O` = `AnyOrder`):
    /// the calls in flight run in `n` reusable slots, each with its own waker that queues
    /// the slot in a shared ready list (like `FuturesUnordered`, without its allocation
    /// per call). Nothing is structurally pinned (upstream and the futures are boxed).
    pub(crate) struct AsyncCore<St, F, Fut: Future, O> {
        // `None` once it has ended, panicked or been cancelled.
        upstream: Option<Pin<Box<St>>>,
        // Reported after every call pulled before the panic.
        upstream_panic: Option<ParMapError>,
        f: F,
        slots: Vec<Slot<Fut>>,
        // Empty slots, reused last-in first-out (the warmest memory first).
        free: Vec<usize>,
        // Slots holding a call.
        occupied: usize,
        ready: Arc<ReadySlots>,
        // Slots to poll in this run: new calls, then the ready list taken in one go.
        to_poll: VecDeque<usize>,
        order: O,
        next_index: u64,
        concurrency: usize,
        cap: usize,
        buffer: VecDeque<Result<Fut::Output, ParMapError>>,
    }
}

impl<St, F, Fut, O> AsyncCore<St, F, Fut, O>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
    O: Order<Result<Fut::Output, ParMapError>>,
{
    pub(crate) fn new(upstream: St, f: F, limits: Limits) -> Self {
        AsyncCore {
            upstream: Some(Box::pin(upstream)),
            upstream_panic: None,
            f,
            slots: Vec::new(),
            free: Vec::new(),
            occupied: 0,
            ready: Arc::new(ReadySlots::default()),
            to_poll: VecDeque::new(),
            order: O::default(),
            next_index: 0,
            concurrency: limits.concurrency.get(),
            cap: limits.buffer.get(),
            buffer: VecDeque::new(),
        }
    }

    /// Calls in flight (running, or finished and waiting for an earlier one).
    fn in_flight(&self) -> usize {
        self.order.in_flight(self.next_index, self.occupied)
    }

    /// Puts a new call in a free slot (or a new one) and queues it for its first poll.
    fn start(&mut self, fut: Fut, index: u64) {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = self.slots.len();
                let wake = Arc::new(SlotWake {
                    slot,
                    queued: AtomicBool::new(false),
                    ready: Arc::clone(&self.ready),
                });
                self.slots.push(Slot {
                    fut: Box::pin(None),
                    index,
                    waker: Waker::from(Arc::clone(&wake)),
                    wake,
                });
                slot
            }
        };
        if let Some(place) = self.slots.get_mut(slot) {
            place.fut.set(Some(fut));
            place.index = index;
            self.occupied = self.occupied.saturating_add(1);
            self.to_poll.push_back(slot);
        }
    }

    /// The next slot to poll: queued in this run, else the ready list taken in one go.
    fn next_ready(&mut self) -> Option<usize> {
        if let Some(slot) = self.to_poll.pop_front() {
            return Some(slot);
        }
        std::mem::swap(&mut *self.ready.list(), &mut self.to_poll);
        self.to_poll.pop_front()
    }

    /// Empties `slot` after its call finished (or panicked): the slot is free before the
    /// call is dropped, so a panic in the call's `drop` loses nothing.
    fn finish(&mut self, slot: usize) {
        if let Some(place) = self.slots.get_mut(slot) {
            if place.fut.is_some() {
                self.free.push(slot);
                self.occupied = self.occupied.saturating_sub(1);
                place.fut.set(None);
            }
        }
    }

    /// Pulls and starts calls while the bound allows, and polls the calls that were
    /// woken, pulling again each time one finishes (so its slot is reused at once).
    /// `stage` tells the caller what panicked, if anything does.
    fn run_unguarded(&mut self, cx: &mut Context<'_>, held: usize, stage: &mut Stage) {
        let limit = self.concurrency.saturating_add(self.cap);
        self.ready.parent.register(cx.waker());
        let mut polls = 0;
        loop {
            loop {
                let in_flight = self.in_flight();
                let holding = in_flight
                    .saturating_add(self.buffer.len())
                    .saturating_add(held);
                if in_flight >= self.concurrency || holding >= limit {
                    break;
                }
                let Some(upstream) = self.upstream.as_mut() else {
                    break;
                };
                *stage = Stage::Upstream;
                match upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        let index = self.next_index;
                        self.next_index = index.saturating_add(1);
                        *stage = Stage::Call(index);
                        let fut = (self.f)(item);
                        *stage = Stage::Idle;
                        self.start(fut, index);
                    }
                    Poll::Ready(None) => self.upstream = None,
                    Poll::Pending => break,
                }
            }
            if polls >= POLLS_PER_RUN {
                cx.waker().wake_by_ref();
                break;
            }
            let Some(slot) = self.next_ready() else {
                break;
            };
            let Some(place) = self.slots.get_mut(slot) else {
                continue;
            };
            // Cleared before the poll: a wake-up during the poll queues the slot again.
            place.wake.queued.store(false, SeqCst);
            let Some(fut) = place.fut.as_mut().as_pin_mut() else {
                // A late wake-up of a call that has finished.
                continue;
            };
            polls = polls.saturating_add(1);
            *stage = Stage::Poll(slot);
            let polled = fut.poll(&mut Context::from_waker(&place.waker));
            *stage = Stage::Idle;
            if let Poll::Ready(out) = polled {
                let index = place.index;
                self.order.deliver(index, Ok(out), &mut self.buffer);
                self.finish(slot);
            }
        }
    }

    /// Turns a panic caught while `stage` into the error item it stands for.
    fn on_panic(&mut self, stage: Stage, payload: &(dyn std::any::Any + Send)) {
        let message = panic_message(payload);
        let index = match stage {
            Stage::Upstream => {
                self.upstream = None;
                self.upstream_panic = Some(ParMapError::UpstreamPanicked { message });
                return;
            }
            Stage::Call(index) => index,
            Stage::Poll(slot) => {
                let Some(index) = self.slots.get(slot).map(|place| place.index) else {
                    return;
                };
                // The call is dropped here, outside the run's `catch_unwind`: a panic in
                // its `drop` is ignored (the slot is already free).
                let _ = catch_unwind(AssertUnwindSafe(|| self.finish(slot)));
                index
            }
            // Nothing in the core panics outside user code.
            Stage::Idle => return,
        };
        self.order.deliver(
            index,
            Err(ParMapError::Panicked { index, message }),
            &mut self.buffer,
        );
    }

    fn cancel_work(&mut self) {
        self.upstream = None;
        self.slots.clear();
        self.free.clear();
        self.occupied = 0;
        self.to_poll.clear();
        self.order.clear();
    }
}

impl<St, F, Fut, O> Core for AsyncCore<St, F, Fut, O>
where
    St: Stream + Send + 'static,
    F: FnMut(St::Item) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    O: Order<Result<Fut::Output, ParMapError>>,
{
    type Item = Result<Fut::Output, ParMapError>;

    /// Pulls while fewer than `concurrency` calls are in flight and fewer than
    /// `concurrency + cap` items are held (in flight, finished, and `held` with the
    /// consumer); polls the calls in flight whatever the buffer holds (the bound is kept
    /// on the pulling side, so work in flight always moves). One `catch_unwind` covers
    /// the whole run: a panic in upstream, in `f` or in a call's poll is attributed by
    /// `stage`, becomes its error item, and the run goes on.
    fn run(&mut self, cx: &mut Context<'_>, held: usize) {
        loop {
            let mut stage = Stage::Idle;
            let caught = catch_unwind(AssertUnwindSafe(|| {
                self.run_unguarded(cx, held, &mut stage);
            }));
            match caught {
                Ok(()) => break,
                Err(payload) => self.on_panic(stage, &*payload),
            }
        }
        if self.upstream_panic.is_some() && self.in_flight() == 0 {
            if let Some(e) = self.upstream_panic.take() {
                self.buffer.push_back(Err(e));
            }
        }
    }

    fn finished(&mut self) -> &mut VecDeque<Self::Item> {
        &mut self.buffer
    }

    fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn is_full(&self, held: usize) -> bool {
        let holding = self
            .in_flight()
            .saturating_add(self.buffer.len())
            .saturating_add(held);
        holding >= self.concurrency.saturating_add(self.cap)
    }

    fn is_drained(&self) -> bool {
        self.upstream.is_none() && self.in_flight() == 0 && self.upstream_panic.is_none()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let here = self.buffer.len().saturating_add(self.in_flight());
        let here = here.saturating_add(usize::from(self.upstream_panic.is_some()));
        match &self.upstream {
            None => (here, Some(here)),
            Some(upstream) => {
                let (lo, hi) = upstream.size_hint();
                (
                    lo.saturating_add(here),
                    hi.and_then(|h| h.checked_add(here)),
                )
            }
        }
    }

    fn cancel(&mut self) {
        self.cancel_work();
        self.upstream_panic = None;
    }

    fn error_item(e: ParMapError) -> Self::Item {
        Err(e)
    }
}

/// Defines the stream of an async parallel map whose results reach the output through
/// `$queue`: `InOrder` for `par_map`, `AnyOrder` for `par_map_unordered`. Both
/// operators are the same machine but for the queue, so they share one definition.
macro_rules! par_map_stream {
    ($name:ident, $queue:ident, $method:literal, $core_doc:literal) => {
        #[doc = $core_doc]
        type Core<St, F, Fut> =
            AsyncCore<St, F, Fut, $queue<Result<<Fut as Future>::Output, ParMapError>>>;

        pin_project_lite::pin_project! {
            #[doc = concat!("Stream for the [`", $method, "`](super::DataflowExt::", $method, ") method.")]
            #[must_use = "streams do nothing unless polled"]
            pub struct $name<St, Fut: Future, F> {
                state: State<St, F, Core<St, F, Fut>, Result<Fut::Output, ParMapError>>,
                limits: Limits,
            }
        }

        impl<St, Fut, F> $name<St, Fut, F>
        where
            St: Stream,
            F: FnMut(St::Item) -> Fut,
            Fut: Future,
        {
            pub(crate) fn new(upstream: St, limits: Limits, f: F) -> Self {
                $name {
                    state: State::new(upstream, f),
                    limits,
                }
            }

            /// Sets the output buffer `b` (default: the concurrency `n`), before the first poll:
            /// items are pulled only while fewer than `n + b` are held (in flight or finished but
            /// not yet yielded), so the consumer may fall `b` results behind before the work
            #[doc = concat!("pauses. See [`", $method, "`](super::DataflowExt::", $method, ").")]
            ///
            /// # Errors
            ///
            /// [`ConfigError::Zero`] for a zero size; [`ConfigError::Invalid`] once the stream has
            /// been polled (its work already runs with the old size).
            pub fn output_buffer(mut self, size: impl Into<Count>) -> Result<Self, ConfigError> {
                self.limits.buffer = self.state.check_setting("output buffer", size.into())?;
                Ok(self)
            }

            /// The most calls of `f` in flight at once.
            pub fn concurrency(&self) -> usize {
                self.limits.concurrency.get()
            }

            /// The output buffer `b`: at most `n + b` items are held at once.
            pub fn output_buffer_size(&self) -> usize {
                self.limits.buffer.get()
            }
        }

        impl<St, Fut, F> Stream for $name<St, Fut, F>
        where
            St: Stream + Send + 'static,
            F: FnMut(St::Item) -> Fut + Send + 'static,
            Fut: Future + Send + 'static,
            Fut::Output: Send + 'static,
        {
            type Item = Result<Fut::Output, ParMapError>;

            fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                let this = self.project();
                let limits = *this.limits;
                this.state
                    .poll_next(cx, |upstream, f, _, _| Core::new(upstream, f, limits))
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                self.state.size_hint()
            }
        }

        impl<St, Fut, F> FusedStream for $name<St, Fut, F>
        where
            St: Stream + Send + 'static,
            F: FnMut(St::Item) -> Fut + Send + 'static,
            Fut: Future + Send + 'static,
            Fut::Output: Send + 'static,
        {
            fn is_terminated(&self) -> bool {
                self.state.is_done()
            }
        }

        impl<St: fmt::Debug, Fut: Future, F> fmt::Debug for $name<St, Fut, F> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("state", &self.state)
                    .field("limits", &self.limits)
                    .finish()
            }
        }
    };
}

pub(crate) use par_map_stream;
