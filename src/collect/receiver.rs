//! [`Receiver`]: processes events with bounded concurrency, pulling from upstream only
//! as fast as it completes.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{FusedStream, FuturesUnordered};
use futures::{FutureExt, Stream};
use pin_project_lite::pin_project;
use tokio::runtime::Handle;
use tokio::task::JoinSet;

use crate::ack::{Acks, TakeAcks};
use crate::collect::collector::{Batch, Collector, Registered, Shared};
use crate::error::{BoxError, ConfigError, panic_message};
use crate::stream::{EventError, EventErrorKind, EventId, Position, SenderEvent};
use crate::units::Count;

/// Values kept by collectors are handed downstream once this many are waiting (and
/// whenever the receiver is idle or done).
const DRAIN_AT: usize = 1024;

/// How many events a [`receiver`](crate::collect::ReceiverExt::receiver) processes at
/// once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ReceiverStrategy {
    /// One event at a time, in order, polled inline (no task is spawned).
    #[default]
    Serial,
    /// Up to `workers` events at once, each on its own tokio task (so CPU work runs in
    /// parallel); outputs come in completion order. Without a tokio runtime the events
    /// run concurrently on the polling task instead.
    Parallel {
        /// The most events in flight.
        workers: NonZeroUsize,
    },
}

impl ReceiverStrategy {
    /// [`Parallel`](Self::Parallel) with `workers` events in flight at most.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when `workers` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::collect::ReceiverStrategy;
    ///
    /// assert_eq!(ReceiverStrategy::parallel(8).map(|s| s.workers()), Ok(8));
    /// assert!(ReceiverStrategy::parallel(0).is_err());
    /// ```
    pub fn parallel(workers: impl Into<Count>) -> Result<Self, ConfigError> {
        Ok(ReceiverStrategy::Parallel {
            workers: workers.into().validate("receiver workers")?,
        })
    }

    /// The most events in flight: 1 for [`Serial`](Self::Serial).
    pub fn workers(&self) -> usize {
        match self {
            ReceiverStrategy::Serial => 1,
            ReceiverStrategy::Parallel { workers } => workers.get(),
        }
    }
}

/// What a receiver stage yields.
#[derive(Debug)]
#[non_exhaustive]
pub enum Received<K, V, R> {
    /// An event was processed: the receiver closure's `Ok` value.
    Output(R),
    /// An event failed: upstream (a source error under the
    /// [`Collect`](crate::stream::ErrorPolicy::Collect) policy), or in the receiver
    /// (an `Err`, or a panic caught as [`EventErrorKind::Panicked`]).
    Failed(EventError),
    /// Values and errors kept by the collectors since the last batch.
    Collected(Box<Batch<K, V>>),
}

/// Items a receiver accepts: events, or results of events (what an
/// [`EmittingStream`](crate::stream::EmittingStream) yields).
pub trait IntoEvent {
    /// The event's payload type.
    type Data;
    /// The event, or the upstream error to pass on.
    ///
    /// # Errors
    ///
    /// The upstream error.
    fn into_event(self) -> Result<SenderEvent<Self::Data>, EventError>;
}

impl<T> IntoEvent for SenderEvent<T> {
    type Data = T;
    #[inline]
    fn into_event(self) -> Result<SenderEvent<T>, EventError> {
        Ok(self)
    }
}

impl<T> IntoEvent for Result<SenderEvent<T>, EventError> {
    type Data = T;
    #[inline]
    fn into_event(self) -> Result<SenderEvent<T>, EventError> {
        self
    }
}

/// What one event's processing ended with, and what its source is owed.
type Done<R> = (EventId, Option<Position>, Result<R, EventErrorKind>, Acks);

/// What a receiver tells an acknowledging source about an event whose call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OnFailure {
    /// Reject it: the source redelivers it, or parks it after its delivery limit.
    #[default]
    Reject,
    /// Acknowledge it as handled: its error is in the collected errors, and whoever reads
    /// those (a dead-letter writer) is responsible for it.
    Acknowledge,
}

/// Settles a finished event's obligation: `Ok` acknowledges, a failure follows `policy`.
#[inline(always)]
fn settle<R, K, V>(acks: Acks, item: &Received<K, V, R>, policy: OnFailure) {
    if acks.is_empty() {
        return;
    }
    settle_owed(acks, item, policy);
}

