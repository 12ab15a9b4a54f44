//! [`AsyncCore`]: the core of `par_map` and `par_map_unordered`: upstream, `f`, the calls
//! in flight in reusable slots, and the output buffer.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use futures::Stream;
use futures::task::AtomicWaker;

use super::driver::Core;
use super::error::ParMapError;
use super::limits::Limits;
use super::order::Order;
use super::upstream;
use crate::error::panic_message;

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
        upstream::size_hint(self.upstream.as_ref(), here)
    }

    fn cancel(&mut self) {
        self.cancel_work();
        self.upstream_panic = None;
    }

    fn error_item(e: ParMapError) -> Self::Item {
        Err(e)
    }
}
