//! [`publish`]: a terminal stage that publishes a stream to JetStream and settles each
//! item's acknowledgements once the server confirmed its message.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_nats::header::{IntoHeaderName, IntoHeaderValue};
use async_nats::jetstream;
use async_nats::jetstream::context::{PublishAckFuture, PublishError};
use async_nats::jetstream::publish::PublishAck;
use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{Stream, StreamExt};
use pin_project_lite::pin_project;

use super::error::NatsError;
use crate::ack::{Acks, TakeAcks};
use crate::collect::{Summary, Tally};
use crate::units::Count;

/// One message to publish: subject, payload, and optional headers and message id.
#[derive(Debug, Clone)]
pub struct Publish {
    subject: Subject,
    payload: Bytes,
    headers: Option<HeaderMap>,
}

impl Publish {
    /// `payload` to `subject`.
    pub fn new(subject: impl Into<Subject>, payload: impl Into<Bytes>) -> Self {
        Publish {
            subject: subject.into(),
            payload: payload.into(),
            headers: None,
        }
    }

    /// Adds header `name: value`.
    pub fn header(mut self, name: impl IntoHeaderName, value: impl IntoHeaderValue) -> Self {
        self.headers
            .get_or_insert_with(HeaderMap::new)
            .insert(name, value);
        self
    }

    /// Sets the `Nats-Msg-Id` header: the stream drops a second message with the same id
    /// within its duplicate window, so a redelivered input that is published again is
    /// stored once (counted in [`Summary::duplicate_keys`]).
    pub fn message_id(self, id: impl AsRef<str>) -> Self {
        self.header("Nats-Msg-Id", id.as_ref())
    }

    /// The subject.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }
}

/// Publishes every item of `items` to JetStream as `to_message` makes it, with at most
/// `max_in_flight` (default 256) publishes awaiting the server's confirmation; resolves
/// to a [`Summary`] once the stream ended and every publish was confirmed.
///
/// Each item's acknowledgement obligations ([`TakeAcks`]: a JetStream event, a chunk of
/// them, a fired window with [`KeepAcks`](crate::operators::window::KeepAcks)) are taken
/// before `to_message` is called and settled only when the server confirmed the message:
/// acknowledged on success, rejected when the publish failed (counted in
/// [`Summary::errors`]). An item for which `to_message` returns `None` has nothing to
/// write: its obligations are acknowledged at once. Messages are sent in input order.
/// The summary counts the settled obligations in [`Summary::acks`], and messages the
/// stream dropped as duplicates of an earlier `Nats-Msg-Id` in
/// [`Summary::duplicate_keys`].
///
/// Keep `max_in_flight` at or below the context's `max_ack_inflight` (5000 by default),
/// which async-nats enforces over every publish of the context.
///
/// # Errors
///
/// [`NatsError::Config`] for a zero `max_in_flight`; with
/// [`stop_on_error`](Publisher::stop_on_error), the first [`NatsError::Publish`] (the
/// publishes still in flight are dropped and their items' obligations released).
///
/// # Cancel safety
///
/// Dropping the future releases the obligations of the items in flight: their sources
/// redeliver them.
pub fn publish<S, F>(context: jetstream::Context, items: S, to_message: F) -> Publisher<S, F>
where
    S: Stream,
    S::Item: TakeAcks,
    F: FnMut(S::Item) -> Option<Publish>,
{
    Publisher {
        items,
        to_message,
        context: Arc::new(context),
        max_in_flight: Count::from(256usize),
        limit: None,
        stop_on_error: false,
        sending: None,
        confirming: FuturesUnordered::new(),
        tally: Tally::default(),
        input_done: false,
        finished: false,
    }
}

type Sending = Pin<Box<dyn Future<Output = Result<PublishAckFuture, PublishError>> + Send>>;

/// A message handed to the client, with what its item owes.
struct InSend {
    fut: Sending,
    acks: Acks,
    subject: Subject,
}

/// A message awaiting the server's confirmation, with what its item owes.
struct Confirm {
    fut: Pin<Box<dyn Future<Output = Result<PublishAck, PublishError>> + Send>>,
    acks: Option<Acks>,
    subject: Subject,
}

impl Future for Confirm {
    type Output = (Result<PublishAck, PublishError>, Acks, Subject);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let res = std::task::ready!(self.fut.as_mut().poll(cx));
        let acks = self.acks.take().unwrap_or_default();
        Poll::Ready((res, acks, self.subject.clone()))
    }
}

pin_project! {
    /// The future returned by [`publish`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Publisher<S, F> {
        #[pin]
        items: S,
        to_message: F,
        context: Arc<jetstream::Context>,
        max_in_flight: Count,
        limit: Option<NonZeroUsize>,
        stop_on_error: bool,
        sending: Option<InSend>,
        confirming: FuturesUnordered<Confirm>,
        tally: Tally,
        input_done: bool,
        finished: bool,
    }
}

impl<S, F> Publisher<S, F> {
    /// At most `n` publishes awaiting the server's confirmation (default 256).
    pub fn max_in_flight(mut self, n: impl Into<Count>) -> Self {
        self.max_in_flight = n.into();
        self
    }

