//! A parallel stage's events in flight: each one's [`Work`] (its future, panics caught)
//! in a [`Pool`] of tokio tasks, or of local futures without a runtime.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::FuturesUnordered;
use pin_project_lite::pin_project;
use tokio::runtime::Handle;
use tokio::task::JoinSet;

use super::received::{Done, Key, Received};
use crate::ack::Acks;
use crate::error::BoxError;
use crate::error::panic_message;
use crate::stream::{EventError, EventErrorKind, EventId, Position};

pin_project! {
    /// One event being processed: the receiver's future, panics caught.
    pub(super) struct Work<Fut> {
        pub(super) id: EventId,
        pub(super) position: Option<Position>,
        pub(super) acks: Acks,
        #[pin]
        pub(super) fut: futures::future::CatchUnwind<AssertUnwindSafe<Fut>>,
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

pub(super) enum Pool<Fut, R> {
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
pub(super) fn lost<K, V, R>(error: tokio::task::JoinError, key: Option<Key>) -> Received<K, V, R> {
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

impl<Fut, R> Pool<Fut, R> {
    /// Events in flight.
    #[inline]
    pub(super) fn len(&self) -> usize {
        match self {
            Pool::Idle => 0,
            Pool::Spawned(set, _, _) => set.len(),
            Pool::Local(set) => set.len(),
        }
    }
}
