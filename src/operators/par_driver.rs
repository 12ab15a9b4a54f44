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
//!
//! Every waker handed to upstream and to the calls in flight is one *work waker* that
//! routes a wake-up to the consumer while it waits for an item, and to the driver while
//! the consumer is busy. Whoever fails to take the lock leaves a flag that the holder
//! checks after unlocking, so no wake-up is lost. Finished results wait in the core's
//! output buffer; when it is full nothing is harvested or pulled, so memory stays bounded.

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

/// The message of a caught panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-string panic payload>")
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
    /// At most this many finished items waiting for the consumer.
    pub(crate) buffer: NonZeroUsize,
}

impl Limits {
    /// Concurrency `n` (checked, named `setting` in the error) and a buffer of `buffer`.
    pub(crate) fn new(n: Count, setting: &'static str) -> Result<Self, ConfigError> {
        let concurrency = n.validate(setting)?;
        Ok(Limits {
            concurrency,
            buffer: concurrency,
        })
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
// The core, the parties that run it, and the consumer that merges the shards.
// ---------------------------------------------------------------------------------------

/// One shard of an operator: calls in flight and finished items. The async cores share
/// upstream and `f` through a source; the blocking core owns its upstream.
pub(crate) trait Core: Send + 'static {
    /// What the consumer receives.
    type Item;

    /// Pulls, starts and harvests work until nothing moves or a budget is spent (then it
    /// wakes `cx` to be run again). `cx` carries the shard's work waker. `held` finished
    /// items are with the consumer already: they count against the bound.
    fn run(&mut self, cx: &mut Context<'_>, held: usize);

    /// Moves every finished item, in output order, to the back of `out`; returns how
    /// many.
    fn take_all(&mut self, out: &mut VecDeque<Self::Item>) -> usize;

    /// Finished items waiting in the core.
    fn buffered(&self) -> usize;

    /// As many items are held (in flight, finished, and `held` with the consumer) as the
    /// bound allows: nothing more is pulled until the consumer takes an item.
    fn is_full(&self, held: usize) -> bool;

    /// No work left: nothing more will be pulled and nothing is in flight (finished
    /// items may still wait).
    fn is_drained(&self) -> bool;

    /// Items this shard will still yield (finished, in flight, and upstream if it owns
    /// one alone).
    fn size_hint(&self) -> (usize, Option<usize>);

    /// Drops every call in flight and the shard's hold on upstream and `f`.
    fn cancel(&mut self);

    /// The item that reports `e`.
    fn error_item(e: ParMapError) -> Self::Item;
}

/// How many times one party runs a core in a row while wake-ups keep arriving.
const RERUNS: usize = 4;

/// Who is waiting for what, for one shard; shared by its work waker, the consumer and
/// its driver.
#[derive(Debug, Default)]
pub(crate) struct Signals {
    /// The consumer runs this shard itself when it polls (the home shard).
    home: AtomicBool,
    /// The consumer returned `Pending` waiting for this shard: output wakes it, and (for
    /// the home shard) so do work wake-ups.
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
    /// The last run stopped pulling because the bound was reached.
    full: AtomicBool,
    /// Items the consumer has yielded (written by the consumer only, so a plain store).
    consumed: AtomicU64,
    consumer: AtomicWaker,
    driver: AtomicWaker,
}

impl Signals {
    /// The consumer waits on this shard: from now on its output wakes `waker`.
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
        // During a run (a budget yield of `FuturesUnordered`, a call finishing on another
        // thread) the runner runs again instead: no task is woken, nothing crosses
        // threads. Otherwise exactly one of us and the runner claims the flag.
        self.rerun.store(true, SeqCst);
        if self.running.load(SeqCst) || !self.rerun.swap(false, SeqCst) {
            return;
        }
        let to_consumer = (self.home.load(SeqCst) && self.consumer_waiting.load(SeqCst))
            || self.driver_gone.load(SeqCst);
        if to_consumer {
            self.routed_to_consumer.store(true, SeqCst);
            self.consumer.wake();
        } else {
            self.driver.wake();
        }
    }
}

/// The waker upstream sees: wakes every shard, since any of them may have room to pull.
#[derive(Debug)]
pub(crate) struct FanOut(Vec<Arc<Signals>>);

impl Wake for FanOut {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for signals in &self.0 {
            signals.wake_by_ref();
        }
    }
}

