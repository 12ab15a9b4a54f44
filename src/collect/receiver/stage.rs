//! [`Receiver`]: the stage's state, shared by its serial and parallel paths.

use std::fmt;
use std::pin::Pin;

use pin_project_lite::pin_project;

use super::pool::Pool;
use super::received::{Key, OnFailure, Received, settle};
use super::strategy::ReceiverStrategy;
use crate::ack::Acks;
use crate::collect::collector::Registered;
use crate::error::panic_message;
use crate::stream::{EventError, EventErrorKind, EventId};

/// Values kept by collectors are handed downstream once this many are waiting (and
/// whenever the receiver is idle or done).
pub(super) const DRAIN_AT: usize = 1024;

pin_project! {
    /// The stream returned by [`receiver`](crate::collect::ReceiverExt::receiver).
    #[doc(alias = "ReceiverTask")]
    #[doc(alias = "ReceiverBuilder")]
    #[must_use = "streams do nothing unless polled"]
    pub struct Receiver<S, F, Fut, K, V, R> {
        #[pin]
        pub(super) upstream: S,
        // Serial: the event in flight, polled inline.
        #[pin]
        pub(super) current: Option<Fut>,
        // The key of `current`, stored only when it is left pending: an event whose
        // future completes on its first poll (the common case) keeps it in registers.
        pub(super) key: Key,
        // The event whose work panicked, set while unwinding (see `Blame`).
        pub(super) blame: Option<Key>,
        // What the event being worked on owes its source (serial: while its work runs;
        // parallel: while the closure is called), so that `panicked` can reject it.
        pub(super) owed: Acks,
        pub(super) on_failure: OnFailure,
        pub(super) f: F,
        pub(super) shared: Registered<K, V>,
        pub(super) strategy: ReceiverStrategy,
        pub(super) pool: Pool<Fut, R>,
        pub(super) upstream_done: bool,
        pub(super) done: bool,
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
}

impl<S, F, Fut, K, V, R> Receiver<S, F, Fut, K, V, R> {
    /// A panic was caught: it fails the event blamed for it, or else ends the stage
    /// (upstream panicked).
    #[cold]
    #[inline(never)]
    pub(super) fn panicked(
        self: Pin<&mut Self>,
        payload: &(dyn std::any::Any + Send),
    ) -> Received<K, V, R> {
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

impl<S: fmt::Debug, F, Fut, K, V, R> fmt::Debug for Receiver<S, F, Fut, K, V, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("upstream", &self.upstream)
            .field("strategy", &self.strategy)
            .field(
                "in_flight",
                &usize::from(self.current.is_some()).saturating_add(self.pool.len()),
            )
            .field("upstream_done", &self.upstream_done)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