#[cold]
#[inline(never)]
fn settle_owed<R, K, V>(acks: Acks, item: &Received<K, V, R>, policy: OnFailure) {
    match (item, policy) {
        (Received::Failed(e), OnFailure::Reject) => acks.reject(e),
        _ => acks.ack(),
    }
}

pin_project! {
    /// One event being processed: the receiver's future, panics caught.
    struct Work<Fut> {
        id: EventId,
        position: Option<Position>,
        acks: Acks,
        #[pin]
        fut: futures::future::CatchUnwind<AssertUnwindSafe<Fut>>,
    }
}

impl<Fut, R, E> Future for Work<Fut>
where
    Fut: Future<Output = Result<R, E>>,
    E: Into<BoxError>,
{
    type Output = Done<R>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Done<R>> {
        let this = self.project();
        this.fut.poll(cx).map(|res| {
            let res = match res {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(e)) => Err(EventErrorKind::Receiver(e.into())),
                Err(payload) => Err(EventErrorKind::Panicked {
                    message: panic_message(payload.as_ref()),
                }),
            };
            (*this.id, *this.position, res, this.acks.take())
        })
    }
}

enum Pool<Fut, R> {
    /// Serial, or Parallel before the first poll.
    Idle,
    /// Each event on its own tokio task; the key of each task's event, so that a task
    /// the runtime dropped still fails *its* event.
    Spawned(JoinSet<Done<R>>, Handle, HashMap<tokio::task::Id, Key>),
    Local(FuturesUnordered<Work<Fut>>),
}

/// An event whose worker task did not hand back its outcome: the runtime stopped it
/// (it shut down, or was shutting down when the task was spawned), or something outside
/// the event's own future panicked (that one is caught inside the task).
#[cold]
#[inline(never)]
fn lost<K, V, R>(error: tokio::task::JoinError, key: Option<Key>) -> Received<K, V, R> {
    let (id, position) = key.unwrap_or((EventId::default(), None));
    let kind = if error.is_cancelled() {
        EventErrorKind::WorkerStopped {
            reason: "the runtime running the receiver's worker tasks shut down before the \
                     event's work finished"
                .to_owned(),
        }
    } else {
        match error.try_into_panic() {
            Ok(payload) => EventErrorKind::Panicked {
                message: panic_message(payload.as_ref()),
            },
            Err(error) => EventErrorKind::WorkerStopped {
                reason: error.to_string(),
            },
        }
    };
    Received::Failed(EventError::new(id, position, kind))
}

/// An event's key: its id and position.
type Key = (EventId, Option<Position>);

/// Names the event whose closure call or poll is running, should it panic: its drop runs
/// only while unwinding (the normal path forgets it), so blaming costs nothing until
/// something panics. [`Receiver::poll_next`] catches the panic and fails that event.
struct Blame<'a> {
    slot: &'a mut Option<Key>,
    key: Key,
}

impl Blame<'_> {
    /// The work finished without panicking.
    #[inline(always)]
    fn clear(self) {
        std::mem::forget(self);
    }
}

impl Drop for Blame<'_> {
    fn drop(&mut self) {
        *self.slot = Some(self.key);
    }
}

pin_project! {
    /// The stream returned by [`receiver`](crate::collect::ReceiverExt::receiver).
    #[doc(alias = "ReceiverTask")]
    #[doc(alias = "ReceiverBuilder")]
    #[must_use = "streams do nothing unless polled"]
    pub struct Receiver<S, F, Fut, K, V, R> {
        #[pin]
        upstream: S,
        // Serial: the event in flight, polled inline.
        #[pin]
        current: Option<Fut>,
        // The key of `current`, stored only when it is left pending: an event whose
        // future completes on its first poll (the common case) keeps it in registers.
        key: Key,
        // The event whose work panicked, set while unwinding (see `Blame`).
        blame: Option<Key>,
        // What the event being worked on owes its source (serial: while its work runs;
        // parallel: while the closure is called), so that `panicked` can reject it.
        owed: Acks,
        on_failure: OnFailure,
        f: F,
        shared: Registered<K, V>,
        strategy: ReceiverStrategy,
        pool: Pool<Fut, R>,
        upstream_done: bool,
        done: bool,
    }
}

