//! [`Receiver`]: processes events with bounded concurrency, pulling from upstream only
//! as fast as it completes.
//!
//! The stage's state is in `stage`; `serial` and `parallel` are its two ways of
//! working (one event inline, or up to `workers` on tokio tasks held in a `pool`);
//! `received` is what it yields and how a finished event settles its acknowledgement;
//! `blame` names the event a caught panic fails.

mod blame;
mod parallel;
mod pool;
mod received;
mod serial;
mod stage;
mod strategy;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;

pub use self::received::{IntoEvent, OnFailure, Received};
pub use self::stage::Receiver;
pub use self::strategy::ReceiverStrategy;
use crate::collect::collector::Collector;
use crate::error::BoxError;
use crate::stream::SenderEvent;

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