/// What the consumer needs to know about the shared upstream: the order in which shards
/// pulled (to merge them in input order), whether it has ended, and its panic.
#[derive(Debug, Default)]
pub(crate) struct SourceMeta {
    state: Mutex<MetaState>,
    /// Upstream has ended (or panicked): nothing more will be pulled.
    done: AtomicBool,
    /// The consumer, waiting for a shard to pull.
    log_waiter: AtomicWaker,
}

#[derive(Debug, Default)]
struct MetaState {
    /// Which shard pulled each run of consecutive items, oldest first (only when the
    /// output must keep input order across shards).
    log: VecDeque<(usize, usize)>,
    record_log: bool,
    /// Upstream's panic, reported after every item pulled before it.
    panic: Option<ParMapError>,
    /// Upstream's size hint after the last pull.
    hint: (usize, Option<usize>),
}

impl SourceMeta {
    pub(crate) fn new(record_log: bool, hint: (usize, Option<usize>)) -> Arc<Self> {
        Arc::new(SourceMeta {
            state: Mutex::new(MetaState {
                record_log,
                hint,
                ..MetaState::default()
            }),
            ..SourceMeta::default()
        })
    }

    fn lock(&self) -> MutexGuard<'_, MetaState> {
        // Nothing panics while this lock is held.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `shard` pulled `count` items and upstream's new size hint.
    pub(crate) fn pulled(&self, shard: usize, count: usize, hint: (usize, Option<usize>)) {
        let mut st = self.lock();
        st.hint = hint;
        if count > 0 && st.record_log {
            match st.log.back_mut() {
                Some((s, n)) if *s == shard => *n = n.saturating_add(count),
                _ => st.log.push_back((shard, count)),
            }
            drop(st);
            self.log_waiter.wake();
        }
    }

    /// Upstream has ended, or panicked with `panic`.
    pub(crate) fn ended(&self, panic: Option<ParMapError>) {
        let mut st = self.lock();
        st.hint = (0, Some(0));
        if panic.is_some() {
            st.panic = panic;
        }
        drop(st);
        self.done.store(true, SeqCst);
        self.log_waiter.wake();
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done.load(SeqCst)
    }
}

/// A core, with the count of items handed to the consumer.
struct Inner<C> {
    core: C,
    /// Items moved to the consumer's local queue (by the consumer, under the lock).
    taken: u64,
}

/// One shard's core and the signals around it.
pub(crate) struct Shared<C> {
    inner: Mutex<Inner<C>>,
    signals: Arc<Signals>,
    /// The work waker (routes through `signals`; holds no reference to the core).
    work: Waker,
}