impl<S, F, Fut, K, V, R> Receiver<S, F, Fut, K, V, R>
where
    K: Send + 'static,
    V: Send + 'static,
{
    pub(crate) fn new(upstream: S, strategy: ReceiverStrategy, f: F) -> Self {
        Receiver {
            upstream,
            current: None,
            key: (EventId::default(), None),
            blame: None,
            owed: Acks::none(),
            on_failure: OnFailure::Reject,
            f,
            shared: Registered::new(),
            strategy,
            pool: Pool::Idle,
            upstream_done: false,
            done: false,
        }
    }
}

impl<S, F, Fut, K, V, R> Receiver<S, F, Fut, K, V, R> {
    /// What the stage tells an acknowledging source about an event whose call returned
    /// `Err` or panicked: [`OnFailure::Reject`] (the default) or
    /// [`OnFailure::Acknowledge`]. Events whose call returned `Ok` are always
    /// acknowledged, and events from sources without acknowledgements are not affected.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    /// use sweet_async::collect::{Collector, OnFailure};
    /// use sweet_async::stream::source::of;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let summary = AsyncTask::emits::<u32>()
    ///     .sender(of(1..=3))
    ///     .receiver(ReceiverStrategy::Serial, |e, _: Collector<(), ()>| async move {
    ///         if e.data == 2 { Err("bad") } else { Ok(e.data) }
    ///     })
    ///     .on_failure(OnFailure::Acknowledge) // errors go to a dead-letter table
    ///     .await_final_event(|summary, _| summary)
    ///     .await;
    /// assert_eq!((summary.items_out, summary.errors), (2, 1));
    /// # }
    /// ```
    pub fn on_failure(mut self, policy: OnFailure) -> Self {
        self.on_failure = policy;
        self
    }

    #[inline]
    /// Events in flight in a parallel stage's pool.
    fn in_pool(pool: &Pool<Fut, R>) -> usize {
        match pool {
            Pool::Idle => 0,
            Pool::Spawned(set, _, _) => set.len(),
            Pool::Local(set) => set.len(),
        }
    }
}

fn received<K, V, R>(done: Done<R>, policy: OnFailure) -> Received<K, V, R> {
    let (id, position, res, acks) = done;
    let item = match res {
        Ok(r) => Received::Output(r),
        Err(kind) => Received::Failed(EventError::new(id, position, kind)),
    };
    settle(acks, &item, policy);
    item
}

/// Nothing is ready: hand downstream what the collectors kept, if anything, or wait.
fn idle<K, V, R>(shared: &Shared<K, V>) -> Poll<Option<Received<K, V, R>>> {
    if shared.pending() > 0 {
        Poll::Ready(Some(Received::Collected(Box::new(shared.take()))))
    } else {
        Poll::Pending
    }
}

/// Upstream has ended and nothing is in flight: the last collected values, then the end.
fn end<K, V, R>(shared: &Shared<K, V>, done: &mut bool) -> Poll<Option<Received<K, V, R>>> {
    if shared.pending() > 0 {
        return Poll::Ready(Some(Received::Collected(Box::new(shared.take()))));
    }
    *done = true;
    Poll::Ready(None)
}

/// What a serial event's poll ended with, as a stage item (`None`: still pending).
#[inline(always)]
fn finished<K, V, R, E: Into<BoxError>>(
    polled: Poll<Result<R, E>>,
    key: Key,
) -> Option<Received<K, V, R>> {
    match polled {
        Poll::Pending => None,
        Poll::Ready(Ok(r)) => Some(Received::Output(r)),
        Poll::Ready(Err(e)) => Some(Received::Failed(EventError::new(
            key.0,
            key.1,
            EventErrorKind::Receiver(e.into()),
        ))),
    }
}

