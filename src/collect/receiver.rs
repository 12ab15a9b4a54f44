//! [`Receiver`]: processes events with bounded concurrency, pulling from upstream only
//! as fast as it completes.

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

use crate::collect::collector::{Batch, Collector, Registered};
use crate::error::{BoxError, ConfigError};
use crate::stream::{EventError, EventErrorKind, EventId, Position, SenderEvent, panic_message};
use crate::units::Count;

/// Values kept by collectors are handed downstream once this many are waiting (and
/// whenever the receiver is idle or done).
const DRAIN_AT: usize = 1024;

/// How many events a [`receiver`](crate::collect::ReceiverExt::receiver) processes at
/// once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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

/// What one event's processing ended with.
type Done<R> = (EventId, Option<Position>, Result<R, EventErrorKind>);

pin_project! {
    /// One event being processed: the receiver's future, panics caught.
    struct Work<Fut> {
        id: EventId,
        position: Option<Position>,
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
            (*this.id, *this.position, res)
        })
    }
}

enum Pool<Fut, R> {
    /// Serial, or Parallel before the first poll.
    Idle,
    Spawned(JoinSet<Done<R>>, Handle),
    Local(FuturesUnordered<Work<Fut>>),
}

/// What the receiver was doing, for a panic caught by [`Receiver::poll_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Polling upstream or the pool: a panic there is upstream's.
    Upstream,
    /// Calling the receiver closure for the event under `key`.
    Starting,
    /// Polling `current`, the event under `key` (serial).
    Polling,
}

pin_project! {
    /// The stream returned by [`receiver`](crate::collect::ReceiverExt::receiver).
    #[doc(alias = "ReceiverTask")]
    #[doc(alias = "ReceiverBuilder")]
    #[must_use = "streams do nothing unless polled"]
    pub struct Receiver<S, F, Fut, K, V, R> {
        #[pin]
        upstream: S,
        // Serial: the event in flight, polled inline. Panics are caught once per poll of
        // the stage (in `poll_next`), not once per event.
        #[pin]
        current: Option<Fut>,
        // The key of `current`, or of the event whose receiver call is being made.
        key: (EventId, Option<Position>),
        phase: Phase,
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
            phase: Phase::Upstream,
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
    #[inline]
    fn in_flight(current: bool, pool: &Pool<Fut, R>) -> usize {
        usize::from(current)
            + match pool {
                Pool::Idle => 0,
                Pool::Spawned(set, _) => set.len(),
                Pool::Local(set) => set.len(),
            }
    }
}

fn received<K, V, R>(done: Done<R>) -> Received<K, V, R> {
    match done {
        (_, _, Ok(r)) => Received::Output(r),
        (id, position, Err(kind)) => Received::Failed(EventError::new(id, position, kind)),
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
    #[inline]
    fn poll_inner(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Received<K, V, R>>> {
        let mut this = self.project();
        let workers = this.strategy.workers();
        loop {
            if this.shared.pending() >= DRAIN_AT {
                return Poll::Ready(Some(Received::Collected(Box::new(this.shared.take()))));
            }
            // Finished work first: it frees a slot.
            if let Some(fut) = this.current.as_mut().as_pin_mut() {
                *this.phase = Phase::Polling;
                let polled = fut.poll(cx);
                *this.phase = Phase::Upstream;
                if let Poll::Ready(res) = polled {
                    this.current.set(None);
                    return Poll::Ready(Some(match res {
                        Ok(r) => Received::Output(r),
                        Err(e) => {
                            let (id, position) = *this.key;
                            Received::Failed(EventError::new(
                                id,
                                position,
                                EventErrorKind::Receiver(e.into()),
                            ))
                        }
                    }));
                }
            }
            match this.pool {
                Pool::Idle => {}
                Pool::Spawned(set, _) => {
                    if let Poll::Ready(Some(joined)) = set.poll_join_next(cx) {
                        return Poll::Ready(Some(match joined {
                            Ok(done) => received(done),
                            Err(e) => Received::Failed(EventError::new(
                                EventId::default(),
                                None,
                                EventErrorKind::Panicked {
                                    message: format!("receiver worker task ended: {e}"),
                                },
                            )),
                        }));
                    }
                }
                Pool::Local(set) => {
                    if let Poll::Ready(Some(done)) = futures::StreamExt::poll_next_unpin(set, cx) {
                        return Poll::Ready(Some(received(done)));
                    }
                }
            }
            // Pull only while a slot is free.
            let in_flight = match this.strategy {
                ReceiverStrategy::Serial => usize::from(this.current.is_some()),
                ReceiverStrategy::Parallel { .. } => {
                    Self::in_flight(this.current.is_some(), this.pool)
                }
            };
            if !*this.upstream_done && in_flight < workers {
                match this.upstream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => match item.into_event() {
                        Ok(event) => {
                            let id = event.id();
                            let position = event.position();
                            let collector = Collector::new(this.shared.key(), id, position);
                            *this.key = (id, position);
                            *this.phase = Phase::Starting;
                            let fut = (this.f)(event, collector);
                            *this.phase = Phase::Upstream;
                            match this.strategy {
                                ReceiverStrategy::Serial => this.current.set(Some(fut)),
                                ReceiverStrategy::Parallel { .. } => {
                                    let work = Work {
                                        id,
                                        position,
                                        fut: AssertUnwindSafe(fut).catch_unwind(),
                                    };
                                    match this.pool {
                                        Pool::Spawned(set, h) => {
                                            set.spawn_on(work, h);
                                        }
                                        Pool::Local(set) => set.push(work),
                                        Pool::Idle => {
                                            *this.pool = match Handle::try_current() {
                                                Ok(h) => {
                                                    let mut set = JoinSet::new();
                                                    set.spawn_on(work, &h);
                                                    Pool::Spawned(set, h)
                                                }
                                                Err(_) => {
                                                    let set = FuturesUnordered::new();
                                                    set.push(work);
                                                    Pool::Local(set)
                                                }
                                            };
                                        }
                                    }
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
            if this.shared.pending() > 0 {
                return Poll::Ready(Some(Received::Collected(Box::new(this.shared.take()))));
            }
            if *this.upstream_done && in_flight == 0 {
                *this.done = true;
                return Poll::Ready(None);
            }
            return Poll::Pending;
        }
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
        if self.done {
            return Poll::Ready(None);
        }
        // One landing pad for the whole poll: a panic of the receiver (its synchronous
        // part, or a poll of the serial event in flight) fails its event; a panic of
        // upstream ends the stage.
        match catch_unwind(AssertUnwindSafe(|| self.as_mut().poll_inner(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                let mut this = self.project();
                let message = panic_message(payload.as_ref());
                let phase = std::mem::replace(this.phase, Phase::Upstream);
                let (id, position) = match phase {
                    Phase::Starting => *this.key,
                    Phase::Polling => {
                        // The event's future panicked: it is done.
                        this.current.set(None);
                        *this.key
                    }
                    Phase::Upstream => {
                        *this.upstream_done = true;
                        (EventId::default(), None)
                    }
                };
                let kind = EventErrorKind::Panicked { message };
                Poll::Ready(Some(Received::Failed(EventError::new(id, position, kind))))
            }
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
                &Self::in_flight(self.current.is_some(), &self.pool),
            )
            .field("upstream_done", &self.upstream_done)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