    /// Ends with the first failed publish instead of counting it and going on.
    pub fn stop_on_error(mut self) -> Self {
        self.stop_on_error = true;
        self
    }
}

/// Items handled in one poll before the sink yields to the executor.
const POLL_BUDGET: usize = 1024;

impl<S, F> Future for Publisher<S, F>
where
    S: Stream,
    S::Item: TakeAcks,
    F: FnMut(S::Item) -> Option<Publish>,
{
    type Output = Result<Summary, NatsError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.finished {
            return Poll::Pending;
        }
        let limit = match this.limit {
            Some(l) => l.get(),
            None => match this.max_in_flight.validate("JetStream publishes in flight") {
                Ok(l) => {
                    *this.limit = Some(l);
                    l.get()
                }
                Err(e) => {
                    *this.finished = true;
                    return Poll::Ready(Err(NatsError::Config(e)));
                }
            },
        };
        let stop_on_error = *this.stop_on_error;
        let context = this.context;
        let to_message = this.to_message;
        let sending = this.sending;
        let confirming = this.confirming;
        let input_done = this.input_done;
        let mut items = this.items;
        let step = this.tally.poll(|tally| {
            for _ in 0..POLL_BUDGET {
                let mut progressed = false;
                while let Poll::Ready(Some((res, acks, subject))) = confirming.poll_next_unpin(cx) {
                    progressed = true;
                    match res {
                        Ok(ack) => {
                            if ack.duplicate {
                                tally.duplicates = tally.duplicates.saturating_add(1);
                            }
                            acks.ack();
                            tally.out = tally.out.saturating_add(1);
                        }
                        Err(e) => {
                            if let Some(err) = failed(tally, acks, subject, e, stop_on_error) {
                                return Some(Err(err));
                            }
                        }
                    }
                }
                if let Some(send) = sending.as_mut() {
                    if let Poll::Ready(res) = send.fut.as_mut().poll(cx) {
                        progressed = true;
                        let InSend { acks, subject, .. } = sending.take().unwrap_or_else(empty);
                        match res {
                            Ok(confirm) => confirming.push(Confirm {
                                fut: confirm.into_future(),
                                acks: Some(acks),
                                subject,
                            }),
                            Err(e) => {
                                if let Some(err) = failed(tally, acks, subject, e, stop_on_error) {
                                    return Some(Err(err));
                                }
                            }
                        }
                    }
                }
                if sending.is_none() && !*input_done && confirming.len() < limit {
                    match items.as_mut().poll_next(cx) {
                        Poll::Ready(Some(mut item)) => {
                            progressed = true;
                            let acks = item.take_acks();
                            match to_message(item) {
                                Some(message) => *sending = Some(start(context, message, acks)),
                                None => {
                                    acks.ack();
                                    tally.out = tally.out.saturating_add(1);
                                }
                            }
                        }
                        Poll::Ready(None) => {
                            progressed = true;
                            *input_done = true;
                        }
                        Poll::Pending => {}
                    }
                }
                if *input_done && sending.is_none() && confirming.is_empty() {
                    return Some(Ok(()));
                }
                if !progressed {
                    return None;
                }
            }
            // Budget spent: let other tasks run, then go on.
            cx.waker().wake_by_ref();
            None
        });
        match step {
            None => Poll::Pending,
            Some(res) => {
                *this.finished = true;
                Poll::Ready(res.map(|()| this.tally.finish()))
            }
        }
    }
}

/// Hands `message` to the client (the server's confirmation is awaited separately).
fn start(context: &Arc<jetstream::Context>, message: Publish, acks: Acks) -> InSend {
    let Publish {
        subject,
        payload,
        headers,
    } = message;
    let mut publish = jetstream::message::PublishMessage::build().payload(payload);
    if let Some(headers) = headers {
        publish = publish.headers(headers);
    }
    let context = context.clone();
    let to = subject.clone();
    InSend {
        fut: Box::pin(async move { context.send_publish(to, publish).await }),
        acks,
        subject,
    }
}

/// Rejects a failed publish's obligations and counts it; the error when the sink stops.
fn failed(
    tally: &mut Tally,
    acks: Acks,
    subject: Subject,
    e: PublishError,
    stop: bool,
) -> Option<NatsError> {
    let err = NatsError::Publish {
        subject: subject.to_string(),
        source: Box::new(e),
    };
    acks.reject(&err);
    tally.errors = tally.errors.saturating_add(1);
    if stop {
        return Some(err);
    }
    tracing::warn!(error = %err, "JetStream publish failed; its inputs were rejected");
    None
}

/// Never called: `sending` was checked to be `Some` just before.
#[cold]
fn empty() -> InSend {
    InSend {
        fut: Box::pin(async {
            Err(PublishError::new(
                jetstream::context::PublishErrorKind::Other,
            ))
        }),
        acks: Acks::none(),
        subject: Subject::from_static(""),
    }
}

impl<S: fmt::Debug, F> fmt::Debug for Publisher<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publisher")
            .field("items", &self.items)
            .field("max_in_flight", &self.max_in_flight)
            .field("in_flight", &self.confirming.len())
            .field("stop_on_error", &self.stop_on_error)
            .finish_non_exhaustive()
    }
}