impl<S, F, Fut, K, V, R, E> Receiver<S, F, Fut, K, V, R>
where
    S: Stream,
    S::Item: IntoEvent,
    F: FnMut(SenderEvent<<S::Item as IntoEvent>::Data>, Collector<K, V>) -> Fut,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    E: Into<BoxError>,
    R: Send + 'static,
{
    /// The next item of a serial stage: one event at a time, its future created and
    /// polled in one go.
    #[inline(always)]
    fn poll_serial(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Received<K, V, R>>> {
        let mut this = self.project();
        // Checked once per poll: collectors fill up only while an event's work runs,
        // and every poll returns after one event's work.
        if this.shared.pending() >= DRAIN_AT {
            return Poll::Ready(Some(Received::Collected(Box::new(this.shared.take()))));
        }
        loop {
            if let Some(fut) = this.current.as_mut().as_pin_mut() {
                // Left pending by an earlier poll: its key and acknowledgement were stored
                // then.
                let blame = Blame {
                    slot: this.blame,
                    key: *this.key,
                };
                let polled = fut.poll(cx);
                blame.clear();
                return match finished(polled, *this.key) {
                    Some(item) => {
                        this.current.set(None);
                        settle(this.owed.take(), &item, *this.on_failure);
                        Poll::Ready(Some(item))
                    }
                    None => idle(this.shared),
                };
            }
            if *this.upstream_done {
                return end(this.shared, this.done);
            }
            let event = match this.upstream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => match item.into_event() {
                    Ok(event) => event,
                    Err(e) => return Poll::Ready(Some(Received::Failed(e))),
                },
                Poll::Ready(None) => {
                    *this.upstream_done = true;
                    continue;
                }
                Poll::Pending => return idle(this.shared),
            };
            let mut event = event;
            event.link_source();
            let key = (event.id(), event.position());
            // An event that owes its source an acknowledgement parks it in the stage
            // while its work runs (settled when it is done, or by `panicked`); events of
            // sources without acknowledgements pay one check.
            let acks = event.take_acks();
            let owing = !acks.is_empty();
            if owing {
                *this.owed = acks;
            }
            let collector = Collector::new(this.shared.key(), key.0, key.1);
            let blame = Blame {
                slot: this.blame,
                key,
            };
            let fut = (this.f)(event, collector);
            this.current.set(Some(fut));
            if let Some(fut) = this.current.as_mut().as_pin_mut() {
                let polled = fut.poll(cx);
                blame.clear();
                match finished(polled, key) {
                    Some(item) => {
                        this.current.set(None);
                        if owing {
                            settle(this.owed.take(), &item, *this.on_failure);
                        }
                        return Poll::Ready(Some(item));
                    }
                    None => {
                        *this.key = key;
                        return idle(this.shared);
                    }
                }
            }
        }
    }

    /// The next item of a parallel stage: up to `workers` events in flight.
    fn poll_parallel(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        workers: usize,
    ) -> Poll<Option<Received<K, V, R>>> {
        let mut this = self.project();
        loop {
            if this.shared.pending() >= DRAIN_AT {
                return Poll::Ready(Some(Received::Collected(Box::new(this.shared.take()))));
            }
            // Finished work first: it frees a slot.
            match this.pool {
                Pool::Idle => {}
                Pool::Spawned(set, _, keys) => {
                    if let Poll::Ready(Some(joined)) = set.poll_join_next_with_id(cx) {
                        return Poll::Ready(Some(match joined {
                            Ok((task, done)) => {
                                keys.remove(&task);
                                received(done, *this.on_failure)
                            }
                            Err(e) => {
                                let key = keys.remove(&e.id());
                                lost(e, key)
                            }
                        }));
                    }
                }
                Pool::Local(set) => {
                    if let Poll::Ready(Some(done)) = futures::StreamExt::poll_next_unpin(set, cx) {
                        return Poll::Ready(Some(received(done, *this.on_failure)));
                    }
                }
            }
            // Pull only while a slot is free.
            let in_flight = Self::in_pool(this.pool);
            if !*this.upstream_done && in_flight < workers {
                match this.upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => match item.into_event() {
                        Ok(mut event) => {
                            event.link_source();
                            let (id, position) = (event.id(), event.position());
                            // Parked in the stage while the closure is called, so that a
                            // panicking call is rejected by `panicked`.
                            *this.owed = event.take_acks();
                            let collector = Collector::new(this.shared.key(), id, position);
                            let blame = Blame {
                                slot: this.blame,
                                key: (id, position),
                            };
                            let fut = (this.f)(event, collector);
                            blame.clear();
                            let acks = this.owed.take();
                            let work = Work {
                                id,
                                position,
                                acks,
                                fut: AssertUnwindSafe(fut).catch_unwind(),
                            };
                            match this.pool {
                                Pool::Spawned(set, h, keys) => {
                                    let task = set.spawn_on(work, h).id();
                                    keys.insert(task, (id, position));
                                }
                                Pool::Local(set) => set.push(work),
                                Pool::Idle => {
                                    *this.pool = match Handle::try_current() {
                                        Ok(h) => {
                                            let mut set = JoinSet::new();
                                            let task = set.spawn_on(work, &h).id();
                                            let keys = HashMap::from([(task, (id, position))]);
                                            Pool::Spawned(set, h, keys)
                                        }
                                        Err(_) => {
                                            let set = FuturesUnordered::new();
                                            set.push(work);
                                            Pool::Local(set)
                                        }
                                    };
                                }
                            }
                            continue;
                        }
                        Err(e) => return Poll::Ready(Some(Received::Failed(e))),
                    },
                    Poll::Ready(None) => {
                        *this.upstream_done = true;
                        continue;
                    }
                    Poll::Pending => {}
                }
            }
            // Nothing ready now.
            if *this.upstream_done && in_flight == 0 {
                return end(this.shared, this.done);
            }
            return idle(this.shared);
        }
    }
}

