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

use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;
use futures::{Stream, StreamExt};
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
// The core and the two parties that run it.
// ---------------------------------------------------------------------------------------

/// Upstream, `f`, the calls in flight and the output buffer of one operator.
pub(crate) trait Core: Send + 'static {
    /// What the consumer receives.
    type Item;

    /// Pulls, starts and harvests work until nothing moves or a budget is spent (then it
    /// wakes `cx` to be run again). `cx` carries the work waker.
    fn run(&mut self, cx: &mut Context<'_>);

    /// The next finished item, in output order.
    fn pop(&mut self) -> Option<Self::Item>;

    /// Finished items waiting for the consumer.
    fn buffered(&self) -> usize;

    /// The output buffer is full: finished work waits until the consumer takes an item.
    fn is_full(&self) -> bool;

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
        if self.consumer_waiting.load(SeqCst) || self.driver_gone.load(SeqCst) {
            self.routed_to_consumer.store(true, SeqCst);
            self.consumer.wake();
        } else {
            self.driver.wake();
        }
    }
}

/// The core and the signals around it.
pub(crate) struct Shared<C> {
    core: Mutex<C>,
    signals: Arc<Signals>,
    /// The work waker (routes through `signals`; holds no reference to the core).
    work: Waker,
}

impl<C> Shared<C> {
    fn new(core: C) -> Arc<Self> {
        let signals = Arc::new(Signals::default());
        let work = Waker::from(Arc::clone(&signals));
        Arc::new(Shared {
            core: Mutex::new(core),
            signals,
            work,
        })
    }

    /// The core, unless the other party holds it. Never blocks. A poisoned lock (which
    /// would need a panic inside the core, where user code is wrapped in `catch_unwind`)
    /// is used as is.
    fn try_lock(&self) -> Option<MutexGuard<'_, C>> {
        match self.core.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

impl<C: Core> Shared<C> {
    fn run(&self, core: &mut C) {
        let mut cx = Context::from_waker(&self.work);
        core.run(&mut cx);
    }

    /// Consumer side: the next item, `None` at the end.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<C::Item>> {
        let sig = &*self.signals;
        let mut core = match self.try_lock() {
            Some(core) => core,
            None => {
                // The driver runs the core; it wakes us after unlocking if it produced.
                sig.wait_for_work(cx.waker());
                match self.try_lock() {
                    Some(core) => core,
                    None => return Poll::Pending,
                }
            }
        };
        // While we run the core, work wake-ups go to the driver (a wake-up that arrives
        // after our last poll of a call must not be lost if we then return an item).
        // Loads before stores and swaps: the hot path touches no shared cache line.
        if sig.consumer_waiting.load(SeqCst) {
            sig.consumer_waiting.store(false, SeqCst);
        }
        let routed =
            sig.routed_to_consumer.load(SeqCst) && sig.routed_to_consumer.swap(false, SeqCst);
        if routed || core.buffered() == 0 || sig.driver_gone.load(SeqCst) {
            self.run(&mut core);
        }
        let was_full = core.is_full();
        let out = match core.pop() {
            Some(item) => {
                if was_full {
                    // Work that waited for room (finished calls, and upstream) goes on now.
                    self.run(&mut core);
                }
                Poll::Ready(Some(item))
            }
            None if core.is_drained() => Poll::Ready(None),
            None => {
                sig.wait_for_work(cx.waker());
                Poll::Pending
            }
        };
        drop(core);
        if sig.driver_missed.load(SeqCst) && sig.driver_missed.swap(false, SeqCst) {
            sig.driver.wake();
        }
        out
    }

    /// Consumer side: items still to come, when the core is free to look at (otherwise
    /// the honest `(0, None)`).
    pub(crate) fn size_hint(&self) -> (usize, Option<usize>) {
        self.try_lock().map_or((0, None), |core| core.size_hint())
    }

