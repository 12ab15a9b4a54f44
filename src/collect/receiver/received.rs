//! What a receiver stage yields ([`Received`]) and accepts ([`IntoEvent`]), and how a
//! finished event settles what it owes its source ([`OnFailure`]).

use std::task::Poll;

use crate::ack::Acks;
use crate::collect::collector::{Batch, Shared};
use crate::stream::{EventError, EventErrorKind, EventId, Position, SenderEvent};

/// An event's key: its id and position.
pub(super) type Key = (EventId, Option<Position>);

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
pub(super) type Done<R> = (EventId, Option<Position>, Result<R, EventErrorKind>, Acks);

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
pub(super) fn settle<R, K, V>(acks: Acks, item: &Received<K, V, R>, policy: OnFailure) {
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

pub(super) fn received<K, V, R>(done: Done<R>, policy: OnFailure) -> Received<K, V, R> {
    let (id, position, res, acks) = done;
    let item = match res {
        Ok(r) => Received::Output(r),
        Err(kind) => Received::Failed(EventError::new(id, position, kind)),
    };
    settle(acks, &item, policy);
    item
}

/// Nothing is ready: hand downstream what the collectors kept, if anything, or wait.
pub(super) fn idle<K, V, R>(shared: &Shared<K, V>) -> Poll<Option<Received<K, V, R>>> {
    if shared.pending() > 0 {
        Poll::Ready(Some(Received::Collected(Box::new(shared.take()))))
    } else {
        Poll::Pending
    }
}

/// Upstream has ended and nothing is in flight: the last collected values, then the end.
pub(super) fn end<K, V, R>(
    shared: &Shared<K, V>,
    done: &mut bool,
) -> Poll<Option<Received<K, V, R>>> {
    if shared.pending() > 0 {
        return Poll::Ready(Some(Received::Collected(Box::new(shared.take()))));
    }
    *done = true;
    Poll::Ready(None)
}
