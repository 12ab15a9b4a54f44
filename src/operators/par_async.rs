//! The core of `par_map` and `par_map_unordered`: calls of `f` in flight, fed from an
//! upstream shared by every shard of the operator.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures::{Stream, StreamExt};
use tokio::runtime::{Handle, RuntimeFlavor};

use super::par_driver::{
    Built, Core, Limits, MakeCores, ParMapError, Plan, SourceMeta, panic_message, poll_upstream,
};

/// Below this many calls per shard, splitting work across worker threads costs more
/// than it brings.
const MIN_CALLS_PER_SHARD: usize = 16;

/// The shards of an async operator: one per worker thread of a multi-thread runtime,
/// each with at least `MIN_CALLS_PER_SHARD` calls, or a single one.
fn shards(handle: &Handle, concurrency: usize) -> usize {
    match handle.runtime_flavor() {
        RuntimeFlavor::MultiThread => handle
            .metrics()
            .num_workers()
            .min(concurrency / MIN_CALLS_PER_SHARD)
            .max(1),
        _ => 1,
    }
}

/// The first-poll plan of `par_map` (`ordered`) and `par_map_unordered`.
pub(crate) fn plan<St, F, Fut, Q>(
    limits: Limits,
    ordered: bool,
) -> Plan<impl MakeCores<St, F, AsyncCore<St, F, Fut, Q>>>
where
    St: Stream + Send + 'static,
    F: FnMut(St::Item) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    Q: InFlight<Call<Fut>> + Send + 'static,
{
    Plan {
        shards,
        concurrency: limits.concurrency.get(),
        ordered,
        make: move |upstream: St, f: F, _: &Handle, waker: Waker, count: usize| {
            let meta = SourceMeta::new(ordered && count > 1, upstream.size_hint());
            let source = Arc::new(Source {
                state: Mutex::new(SourceState {
                    upstream: Some(Box::pin(upstream)),
                    f,
                    next_index: 0,
                }),
                meta: Arc::clone(&meta),
                waker,
            });
            let share = |total: usize, i: usize| total / count + usize::from(i < total % count);
            let cores = (0..count)
                .map(|i| AsyncCore {
                    source: Some(Arc::clone(&source)),
                    shard: i,
                    in_flight: Q::default(),
                    concurrency: share(limits.concurrency.get(), i),
                    cap: share(limits.buffer.get(), i),
                    buffer: VecDeque::new(),
                })
                .collect();
            Built { cores, meta }
        },
    }
}

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

/// Upstream and `f`, shared by the shards: whoever has room pulls, under the lock, and
/// the pull log records which shard got which items.
pub(crate) struct Source<St, F> {
    state: Mutex<SourceState<St, F>>,
    meta: Arc<SourceMeta>,
    /// The waker upstream sees: it wakes every shard.
    waker: Waker,
}

struct SourceState<St, F> {
    // `None` once it has ended or panicked.
    upstream: Option<Pin<Box<St>>>,
    f: F,
    next_index: u64,
}

impl<St, F> Source<St, F> {
    fn lock(&self) -> MutexGuard<'_, SourceState<St, F>> {
        // Upstream and `f` run under this lock inside `catch_unwind`: it is never poisoned,
        // and if it were, the state is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pulls up to `max` items for `shard`, calls `f` on each, and hands the calls to
    /// `push`. Returns how many.
    fn pull<Fut>(&self, shard: usize, max: usize, mut push: impl FnMut(Call<Fut>)) -> usize
    where
        St: Stream,
        F: FnMut(St::Item) -> Fut,
        Fut: Future,
    {
        if max == 0 || self.meta.is_done() {
            return 0;
        }
        let mut st = self.lock();
        let st = &mut *st;
        let mut cx = Context::from_waker(&self.waker);
        let mut pulled = 0;
        let mut ended = None;
        while pulled < max {
            let Some(upstream) = st.upstream.as_mut() else {
                break;
            };
            match poll_upstream(upstream.as_mut(), &mut cx) {
                Ok(Poll::Ready(Some(item))) => {
                    let index = st.next_index;
                    st.next_index = st.next_index.saturating_add(1);
                    push(call(&mut st.f, index, item));
                    pulled += 1;
                }
                Ok(Poll::Ready(None)) => ended = Some(None),
                Ok(Poll::Pending) => break,
                Err(e) => ended = Some(Some(e)),
            }
            if ended.is_some() {
                st.upstream = None;
                break;
            }
        }
        let hint = st
            .upstream
            .as_ref()
            .map_or((0, Some(0)), |upstream| upstream.size_hint());
        // Logged before `ended`, so the consumer never sees the end before these items.
        self.meta.pulled(shard, pulled, hint);
        if let Some(panic) = ended {
            self.meta.ended(panic);
        }
        pulled
    }
}

