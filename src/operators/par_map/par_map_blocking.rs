//! [`ParMapBlocking`]: the stream of
//! [`par_map_blocking`](crate::operators::DataflowExt::par_map_blocking): CPU-bound `f` on
//! tokio's blocking pool, items handed over in batches sized to the work.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::{FusedStream, FuturesOrdered};
use futures::{Stream, StreamExt};
use tokio::runtime::{Handle, RuntimeFlavor};

use super::driver::{AbortOnDrop, Core};
use super::error::ParMapError;
use super::limits::Limits;
use super::state::State;
use super::upstream::{self, poll_upstream};
use crate::error::{ConfigError, panic_message};
use crate::ledger::Ledger;
use crate::units::Count;

/// Results of one batch, in input order.
type Batch<T> = Vec<Result<T, ParMapError>>;

/// The default most items handed to one thread in one go.
const DEFAULT_MAX_BATCH: usize = 256;

/// The batch size aims at this much work per batch: long enough that handing a batch to
/// the blocking pool (a few microseconds) costs little, short enough that the threads
/// finish together at the end of the stream.
const TARGET_BATCH: Duration = Duration::from_micros(500);

/// A batch running as a task on a worker thread yields to the runtime after this much
/// work, so the consumer, the driver and other tasks on that worker are never held up
/// for a whole batch.
const YIELD_EVERY: Duration = Duration::from_micros(100);

/// How many refill/harvest rounds one run may do before it yields to the runtime, so an
/// always-ready upstream cannot monopolise a worker thread.
const ROUNDS_PER_RUN: usize = 16;

/// Where the batches run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pool {
    /// As tasks on the runtime's worker threads (a multi-thread runtime, the default):
    /// measured as fast as rayon, against two thirds of its speed on the blocking pool.
    Workers,
    /// On tokio's blocking pool: chosen with
    /// [`on_blocking_pool`](ParMapBlocking::on_blocking_pool), and the fallback on a
    /// current-thread runtime, whose one thread must stay free for the consumer.
    Blocking,
}

pin_project_lite::pin_project! {
    /// Stream for the [`par_map_blocking`](crate::operators::DataflowExt::par_map_blocking) method.
    #[must_use = "streams do nothing unless polled"]
    pub struct ParMapBlocking<St: Stream, F, T> {
        state: State<St, F, BlockingCore<St, F, T>, Result<T, ParMapError>>,
        concurrency: NonZeroUsize,
        // `None`: concurrency x max batch.
        buffer: Option<NonZeroUsize>,
        max_batch: NonZeroUsize,
        // The blocking pool even on a multi-thread runtime.
        blocking_pool: bool,
    }
}

impl<St, F, T> ParMapBlocking<St, F, T>
where
    St: Stream,
    F: Fn(St::Item) -> T,
{
    pub(crate) fn new(upstream: St, limits: Limits, f: F) -> Self {
        ParMapBlocking {
            state: State::new(upstream, f),
            concurrency: limits.concurrency,
            buffer: None,
            max_batch: NonZeroUsize::MIN.saturating_add(DEFAULT_MAX_BATCH - 1),
            blocking_pool: false,
        }
    }

    /// Runs the batches on tokio's blocking pool even on a multi-thread runtime, before
    /// the first poll. By default they run as tasks on the runtime's worker threads (the
    /// measured faster choice for CPU work); choose the blocking pool when `f` waits (on
    /// blocking I/O, a lock, a channel) rather than computes, so that waiting never holds
    /// a worker thread. On a current-thread runtime the blocking pool is always used.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] once the stream has been polled.
    pub fn on_blocking_pool(mut self) -> Result<Self, ConfigError> {
        self.state.check_unpolled("blocking pool")?;
        self.blocking_pool = true;
        Ok(self)
    }

    /// Sets the output buffer `b` in items (default: threads × max batch, so every thread
    /// can finish a batch and start another while the consumer is busy), before the first
    /// poll: a batch is pulled only while the items held (in flight or finished but not
    /// yet yielded) leave room for it under `threads × max batch + b`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] for a zero size; [`ConfigError::Invalid`] once the stream has
    /// been polled.
    pub fn output_buffer(mut self, size: impl Into<Count>) -> Result<Self, ConfigError> {
        self.buffer = Some(self.state.check_setting("output buffer", size.into())?);
        Ok(self)
    }

    /// Sets the most items one thread takes in one go (default 256), before the first
    /// poll. The batch size adapts below it to about half a millisecond of work; `1`
    /// turns batching off.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] for a zero size; [`ConfigError::Invalid`] once the stream has
    /// been polled.
    pub fn max_batch(mut self, items: impl Into<Count>) -> Result<Self, ConfigError> {
        self.max_batch = self.state.check_setting("max batch", items.into())?;
        Ok(self)
    }

    /// The most threads running `f` at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency.get()
    }

    /// The output buffer `b` in items (see [`output_buffer`](Self::output_buffer)).
    pub fn output_buffer_size(&self) -> usize {
        self.buffer.map_or_else(
            || self.concurrency.get().saturating_mul(self.max_batch.get()),
            NonZeroUsize::get,
        )
    }

    /// The most items in one batch.
    pub fn max_batch_size(&self) -> usize {
        self.max_batch.get()
    }
}

