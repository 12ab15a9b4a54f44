//! [`JetStreamSource`]: a durable pull consumer as a source of events that owe the server
//! their acknowledgement; its stream and its [`JetStreamHandle`].

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::PullConsumer;
use futures::Stream;
use futures::stream::FusedStream;
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::config::JetStreamSourceBuilder;
use super::delivery::Delivery;
use super::error::NatsError;
use super::fetch::{Fetched, Fetcher};
use super::stats::JetStreamStats;
use super::tracker::{Cmd, Counters, InFlight, Names, Tracker};
use crate::ack::{AckSink, Acks, Outcome};
use crate::error::{BoxError, panic_message};
use crate::stream::SourceError;
use crate::stream::source::{Chunked, IntoSource, Located, SourceContext, SourceItem, marker};
use crate::units::Count;

/// What a source needs to start pulling: made by the builder.
pub(super) struct Parts {
    pub(super) consumer: PullConsumer,
    pub(super) client: async_nats::Client,
    pub(super) names: Arc<Names>,
    pub(super) tracker: Arc<Tracker>,
    pub(super) cmds: mpsc::UnboundedSender<Cmd>,
    pub(super) entries: Arc<InFlight>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) counters: Arc<Counters>,
    pub(super) capacity: usize,
    pub(super) batch: usize,
    pub(super) fetch_wait: Duration,
    pub(super) idle: Option<Duration>,
    pub(super) stop: CancellationToken,
}

/// Turns a delivery into an event payload, or gives it back with the reason it failed.
type MapFn<T> = dyn Fn(Delivery) -> Result<T, Box<(Delivery, BoxError)>> + Send + Sync;

/// A NATS JetStream durable pull consumer as a source: give it to
/// [`sender(..)`](crate::stream::EmittingTaskBuilder::sender); see the
/// [module docs](super) for the guarantee.
///
/// Its events carry a [`Delivery`] (or what [`map`](Self::map) made of it) and owe the
/// server a verdict: the receiver's `Ok` (or a sink's confirmed write) sends `+ACK`, a
/// failure `-NAK` (after [`nak_delay`](JetStreamSourceBuilder::nak_delay)), or `+TERM` at
/// the delivery limit.
#[must_use = "a source does nothing until given to `sender(..)`"]
pub struct JetStreamSource<T> {
    parts: Parts,
    map: Arc<MapFn<T>>,
}

impl JetStreamSource<Delivery> {
    /// The settings of a source reading stream `stream` through the durable pull
    /// consumer `durable` (looked up, or created with explicit acks).
    pub fn builder(
        context: jetstream::Context,
        stream: impl Into<String>,
        durable: impl Into<String>,
    ) -> JetStreamSourceBuilder {
        JetStreamSourceBuilder::new(context, stream.into(), durable.into())
    }

    pub(super) fn from_parts(parts: Parts) -> Self {
        JetStreamSource {
            parts,
            map: Arc::new(Ok),
        }
    }

    /// Emits what `f` makes of each delivery. A delivery `f` fails on (an `Err`, or a
    /// panic) becomes a per-item [`SourceError::Item`] holding a [`NatsError::Map`] that
    /// names stream, consumer, subject and stream sequence, and the delivery is rejected
    /// (redelivered, or terminated at the delivery limit).
    pub fn map<U, E, F>(self, f: F) -> JetStreamSource<U>
    where
        F: Fn(&Delivery) -> Result<U, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        let map = move |d: Delivery| match catch_unwind(AssertUnwindSafe(|| f(&d))) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(Box::new((d, e.into()))),
            Err(payload) => {
                let message = format!("mapping panicked: {}", panic_message(payload.as_ref()));
                Err(Box::new((d, message.into())))
            }
        };
        JetStreamSource {
            parts: self.parts,
            map: Arc::new(map),
        }
    }
}

impl<T> JetStreamSource<T> {
    /// A handle that reads the live counters, stops pulling, and flushes the verdicts
    /// sent so far; it keeps the ack task running while it lives.
    pub fn handle(&self) -> JetStreamHandle {
        JetStreamHandle {
            tracker: self.parts.tracker.clone(),
            counters: self.parts.counters.clone(),
            stop: self.parts.stop.clone(),
            names: self.parts.names.clone(),
        }
    }

    /// Emits chunks of `size` deliveries (`Vec<T>` events); a chunk owes the server the
    /// verdicts of all its deliveries, sent when the chunk was handled.
    pub fn into_chunks(self, size: impl Into<Count>) -> Chunked<Self> {
        Chunked::new(self, size.into())
    }
}

impl<T> IntoSource<T, marker::Native> for JetStreamSource<T> {
    type Data = T;
    type Source = JetStreamStream<T>;

    fn name(&self) -> Option<Arc<str>> {
        Some(format!("{}/{}", self.parts.names.stream, self.parts.names.consumer).into())
    }

