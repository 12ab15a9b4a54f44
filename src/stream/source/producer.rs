//! An async closure handed a [`Sender`] as a source.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::FusedStream;
use pin_project_lite::pin_project;
use tokio::sync::mpsc;

use super::{IntoSource, Located, SourceContext, SourceItem, marker};
use crate::error::BoxError;
use crate::error::panic_message;
use crate::stream::error::SourceError;

/// The producer side of an emitting task: `send(x).await` waits while the buffer is full.
///
/// Handed to the closure given to [`sender(..)`](crate::stream::EmittingTaskBuilder::sender).
/// The closure's future is polled by the stream itself, as the consumer pulls, so it
/// never runs ahead of the buffer bound and stops when the stream is dropped. Clones can
/// be moved into other tasks; the stream ends once every clone is dropped and the
/// closure has returned.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use sweet_async::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let events = AsyncTask::emits::<u64>()
///     .buffer(16.items())
///     .sender(|tx: sweet_async::stream::Sender<u64>| async move {
///         for i in 0..100 {
///             if tx.send(i).await.is_err() {
///                 break; // the consumer is gone: stop producing
///             }
///         }
///     });
/// let total: u64 = events.map(|e| e.unwrap().into_data()).fold(0, |a, x| async move { a + x }).await;
/// assert_eq!(total, 4950);
/// # }
/// ```
pub struct Sender<T> {
    tx: mpsc::Sender<Result<T, BoxError>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.tx.is_closed())
            .field("free_slots", &self.tx.capacity())
            .finish()
    }
}

/// The consumer is gone: the item could not be sent and is handed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the emitting stream was dropped: nobody receives this item")
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

impl<T> Sender<T> {
    /// Sends an item, waiting while the buffer is full.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the item when the stream was dropped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, the item was not sent.
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        match self.tx.reserve().await {
            Ok(permit) => {
                permit.send(Ok(item));
                Ok(())
            }
            Err(_) => Err(SendError(item)),
        }
    }

    /// Sends a per-item error, keyed like an item; the error policy decides what happens.
    ///
    /// # Errors
    ///
    /// [`SendError`] with `()` when the stream was dropped.
    pub async fn send_error(&self, error: impl Into<BoxError>) -> Result<(), SendError<()>> {
        self.tx
            .send(Err(error.into()))
            .await
            .map_err(|_| SendError(()))
    }

    /// `true` once the stream was dropped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// What a producer closure may return: `()` or `Result<(), E>`.
pub trait ProducerOutput {
    /// The producer's failure, if any.
    ///
    /// # Errors
    ///
    /// The error the closure returned.
    fn into_result(self) -> Result<(), BoxError>;
}

impl ProducerOutput for () {
    fn into_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError>> ProducerOutput for Result<(), E> {
    fn into_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

impl<T, F, Fut> IntoSource<T, marker::Producer> for F
where
    F: FnOnce(Sender<T>) -> Fut,
    Fut: Future,
    Fut::Output: ProducerOutput,
{
    type Data = T;
    type Source = ProducerSource<Fut, T>;

    fn into_source(self, ctx: &SourceContext) -> Self::Source {
        let (tx, rx) = mpsc::channel(ctx.capacity.get());
        let fut = self(Sender { tx });
        ProducerSource {
            fut: Some(fut),
            rx,
            failure: None,
            done: false,
        }
    }
}

pin_project! {
    /// The stream of a producer closure: polls the closure's future, then the buffer.
    #[must_use = "streams do nothing unless polled"]
    pub struct ProducerSource<Fut, T> {
        #[pin]
        fut: Option<Fut>,
        rx: mpsc::Receiver<Result<T, BoxError>>,
        failure: Option<SourceError>,
        done: bool,
    }
}

impl<Fut, T> Stream for ProducerSource<Fut, T>
where
    Fut: Future,
    Fut::Output: ProducerOutput,
{
    type Item = SourceItem<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if let Some(fut) = this.fut.as_mut().as_pin_mut() {
            match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                Ok(Poll::Pending) => {}
                Ok(Poll::Ready(out)) => {
                    this.fut.set(None);
                    if let Err(e) = out.into_result() {
                        *this.failure = Some(SourceError::SenderFailed(e));
                    }
                }
                Err(payload) => {
                    *this.failure = Some(SourceError::Panicked {
                        message: panic_message(payload.as_ref()),
                    });
                    // Dropping the future drops its `Sender`: the buffer drains, then ends.
                    let _ = catch_unwind(AssertUnwindSafe(|| this.fut.set(None)));
                }
            }
        }
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(v))) => Poll::Ready(Some(Ok(Located::bare(v)))),
            Poll::Ready(Some(Err(e))) => {
                Poll::Ready(Some(Err(Located::bare(SourceError::Item(e)))))
            }
            Poll::Ready(None) => {
                *this.done = true;
                Poll::Ready(this.failure.take().map(|f| Err(Located::bare(f))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (self.rx.len(), None)
        }
    }
}

impl<Fut, T> FusedStream for ProducerSource<Fut, T>
where
    Fut: Future,
    Fut::Output: ProducerOutput,
{
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<Fut, T> fmt::Debug for ProducerSource<Fut, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProducerSource")
            .field("producer_running", &self.fut.is_some())
            .field("buffered", &self.rx.len())
            .field("done", &self.done)
            .finish()
    }
}