impl<C> Shared<C> {
    fn new(core: C, signals: Arc<Signals>) -> Arc<Self> {
        let work = Waker::from(Arc::clone(&signals));
        Arc::new(Shared {
            inner: Mutex::new(Inner { core, taken: 0 }),
            signals,
            work,
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

/// The consumer's side of one shard's output: items taken from the core in one go,
/// yielded without touching the lock.
pub(crate) struct Local<T> {
    items: VecDeque<T>,
    consumed: u64,
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

    /// Consumer side: the next item of this shard, `None` once it is drained. `inline`:
    /// the consumer may run the core itself (the home shard, or a shard whose driver is
    /// gone); otherwise only its driver runs it and the consumer waits for output.
    fn poll_item(&self, local: &mut Local<C::Item>, cx: &mut Context<'_>) -> Poll<Option<C::Item>> {
        let sig = &*self.signals;
        let inline = sig.home.load(SeqCst) || sig.driver_gone.load(SeqCst);
        // The hot path: an item taken earlier, and nothing for us to do in the core.
        if !local.items.is_empty()
            && !sig.routed_to_consumer.load(SeqCst)
            && !sig.full.load(SeqCst)
            && !sig.driver_gone.load(SeqCst)
        {
            return Poll::Ready(self.pop_local(local));
        }
        let mut inner = match self.try_lock() {
            Some(inner) => inner,
            None if !local.items.is_empty() => {
                let item = self.pop_local(local);
                if !inline && sig.full.load(SeqCst) {
                    // The driver is running; it rereads the room on its next run.
                    sig.driver.wake();
                }
                return Poll::Ready(item);
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
        let full = sig.full.load(SeqCst);
        let mut more = false;
        if inline && (routed || item.is_none() || full || sig.driver_gone.load(SeqCst)) {
            more = self.run(&mut inner, local.consumed);
        } else if !inline && full {
            // Room appeared under the bound: the driver pulls again.
            sig.driver_missed.store(true, SeqCst);
        }
        if item.is_none() {
            self.take_all(&mut inner, local);
            item = self.pop_local(local);
            if inline && item.is_some() && sig.full.load(SeqCst) {
                // That item made room under the bound: pull again.
                more |= self.run(&mut inner, local.consumed);
            }
        }
        let out = match item {
            Some(item) => {
                if more {
                    // We may be busy for a while: the driver takes over the pending work.
                    sig.driver_missed.store(true, SeqCst);
                }
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

    /// The consumer now waits on another shard: work wake-ups of this one go to its
    /// driver again, and one the consumer may have absorbed is handed over.
    fn release_consumer(&self) {
        let sig = &*self.signals;
        if sig.consumer_waiting.load(SeqCst) {
            sig.consumer_waiting.store(false, SeqCst);
        }
        if sig.routed_to_consumer.load(SeqCst) && sig.routed_to_consumer.swap(false, SeqCst) {
            sig.driver.wake();
        }
    }

    /// Moves the core's finished items to the consumer's local queue.
    fn take_all(&self, inner: &mut Inner<C>, local: &mut Local<C::Item>) {
        let taken = inner.core.take_all(&mut local.items);
        inner.taken = inner.taken.saturating_add(taken as u64);
    }

    /// Yields a locally held item and publishes the count.
    fn pop_local(&self, local: &mut Local<C::Item>) -> Option<C::Item> {
        let item = local.items.pop_front()?;
        local.consumed = local.consumed.saturating_add(1);
        // Release, not SeqCst: a plain store on the hot path; runners read it with
        // Acquire under the lock.
        self.signals.consumed.store(local.consumed, Release);
        Some(item)
    }

    /// Consumer side, on drop: cancels the work now if the driver is not running it (if
    /// it is, aborting the driver drops the work right after).
    fn cancel(&self) {
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
    /// The spawned task that runs one shard while the consumer is busy (and, for the
    /// other shards, all the time). Ends when the shard is drained.
    struct Driver<C: Core> {
        shared: Arc<Shared<C>>,
    }

    impl<C: Core> PinnedDrop for Driver<C> {
        fn drop(this: Pin<&mut Self>) {
            // Aborted, dropped by a shutting-down runtime, or done: from now on the
            // consumer runs the shard itself, like `buffered`.
            let sig = &this.shared.signals;
            sig.driver_gone.store(true, SeqCst);
            sig.consumer.wake();
        }
    }
}

impl<C: Core> Future for Driver<C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let shared = &*self.shared;
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

/// The consumer's handle on one running shard. Dropping it cancels the shard's work: its
/// driver is aborted and its calls in flight are dropped at once (or, if the driver is
/// running them at that instant, as soon as its poll ends).
struct ShardHandle<C, T> {
    shared: Arc<Shared<C>>,
    local: Local<T>,
    driver: AbortOnDrop<()>,
    /// `Shared::cancel`, captured where `C: Core` is known, so the public stream types
    /// need no `Core` bounds.
    cancel: fn(&Shared<C>),
    drained: bool,
}

impl<C, T> Drop for ShardHandle<C, T> {
    fn drop(&mut self) {
        self.driver.0.abort();
        (self.cancel)(&self.shared);
    }
}

/// How the consumer merges the shards' output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Merge {
    /// One shard: its output order is the output order.
    Single,
    /// Input order: follow the source's pull log.
    Ordered,
    /// Whatever is ready, round robin.
    Unordered,
}

/// A running operator: its shards (the first is the consumer's home shard) and what the
/// consumer knows about upstream.
pub(crate) struct Running<C, T> {
    shards: Vec<ShardHandle<C, T>>,
    meta: Arc<SourceMeta>,
    merge: Merge,
    /// Pull-log entries taken from `meta` and not yet consumed: (shard, items left).
    log: VecDeque<(usize, usize)>,
    next: usize,
}

impl<C: Core<Item = T>, T> Running<C, T> {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.merge {
            Merge::Single => match self.shards.first_mut() {
                Some(shard) => {
                    match std::task::ready!(shard.shared.poll_item(&mut shard.local, cx)) {
                        Some(item) => Poll::Ready(Some(item)),
                        None => Poll::Ready(self.finish()),
                    }
                }
                None => Poll::Ready(self.finish()),
            },
            Merge::Unordered => {
                let count = self.shards.len();
                let mut all_drained = true;
                for i in 0..count {
                    let s = (self.next + i) % count;
                    let Some(shard) = self.shards.get_mut(s) else {
                        continue;
                    };
                    if shard.drained {
                        continue;
                    }
                    match shard.shared.poll_item(&mut shard.local, cx) {
                        Poll::Ready(Some(item)) => {
                            self.next = (s + 1) % count;
                            return Poll::Ready(Some(item));
                        }
                        Poll::Ready(None) => shard.drained = true,
                        Poll::Pending => all_drained = false,
                    }
                }
                if all_drained {
                    Poll::Ready(self.finish())
                } else {
                    Poll::Pending
                }
            }
            Merge::Ordered => loop {
                if let Some(&mut (s, ref mut left)) = self.log.front_mut() {
                    for (i, other) in self.shards.iter().enumerate() {
                        if i != s {
                            other.shared.release_consumer();
                        }
                    }
                    let Some(shard) = self.shards.get_mut(s) else {
                        return Poll::Ready(self.finish());
                    };
                    return match std::task::ready!(shard.shared.poll_item(&mut shard.local, cx)) {
                        Some(item) => {
                            *left = left.saturating_sub(1);
                            if *left == 0 {
                                self.log.pop_front();
                            }
                            Poll::Ready(Some(item))
                        }
                        // A shard cannot end before yielding what it pulled.
                        None => Poll::Ready(self.finish()),
                    };
                }
                // Nothing pulled that we have not yielded: take new log entries, or wait
                // for a shard to pull (every shard's driver pulls while it has room).
                let done = self.meta.is_done();
                self.meta.log_waiter.register(cx.waker());
                {
                    let mut st = self.meta.lock();
                    self.log.extend(st.log.drain(..));
                }
                if self.log.is_empty() {
                    if done {
                        return Poll::Ready(self.finish());
                    }
                    for shard in &self.shards {
                        shard.shared.release_consumer();
                    }
                    return Poll::Pending;
                }
            },
        }
    }

    /// After the last item: upstream's panic if there was one, then the end.
    fn finish(&mut self) -> Option<T> {
        self.meta.lock().panic.take().map(C::error_item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let mut lo = 0usize;
        let mut hi = Some(0usize);
        // Consistent only if no shard pulls meanwhile, and pulls need a shard's lock.
        let mut guards = Vec::with_capacity(self.shards.len());
        for shard in &self.shards {
            let here = shard.local.items.len();
            lo = lo.saturating_add(here);
            hi = hi.and_then(|h| h.checked_add(here));
            match shard.shared.try_lock() {
                Some(inner) => {
                    let (l, h) = inner.core.size_hint();
                    lo = lo.saturating_add(l);
                    hi = hi.and_then(|x| h.and_then(|h| x.checked_add(h)));
                    guards.push(inner);
                }
                None => hi = None,
            }
        }
        let st = self.meta.lock();
        let (l, h) = st.hint;
        let panic = usize::from(st.panic.is_some());
        if guards.len() == self.shards.len() {
            lo = lo.saturating_add(l).saturating_add(panic);
        }
        hi = hi.and_then(|x| h.and_then(|h| x.checked_add(h)?.checked_add(panic)));
        (lo, hi)
    }
}

/// The consumer side of every parallel-map operator. Before the first poll it holds
/// upstream and `f`; the first poll builds the shards and spawns their drivers, so
/// nothing is pulled before the stream is polled, and the runtime is looked up where it
/// is polled. `T` is the item type (the cores' `Item`).
pub(crate) enum State<St, F, C, T> {
    Idle {
        upstream: St,
        f: F,
    },
    Running(Running<C, T>),
    /// The drivers could not be spawned: yield `NoRuntime` once, then end.
    NoRuntime,
    Done,
}

/// What an operator's first poll builds: its shards (the same count as wakers given),
/// and the shared view of upstream.
pub(crate) struct Built<C> {
    pub(crate) cores: Vec<C>,
    pub(crate) meta: Arc<SourceMeta>,
}

impl<St, F, C, T> State<St, F, C, T> {
    pub(crate) fn new(upstream: St, f: F) -> Self {
        State::Idle { upstream, f }
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self, State::Done)
    }

    /// Checks a new setting that only makes sense before the first poll.
    pub(crate) fn check_setting(
        &self,
        setting: &'static str,
        value: Count,
    ) -> Result<NonZeroUsize, ConfigError> {
        let value = value.validate(setting)?;
        if matches!(self, State::Idle { .. }) {
            Ok(value)
        } else {
            Err(ConfigError::Invalid {
                setting,
                reason: String::from("the stream has already been polled"),
            })
        }
    }
}

/// Builds an operator's cores from upstream, `f`, the runtime, the waker upstream must
/// see (it wakes every shard) and the shard count.
pub(crate) trait MakeCores<St, F, C>:
    FnOnce(St, F, &Handle, Waker, usize) -> Built<C>
{
}

impl<St, F, C, M> MakeCores<St, F, C> for M where M: FnOnce(St, F, &Handle, Waker, usize) -> Built<C>
{}

/// How the first poll sets an operator up.
pub(crate) struct Plan<M> {
    /// How many shards, given the runtime and the concurrency.
    pub(crate) shards: fn(&Handle, usize) -> usize,
    pub(crate) concurrency: usize,
    /// Whether the output keeps input order across shards.
    pub(crate) ordered: bool,
    /// Builds the cores from upstream, `f`, the runtime, and the waker upstream must see
    /// (it wakes every shard).
    pub(crate) make: M,
}

impl<St, F, C: Core<Item = T>, T> State<St, F, C, T> {
    /// The next item: on the first poll, builds the shards and spawns their drivers on
    /// the current runtime.
    pub(crate) fn poll_next<M>(&mut self, cx: &mut Context<'_>, plan: Plan<M>) -> Poll<Option<T>>
    where
        M: MakeCores<St, F, C>,
    {
        if matches!(self, State::Idle { .. }) {
            let State::Idle { upstream, f } = std::mem::replace(self, State::Done) else {
                return Poll::Ready(None);
            };
            *self = match Handle::try_current() {
                Ok(handle) => State::Running(start(upstream, f, &handle, plan)),
                Err(_) => State::NoRuntime,
            };
        }
        match self {
            State::Running(running) => {
                let polled = running.poll_next(cx);
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
            State::Running(running) => running.size_hint(),
            State::NoRuntime => (1, Some(1)),
            State::Done => (0, Some(0)),
        }
    }
}

/// Builds the shards and spawns one driver per shard.
fn start<St, F, C, T, M>(upstream: St, f: F, handle: &Handle, plan: Plan<M>) -> Running<C, T>
where
    C: Core<Item = T>,
    M: MakeCores<St, F, C>,
{
    let count = (plan.shards)(handle, plan.concurrency).max(1);
    let signals: Vec<Arc<Signals>> = (0..count).map(|_| Arc::new(Signals::default())).collect();
    if let Some(home) = signals.first() {
        home.home.store(true, SeqCst);
    }
    let fan_out = Waker::from(Arc::new(FanOut(signals.clone())));
    let built = (plan.make)(upstream, f, handle, fan_out, count);
    let merge = match (built.cores.len(), plan.ordered) {
        (0 | 1, _) => Merge::Single,
        (_, true) => Merge::Ordered,
        (_, false) => Merge::Unordered,
    };
    let shards = built
        .cores
        .into_iter()
        .zip(signals)
        .map(|(core, signals)| {
            let shared = Shared::new(core, signals);
            let driver = handle.spawn(Driver {
                shared: Arc::clone(&shared),
            });
            ShardHandle {
                shared,
                local: Local {
                    items: VecDeque::new(),
                    consumed: 0,
                },
                driver: AbortOnDrop(driver),
                cancel: Shared::cancel,
                drained: false,
            }
        })
        .collect();
    Running {
        shards,
        meta: built.meta,
        merge,
        log: VecDeque::new(),
        next: 0,
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
                .field("shards", &running.shards.len())
                .field("merge", &running.merge)
                .finish_non_exhaustive(),
            State::NoRuntime => f.write_str("NoRuntime"),
            State::Done => f.write_str("Done"),
        }
    }
}