impl<St, F, T> Stream for ParMapBlocking<St, F, T>
where
    St: Stream + Send + 'static,
    St::Item: Send + 'static,
    F: Fn(St::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    type Item = Result<T, ParMapError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let cap = self.output_buffer_size();
        let this = self.project();
        let concurrency = this.concurrency.get();
        let max_batch = this.max_batch.get();
        let blocking_pool = *this.blocking_pool;
        this.state
            .poll_next(cx, |upstream, f, handle, stop| BlockingCore {
                pool: match handle.runtime_flavor() {
                    RuntimeFlavor::MultiThread if !blocking_pool => Pool::Workers,
                    _ => Pool::Blocking,
                },
                upstream: Some(Box::pin(upstream)),
                upstream_panic: None,
                f: Arc::new(f),
                handle: handle.clone(),
                in_flight: FuturesOrdered::new(),
                in_flight_items: 0,
                next_index: 0,
                concurrency,
                cap,
                buffer: VecDeque::new(),
                batch: 1,
                max_batch,
                nanos_per_item: 0.0,
                stop,
            })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.state.size_hint()
    }
}

impl<St, F, T> FusedStream for ParMapBlocking<St, F, T>
where
    St: Stream + Send + 'static,
    St::Item: Send + 'static,
    F: Fn(St::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.state.is_done()
    }
}

impl<St: Stream + fmt::Debug, F, T> fmt::Debug for ParMapBlocking<St, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParMapBlocking")
            .field("state", &self.state)
            .field("concurrency", &self.concurrency)
            .field("buffer", &self.buffer)
            .field("max_batch", &self.max_batch)
            .field("blocking_pool", &self.blocking_pool)
            .finish()
    }
}

/// One batch on a worker or the blocking pool; a batch the runtime lost becomes error
/// items, one per input item, so nothing goes missing.
struct BatchJob<T> {
    job: AbortOnDrop<(Batch<T>, Duration)>,
    first: u64,
    len: usize,
}