impl<S, F, Fut, K, V, R> Receiver<S, F, Fut, K, V, R> {
    /// A panic was caught: it fails the event blamed for it, or else ends the stage
    /// (upstream panicked).
    #[cold]
    #[inline(never)]
    fn panicked(self: Pin<&mut Self>, payload: &(dyn std::any::Any + Send)) -> Received<K, V, R> {
        let mut this = self.project();
        let message = panic_message(payload);
        let (id, position) = match this.blame.take() {
            Some(key) => {
                // The event's closure or future panicked: it is done.
                this.current.set(None);
                key
            }
            None => {
                *this.upstream_done = true;
                (EventId::default(), None)
            }
        };
        let item = Received::Failed(EventError::new(
            id,
            position,
            EventErrorKind::Panicked { message },
        ));
        // A serial event left pending owes its source; it has failed.
        settle(this.owed.take(), &item, *this.on_failure);
        item
    }
}

impl<S, F, Fut, K, V, R, E> Stream for Receiver<S, F, Fut, K, V, R>
where
    S: Stream,
    S::Item: IntoEvent,
    F: FnMut(SenderEvent<<S::Item as IntoEvent>::Data>, Collector<K, V>) -> Fut,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    E: Into<BoxError>,
    R: Send + 'static,
{
    type Item = Received<K, V, R>;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // No check of `done` first: once done, upstream is done and nothing is in flight,
        // so both paths end again at once.
        // One landing pad for the whole poll. A panic of the receiver's closure or of
        // the serial event's future fails that event (named by `blame`); a panic of
        // upstream ends the stage.
        let polled = catch_unwind(AssertUnwindSafe(|| match self.strategy {
            ReceiverStrategy::Serial => self.as_mut().poll_serial(cx),
            ReceiverStrategy::Parallel { workers } => {
                self.as_mut().poll_parallel(cx, workers.get())
            }
        }));
        match polled {
            Ok(poll) => poll,
            Err(payload) => Poll::Ready(Some(self.panicked(payload.as_ref()))),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            // Errors may come from upstream at any time and collected batches come on
            // top of outputs: no honest bounds beyond this.
            (0, None)
        }
    }
}

impl<S, F, Fut, K, V, R, E> FusedStream for Receiver<S, F, Fut, K, V, R>
where
    S: Stream,
    S::Item: IntoEvent,
    F: FnMut(SenderEvent<<S::Item as IntoEvent>::Data>, Collector<K, V>) -> Fut,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    E: Into<BoxError>,
    R: Send + 'static,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<S: fmt::Debug, F, Fut, K, V, R> fmt::Debug for Receiver<S, F, Fut, K, V, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("upstream", &self.upstream)
            .field("strategy", &self.strategy)
            .field(
                "in_flight",
                &usize::from(self.current.is_some()).saturating_add(Self::in_pool(&self.pool)),
            )
            .field("upstream_done", &self.upstream_done)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