    fn into_source(self, _ctx: &SourceContext) -> JetStreamStream<T> {
        let Parts {
            consumer,
            client,
            names,
            tracker,
            cmds,
            entries,
            permits,
            counters,
            capacity,
            batch,
            fetch_wait,
            idle,
            stop,
        } = self.parts;
        // One slot per permit, plus the final error: the fetch task never waits on it.
        let (out, rx) = mpsc::channel(capacity.saturating_add(1));
        let fetcher = Fetcher {
            consumer,
            client,
            names: names.clone(),
            cmds,
            entries,
            out,
            permits,
            counters,
            batch,
            wait: fetch_wait,
            idle,
            stop,
            next_id: 0,
        };
        JetStreamStream {
            rx,
            start: Some(fetcher),
            task: None,
            sink: tracker,
            map: self.map,
            names,
            done: false,
        }
    }
}

impl<T> fmt::Debug for JetStreamSource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetStreamSource")
            .field("stream", &self.parts.names.stream)
            .field("consumer", &self.parts.names.consumer)
            .field("max_ack_pending", &self.parts.capacity)
            .field("batch", &self.parts.batch)
            .finish_non_exhaustive()
    }
}

/// The stream of a [`JetStreamSource`]: its fetch task runs while the stream lives and
/// is aborted when it is dropped; deliveries pulled but not yet emitted are then
/// released (`-NAK`).
#[must_use = "streams do nothing unless polled"]
pub struct JetStreamStream<T> {
    rx: mpsc::Receiver<Fetched>,
    start: Option<Fetcher>,
    task: Option<JoinHandle<()>>,
    sink: Arc<Tracker>,
    map: Arc<MapFn<T>>,
    names: Arc<Names>,
    done: bool,
}

impl<T> JetStreamStream<T> {
    fn item(&self, id: u64, delivery: Delivery) -> SourceItem<T> {
        let sink: Arc<dyn AckSink> = self.sink.clone();
        let acks = Acks::new(sink, 0, id..id.saturating_add(1));
        match (self.map)(delivery) {
            Ok(value) => Ok(Located::bare(value).with_acks(acks)),
            Err(failed) => {
                let (d, source) = *failed;
                let err = NatsError::Map {
                    stream: self.names.stream.clone(),
                    consumer: self.names.consumer.clone(),
                    subject: d.subject.to_string(),
                    stream_sequence: d.stream_sequence,
                    delivered: d.delivered,
                    source,
                };
                Err(Located::bare(SourceError::Item(Box::new(err))).with_acks(acks))
            }
        }
    }
}

impl<T> Stream for JetStreamStream<T> {
    type Item = SourceItem<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(fetcher) = self.start.take() {
            match Handle::try_current() {
                Ok(rt) => self.task = Some(rt.spawn(fetcher.run())),
                Err(_) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(Located::bare(SourceError::NoRuntime))));
                }
            }
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Fetched::Message(id, delivery))) => {
                Poll::Ready(Some(self.item(id, delivery)))
            }
            Poll::Ready(Some(Fetched::Failed(e))) => {
                self.done = true;
                let err = SourceError::SenderFailed(Box::new(e));
                Poll::Ready(Some(Err(Located::bare(err))))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
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

impl<T> FusedStream for JetStreamStream<T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T> Drop for JetStreamStream<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.rx.close();
        while let Ok(fetched) = self.rx.try_recv() {
            if let Fetched::Message(id, _) = fetched {
                self.sink
                    .settle(0, id..id.saturating_add(1), Outcome::Released);
            }
        }
    }
}

impl<T> fmt::Debug for JetStreamStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetStreamStream")
            .field("stream", &self.names.stream)
            .field("consumer", &self.names.consumer)
            .field("buffered", &self.rx.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// A handle on a [`JetStreamSource`]: live counters, stop, and flush of the verdicts.
///
/// Verdicts are sent by a task of the source, after the events were handled; call
/// [`flush`](Self::flush) at the end of a pipeline (before the process exits) so that the
/// last ones reached the server. The task keeps running while a handle, the source's
/// stream, or any event it emitted lives.
#[derive(Clone)]
pub struct JetStreamHandle {
    tracker: Arc<Tracker>,
    counters: Arc<Counters>,
    stop: CancellationToken,
    names: Arc<Names>,
}

impl JetStreamHandle {
    /// The counters now: delivered, acked, nak'ed, terminated, in flight.
    pub fn stats(&self) -> JetStreamStats {
        self.counters.snapshot()
    }

    /// Stops pulling: the stream ends once the pull request under way (at most
    /// [`fetch_wait`](JetStreamSourceBuilder::fetch_wait)) and the deliveries already
    /// pulled were emitted. Events in flight are still settled as usual.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Waits until every verdict settled before this call was sent and the server has
    /// received it (a NATS flush: the server answered a ping sent after them).
    ///
    /// # Errors
    ///
    /// [`NatsError::Ack`] when the connection is closed or the ack task is gone (the
    /// runtime is shutting down).
    pub async fn flush(&self) -> Result<(), NatsError> {
        let failed = |source: BoxError| NatsError::Ack {
            stream: self.names.stream.clone(),
            consumer: self.names.consumer.clone(),
            source,
        };
        let Some(answer) = self.tracker.flush() else {
            return Err(failed("the ack task has ended".into()));
        };
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(failed(e)),
            Err(_) => Err(failed("the ack task has ended".into())),
        }
    }
}

impl fmt::Debug for JetStreamHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetStreamHandle")
            .field("stream", &self.names.stream)
            .field("consumer", &self.names.consumer)
            .field("stats", &self.stats())
            .finish()
    }
}