pin_project_lite::pin_project! {
    /// One shard of `par_map` (`Q` = `FuturesOrdered`) or `par_map_unordered`
    /// (`Q` = `FuturesUnordered`). Nothing is structurally pinned.
    pub(crate) struct AsyncCore<St, F, Fut: Future, Q> {
        // `None` once cancelled.
        source: Option<Arc<Source<St, F>>>,
        shard: usize,
        in_flight: Q,
        concurrency: usize,
        cap: usize,
        buffer: VecDeque<Result<Fut::Output, ParMapError>>,
    }
}

impl<St, F, Fut, Q> AsyncCore<St, F, Fut, Q>
where
    St: Stream,
    F: FnMut(St::Item) -> Fut,
    Fut: Future,
    Q: InFlight<Call<Fut>>,
{
    /// Pulls while fewer than `concurrency` calls are in flight and fewer than
    /// `concurrency + cap` items are held (in flight, finished, and `held` with the
    /// consumer).
    fn refill(&mut self, held: usize) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        let holding = self.in_flight.len() + self.buffer.len() + held;
        let room = (self.concurrency + self.cap).saturating_sub(holding);
        let max = room.min(self.concurrency.saturating_sub(self.in_flight.len()));
        let in_flight = &mut self.in_flight;
        source.pull(self.shard, max, |c| in_flight.push(c)) > 0
    }

    /// Polls the calls in flight and moves the finished ones to the buffer. Never held
    /// back by the buffer: the bound is kept by `refill`, so work in flight always moves.
    fn harvest(&mut self, cx: &mut Context<'_>) -> bool {
        let mut harvested = false;
        while self.in_flight.len() > 0 {
            match self.in_flight.poll_next_unpin(cx) {
                Poll::Ready(Some(out)) => {
                    self.buffer.push_back(out);
                    harvested = true;
                }
                Poll::Ready(None) | Poll::Pending => break,
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

    fn run(&mut self, cx: &mut Context<'_>, held: usize) {
        for _ in 0..ROUNDS_PER_RUN {
            let pulled = self.refill(held);
            let harvested = self.harvest(cx);
            if !pulled && !harvested {
                return;
            }
        }
        cx.waker().wake_by_ref();
    }

    fn take_all(&mut self, out: &mut VecDeque<Self::Item>) -> usize {
        let n = self.buffer.len();
        if out.is_empty() {
            std::mem::swap(&mut self.buffer, out);
        } else {
            out.extend(self.buffer.drain(..));
        }
        n
    }

    fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn is_full(&self, held: usize) -> bool {
        let holding = self.in_flight.len() + self.buffer.len() + held;
        holding >= self.concurrency + self.cap
    }

    fn is_drained(&self) -> bool {
        self.in_flight.len() == 0 && self.source.as_ref().is_none_or(|s| s.meta.is_done())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let here = self.buffer.len().saturating_add(self.in_flight.len());
        (here, Some(here))
    }

    fn cancel(&mut self) {
        self.source = None;
        self.in_flight = Q::default();
    }

    fn error_item(e: ParMapError) -> Self::Item {
        Err(e)
    }
}