    /// Consumer side, on drop: cancels the work now if the driver is not running it (if
    /// it is, aborting the driver drops the work right after).
    fn cancel(&self) {
        if let Some(mut core) = self.try_lock() {
            core.cancel();
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
        let shared = &*self.shared;
        let sig = &*shared.signals;
        sig.driver.register(cx.waker());
        let mut core = match shared.try_lock() {
            Some(core) => core,
            None => {
                // The consumer holds the core; it checks this flag after unlocking.
                sig.driver_missed.store(true, SeqCst);
                match shared.try_lock() {
                    Some(core) => core,
                    None => return Poll::Pending,
                }
            }
        };
        shared.run(&mut core);
        let drained = core.is_drained();
        let has_output = drained || core.buffered() > 0;
        drop(core);
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
pub(crate) struct Running<C> {
    shared: Arc<Shared<C>>,
    driver: AbortOnDrop<()>,
    /// `Shared::cancel`, captured where `C: Core` is known, so the public stream types
    /// need no `Core` bounds.
    cancel: fn(&Shared<C>),
}

impl<C> Drop for Running<C> {
    fn drop(&mut self) {
        self.driver.0.abort();
        (self.cancel)(&self.shared);
    }
}

/// The consumer side of every parallel-map operator. Before the first poll it holds
/// upstream and `f`; the first poll builds the core and spawns the driver, so nothing is
/// pulled before the stream is polled, and the runtime is looked up where it is polled.
pub(crate) enum State<St, F, C> {
    Idle {
        upstream: St,
        f: F,
    },
    Running(Running<C>),
    /// The driver could not be spawned: yield `NoRuntime` once, then end.
    NoRuntime,
    Done,
}

impl<St, F, C> State<St, F, C> {
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

impl<St, F, C: Core> State<St, F, C> {
    /// The next item: on the first poll, builds the core with `make` and spawns the
    /// driver on the current runtime.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        make: impl FnOnce(St, F, &Handle) -> C,
    ) -> Poll<Option<C::Item>> {
        if matches!(self, State::Idle { .. }) {
            let State::Idle { upstream, f } = std::mem::replace(self, State::Done) else {
                return Poll::Ready(None);
            };
            *self = match Handle::try_current() {
                Ok(handle) => {
                    let shared = Shared::new(make(upstream, f, &handle));
                    let driver = handle.spawn(Driver {
                        shared: Arc::clone(&shared),
                    });
                    State::Running(Running {
                        shared,
                        driver: AbortOnDrop(driver),
                        cancel: Shared::cancel,
                    })
                }
                Err(_) => State::NoRuntime,
            };
        }
        match self {
            State::Running(running) => {
                let polled = running.shared.poll_next(cx);
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
            State::Running(running) => running.shared.size_hint(),
            State::NoRuntime => (1, Some(1)),
            State::Done => (0, Some(0)),
        }
    }
}

impl<St: fmt::Debug, F, C> fmt::Debug for State<St, F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Idle { upstream, .. } => f
                .debug_struct("Idle")
                .field("upstream", upstream)
                .finish_non_exhaustive(),
            State::Running(running) => f.debug_tuple("Running").field(&running.shared).finish(),
            State::NoRuntime => f.write_str("NoRuntime"),
            State::Done => f.write_str("Done"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The async core (par_map, par_map_unordered).
// ---------------------------------------------------------------------------------------

/// How many refill/harvest rounds one run may do before it yields to the runtime, so an
/// always-ready upstream cannot monopolise a worker thread.
pub(crate) const ROUNDS_PER_RUN: usize = 16;

/// One call of `f` on one item, with a caught panic turned into an error item.
pub(crate) type Call<Fut> = futures::future::Either<
    Tagged<futures::future::CatchUnwind<AssertUnwindSafe<Fut>>>,
    futures::future::Ready<Result<<Fut as Future>::Output, ParMapError>>,
>;

pin_project_lite::pin_project! {
    /// A call tagged with its input index, for the panic report.
    pub(crate) struct Tagged<F> {
        #[pin]
        fut: F,
        index: u64,
    }
}

impl<F, T> Future for Tagged<F>
where
    F: Future<Output = std::thread::Result<T>>,
{
    type Output = Result<T, ParMapError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.fut.poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(v)) => Poll::Ready(Ok(v)),
            Poll::Ready(Err(payload)) => Poll::Ready(Err(ParMapError::Panicked {
                index: *this.index,
                message: panic_message(&*payload),
            })),
        }
    }
}

/// Calls `f(item)`, catching a panic in the call itself as well as in its future.
fn call<I, F, Fut>(f: &mut F, index: u64, item: I) -> Call<Fut>
where
    F: FnMut(I) -> Fut,
    Fut: Future,
{
    use futures::FutureExt;
    match catch_unwind(AssertUnwindSafe(|| f(item))) {
        Ok(fut) => futures::future::Either::Left(Tagged {
            fut: AssertUnwindSafe(fut).catch_unwind(),
            index,
        }),
        Err(payload) => {
            futures::future::Either::Right(futures::future::ready(Err(ParMapError::Panicked {
                index,
                message: panic_message(&*payload),
            })))
        }
    }
}

/// The set of calls in flight: `FuturesOrdered` for `par_map`, `FuturesUnordered` for
/// `par_map_unordered`.
pub(crate) trait InFlight<Fut: Future>:
    Stream<Item = Fut::Output> + Unpin + Default
{
    fn push(&mut self, fut: Fut);
    fn len(&self) -> usize;
}

impl<Fut: Future> InFlight<Fut> for futures::stream::FuturesOrdered<Fut> {
    fn push(&mut self, fut: Fut) {
        self.push_back(fut);
    }
    fn len(&self) -> usize {
        futures::stream::FuturesOrdered::len(self)
    }
}

impl<Fut: Future> InFlight<Fut> for futures::stream::FuturesUnordered<Fut> {
    fn push(&mut self, fut: Fut) {
        futures::stream::FuturesUnordered::push(self, fut);
    }
    fn len(&self) -> usize {
        futures::stream::FuturesUnordered::len(self)
    }
}

pin_project_lite::pin_project! {
    /// The core of `par_map` (`Q` = `FuturesOrdered`) and `par_map_unordered`
    /// (`Q` = `FuturesUnordered`). Nothing is structurally pinned (upstream is boxed).
    pub(crate) struct AsyncCore<St, F, Fut: Future, Q> {
        // `None` once it has ended, panicked or been cancelled.
        upstream: Option<Pin<Box<St>>>,
        // Reported after every call pulled before the panic.
        upstream_panic: Option<ParMapError>,
        f: F,
        in_flight: Q,
        next_index: u64,
        concurrency: usize,
        cap: usize,
        buffer: std::collections::VecDeque<Result<Fut::Output, ParMapError>>,
    }
}

impl<St, F, Fut, Q> AsyncCore<St, F, Fut, Q>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
    Q: InFlight<Call<Fut>>,
{
    pub(crate) fn new(upstream: St, f: F, limits: Limits) -> Self {
        AsyncCore {
            upstream: Some(Box::pin(upstream)),
            upstream_panic: None,
            f,
            in_flight: Q::default(),
            next_index: 0,
            concurrency: limits.concurrency.get(),
            cap: limits.buffer.get(),
            buffer: std::collections::VecDeque::new(),
        }
    }

    /// Pulls from upstream while fewer than `concurrency` calls are in flight.
    fn refill(&mut self, cx: &mut Context<'_>) -> bool {
        let mut pulled = false;
        while self.in_flight.len() < self.concurrency {
            let Some(upstream) = self.upstream.as_mut() else {
                break;
            };
            match poll_upstream(upstream.as_mut(), cx) {
                Ok(Poll::Ready(Some(item))) => {
                    let index = self.next_index;
                    self.next_index = self.next_index.saturating_add(1);
                    let c = call(&mut self.f, index, item);
                    self.in_flight.push(c);
                    pulled = true;
                }
                Ok(Poll::Ready(None)) => self.upstream = None,
                Ok(Poll::Pending) => break,
                Err(e) => {
                    self.upstream = None;
                    self.upstream_panic = Some(e);
                }
            }
        }
        pulled
    }

    /// Moves finished calls to the buffer while it has room.
    fn harvest(&mut self, cx: &mut Context<'_>) -> bool {
        let mut harvested = false;
        while self.buffer.len() < self.cap && self.in_flight.len() > 0 {
            match self.in_flight.poll_next_unpin(cx) {
                Poll::Ready(Some(out)) => {
                    self.buffer.push_back(out);
                    harvested = true;
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        if self.in_flight.len() == 0 && self.buffer.len() < self.cap {
            if let Some(e) = self.upstream_panic.take() {
                self.buffer.push_back(Err(e));
                harvested = true;
            }
        }
        harvested
    }
}

impl<St, F, Fut, Q> Core for AsyncCore<St, F, Fut, Q>
where
    St: Stream + Send + 'static,
    F: FnMut(St::Item) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    Q: InFlight<Call<Fut>> + Send + 'static,
{
    type Item = Result<Fut::Output, ParMapError>;

    fn run(&mut self, cx: &mut Context<'_>) {
        for _ in 0..ROUNDS_PER_RUN {
            let pulled = self.refill(cx);
            let harvested = self.harvest(cx);
            if !pulled && !harvested {
                return;
            }
        }
        cx.waker().wake_by_ref();
    }

    fn pop(&mut self) -> Option<Self::Item> {
        self.buffer.pop_front()
    }

    fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn is_full(&self) -> bool {
        self.buffer.len() >= self.cap
    }

    fn is_drained(&self) -> bool {
        self.upstream.is_none() && self.in_flight.len() == 0 && self.upstream_panic.is_none()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let here = self.buffer.len().saturating_add(self.in_flight.len());
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
        self.upstream = None;
        self.upstream_panic = None;
        self.in_flight = Q::default();
    }

    fn error_item(e: ParMapError) -> Self::Item {
        Err(e)
    }
}