impl<T> Future for BatchJob<T> {
    type Output = (Batch<T>, Duration);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::task::ready!(Pin::new(&mut self.job).poll(cx)) {
            Ok(done) => Poll::Ready(done),
            Err(join) => {
                // Panics are caught per item inside the batch, so this is a batch the
                // runtime dropped unrun while shutting down (or a panic outside `f`).
                let panic = join.try_into_panic().ok().map(|p| panic_message(&*p));
                let first = self.first;
                let lost = (0..self.len as u64)
                    .map(|i| {
                        let index = first.saturating_add(i);
                        Err(match &panic {
                            Some(message) => ParMapError::Panicked {
                                index,
                                message: message.clone(),
                            },
                            None => ParMapError::RuntimeShutdown { index },
                        })
                    })
                    .collect();
                Poll::Ready((lost, Duration::ZERO))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The core of `par_map_blocking`: cuts upstream into batches and runs up to
    /// `concurrency` of them at once, as tasks on the runtime's workers or on the
    /// blocking pool. Nothing is structurally pinned (upstream is boxed).
    pub(crate) struct BlockingCore<St: Stream, F, T> {
        pool: Pool,
        // `None` once it has ended, panicked or been cancelled.
        upstream: Option<Pin<Box<St>>>,
        upstream_panic: Option<ParMapError>,
        f: Arc<F>,
        handle: Handle,
        in_flight: FuturesOrdered<BatchJob<T>>,
        in_flight_items: usize,
        next_index: u64,
        concurrency: usize,
        cap: usize,
        buffer: VecDeque<Result<T, ParMapError>>,
        // Current batch size, adapted to the measured time per item.
        batch: usize,
        max_batch: usize,
        // Moving average of the time per item, in nanoseconds (0 until measured).
        nanos_per_item: f64,
        // Set when the stream is dropped: a running batch stops after its current item
        // instead of finishing work nobody will read.
        stop: Arc<AtomicBool>,
    }
}

impl<St, F, T> BlockingCore<St, F, T>
where
    St: Stream + Send + 'static,
    St::Item: Send + 'static,
    F: Fn(St::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    fn launch(&mut self, items: Vec<St::Item>) {
        let first = self.next_index;
        let len = items.len();
        self.next_index = self.next_index.saturating_add(len as u64);
        self.in_flight_items = self.in_flight_items.saturating_add(len);
        let f = Arc::clone(&self.f);
        let stop = Arc::clone(&self.stop);
        // The ledger of the terminal polling this operator (see `crate::ledger`): current
        // while `f` runs on the batch's thread, so an event `f` takes apart there still
        // reports its source's counts to that terminal.
        let ledger = Ledger::current();
        let job = match self.pool {
            Pool::Workers => self.handle.spawn(run_batch_on_worker(
                f,
                items,
                first,
                stop,
                self.check_every(),
                ledger,
            )),
            Pool::Blocking => self.handle.spawn_blocking(move || {
                let start = Instant::now();
                let mut out: Batch<T> = Vec::with_capacity(len);
                let run = || {
                    for (item, index) in items.into_iter().zip(first..) {
                        if stop.load(Relaxed) {
                            break;
                        }
                        out.push(call(&*f, index, item));
                    }
                };
                match &ledger {
                    Some(ledger) => ledger.scope(run),
                    None => run(),
                }
                (out, start.elapsed())
            }),
        };
        self.in_flight.push_back(BatchJob {
            job: AbortOnDrop(job),
            first,
            len,
        });
    }

    /// Pulls batches while fewer than `concurrency` are in flight; a batch is cut short
    /// when upstream has nothing ready, so a slow upstream never waits for a full batch.
    fn refill(&mut self, cx: &mut Context<'_>, held: usize) -> bool {
        let limit = self
            .concurrency
            .saturating_mul(self.max_batch)
            .saturating_add(self.cap);
        let mut pulled = false;
        while self.in_flight.len() < self.concurrency {
            let holding = self
                .in_flight_items
                .saturating_add(self.buffer.len())
                .saturating_add(held);
            // Only whole batches: a batch cut short by the bound would hand a thread a
            // sliver of work for the price of a whole hand-over.
            let room = limit.saturating_sub(holding);
            if room < self.batch {
                break;
            }
            let room = self.batch;
            let Some(upstream) = self.upstream.as_mut() else {
                break;
            };
            let mut items = Vec::with_capacity(room);
            let mut more = true;
            let mut ended = None;
            while more && items.len() < room {
                match poll_upstream(upstream.as_mut(), cx) {
                    Ok(Poll::Ready(Some(item))) => items.push(item),
                    Ok(Poll::Ready(None)) => ended = Some(None),
                    Ok(Poll::Pending) => more = false,
                    Err(e) => ended = Some(Some(e)),
                }
                more &= ended.is_none();
            }
            if let Some(panic) = ended {
                self.upstream = None;
                self.upstream_panic = panic;
            }
            if items.is_empty() {
                break;
            }
            self.launch(items);
            pulled = true;
            if !more {
                break;
            }
        }
        pulled
    }

    /// Moves finished batches to the buffer (the bound is kept by `refill`).
    fn harvest(&mut self, cx: &mut Context<'_>) -> bool {
        let mut harvested = false;
        while !self.in_flight.is_empty() {
            match self.in_flight.poll_next_unpin(cx) {
                Poll::Ready(Some((batch, took))) => {
                    self.in_flight_items = self.in_flight_items.saturating_sub(batch.len());
                    self.learn(batch.len(), took);
                    self.buffer.extend(batch);
                    harvested = true;
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        if self.in_flight.is_empty() {
            if let Some(e) = self.upstream_panic.take() {
                self.buffer.push_back(Err(e));
                harvested = true;
            }
        }
        harvested
    }

    /// How many calls a batch on a worker makes between two looks at the clock: about a
    /// tenth of `YIELD_EVERY` (1 until the time per item is known).
    fn check_every(&self) -> usize {
        if self.nanos_per_item <= 0.0 {
            return 1;
        }
        let calls = YIELD_EVERY.as_nanos() as f64 / 10.0 / self.nanos_per_item;
        (calls as usize).clamp(1, self.max_batch)
    }

    /// Adapts the batch size to about `TARGET_BATCH` of work.
    fn learn(&mut self, len: usize, took: Duration) {
        if len == 0 || took.is_zero() {
            return;
        }
        let per_item = took.as_nanos() as f64 / len as f64;
        self.nanos_per_item = if self.nanos_per_item == 0.0 {
            per_item
        } else {
            0.75 * self.nanos_per_item + 0.25 * per_item
        };
        let ideal = TARGET_BATCH.as_nanos() as f64 / self.nanos_per_item.max(1.0);
        self.batch = (ideal as usize).clamp(1, self.max_batch);
    }
}

/// Calls `f` on one item, a panic caught as the item's error.
fn call<I, T>(f: &impl Fn(I) -> T, index: u64, item: I) -> Result<T, ParMapError> {
    catch_unwind(AssertUnwindSafe(|| f(item))).map_err(|payload| ParMapError::Panicked {
        index,
        message: panic_message(&*payload),
    })
}

/// One batch as a task on a worker thread: yields to the runtime after about
/// `YIELD_EVERY` of work, and reports the time spent working (not waiting to be polled
/// again). The clock is read only every `check_every` items (from the learned time per
/// item), so a cheap `f` does not pay for a clock read per call.
async fn run_batch_on_worker<I, T, F: Fn(I) -> T>(
    f: Arc<F>,
    items: Vec<I>,
    first: u64,
    stop: Arc<AtomicBool>,
    check_every: usize,
    ledger: Option<Ledger>,
) -> (Batch<T>, Duration) {
    let mut out: Batch<T> = Vec::with_capacity(items.len());
    let mut worked = Duration::ZERO;
    let mut slice = Instant::now();
    let mut items = items.into_iter().zip(first..);
    loop {
        // `check_every` calls between two looks at the clock, with the terminal's
        // ledger current (a scope cannot span an `.await`).
        let mut run = || {
            for _ in 0..check_every.max(1) {
                let Some((item, index)) = items.next() else {
                    return false;
                };
                if stop.load(Relaxed) {
                    return false;
                }
                out.push(call(&*f, index, item));
            }
            true
        };
        let more = match &ledger {
            Some(ledger) => ledger.scope(run),
            None => run(),
        };
        if !more {
            break;
        }
        let spent = slice.elapsed();
        if spent >= YIELD_EVERY {
            worked = worked.saturating_add(spent);
            tokio::task::yield_now().await;
            slice = Instant::now();
        }
    }
    (out, worked.saturating_add(slice.elapsed()))
}

impl<St, F, T> Core for BlockingCore<St, F, T>
where
    St: Stream + Send + 'static,
    St::Item: Send + 'static,
    F: Fn(St::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    type Item = Result<T, ParMapError>;

    /// Pulls and hands out batches, and collects finished ones, until nothing moves or a
    /// budget is spent (then it wakes `cx` to be run again).
    fn run(&mut self, cx: &mut Context<'_>, held: usize) {
        for _ in 0..ROUNDS_PER_RUN {
            // Refill first, so the harvest polls the new batches too; a harvest that
            // found nothing finished freed no room, so another round would find nothing.
            self.refill(cx, held);
            if !self.harvest(cx) {
                return;
            }
        }
        cx.waker().wake_by_ref();
    }

    fn finished(&mut self) -> &mut VecDeque<Self::Item> {
        &mut self.buffer
    }

    fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn is_full(&self, held: usize) -> bool {
        let limit = self
            .concurrency
            .saturating_mul(self.max_batch)
            .saturating_add(self.cap);
        self.in_flight_items
            .saturating_add(self.buffer.len())
            .saturating_add(held)
            .saturating_add(self.batch)
            > limit
    }

    fn is_drained(&self) -> bool {
        self.upstream.is_none() && self.in_flight.is_empty() && self.upstream_panic.is_none()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let here = self.buffer.len().saturating_add(self.in_flight_items);
        let here = here.saturating_add(usize::from(self.upstream_panic.is_some()));
        upstream::size_hint(self.upstream.as_ref(), here)
    }

    fn cancel(&mut self) {
        self.stop.store(true, Relaxed);
        self.upstream = None;
        self.upstream_panic = None;
        self.in_flight = FuturesOrdered::new();
        self.in_flight_items = 0;
    }

    fn error_item(e: ParMapError) -> Self::Item {
        Err(e)
    }
}
