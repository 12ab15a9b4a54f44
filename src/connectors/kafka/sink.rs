//! [`KafkaSink`] and its terminal future [`WriteKafka`]: writes a stream's items as
//! records and acknowledges the events behind each one only after the broker confirmed it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{Stream, StreamExt};
use pin_project_lite::pin_project;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use tokio::time::Sleep;

use super::error::KafkaError;
use super::record::KafkaRecord;
use crate::ack::{Acks, TakeAcks};
use crate::collect::{Summary, Tally};
use crate::error::ConfigError;
use crate::units::Count;

/// Items a sink pulls in one poll before it yields to the executor.
const POLL_BUDGET: usize = 1024;
/// Wait before retrying a record the producer's local queue had no room for, when none of
/// ours is in flight to make room.
const QUEUE_FULL_RETRY: Duration = Duration::from_millis(5);

/// Configures a [`KafkaSink`]; made by [`sink`](super::sink).
///
/// Defaults: at most 10 000 records in flight, `enable.idempotence=true` (so librdkafka
/// keeps each partition's order through retries), `linger.ms=5`.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct KafkaSinkBuilder {
    brokers: String,
    topic: String,
    max_in_flight: Count,
    settings: Vec<(String, String)>,
}

impl KafkaSinkBuilder {
    /// A producer writing to `topic` on the cluster at `brokers`.
    pub fn new(brokers: impl Into<String>, topic: impl Into<String>) -> Self {
        KafkaSinkBuilder {
            brokers: brokers.into(),
            topic: topic.into(),
            max_in_flight: Count::new(10_000, "records"),
            settings: Vec::new(),
        }
    }

    /// At most this many records sent and not yet confirmed; the sink pulls no more items
    /// until one is confirmed.
    pub fn max_in_flight(mut self, records: impl Into<Count>) -> Self {
        self.max_in_flight = records.into();
        self
    }

    /// Sets a librdkafka producer property (`compression.type`, `acks`, `linger.ms`...).
    /// Turning `enable.idempotence` off gives up per-key order when a send is retried,
    /// unless `max.in.flight.requests.per.connection=1`.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    /// Creates the producer.
    ///
    /// # Errors
    ///
    /// [`KafkaError::Config`] for an empty broker list or topic or a zero bound,
    /// [`KafkaError::Client`] when librdkafka rejects a property.
    pub fn build(self) -> Result<KafkaSink, KafkaError> {
        if self.brokers.trim().is_empty() || self.topic.trim().is_empty() {
            return Err(ConfigError::Invalid {
                setting: if self.topic.trim().is_empty() {
                    "topic"
                } else {
                    "brokers"
                },
                reason: "must not be empty".to_owned(),
            }
            .into());
        }
        let max_in_flight = self.max_in_flight.validate("max in flight")?.get();
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("enable.idempotence", "true")
            .set("linger.ms", "5");
        for (k, v) in &self.settings {
            config.set(k, v);
        }
        let producer: FutureProducer = config.create().map_err(|error| KafkaError::Client {
            client: "producer",
            error,
        })?;
        Ok(KafkaSink {
            producer,
            topic: Arc::from(self.topic),
            max_in_flight,
        })
    }
}

/// A Kafka producer for one topic, writing any stream whose items carry acknowledgement
/// obligations ([`TakeAcks`]): events, chunks, fired windows, [`Acked`](crate::ack::Acked)
/// values.
///
/// For each item the sink takes its obligation, encodes the item into a [`KafkaRecord`]
/// and sends it; when the broker confirms the write, the obligation is acknowledged (the
/// source may commit past those events), never before. At most `max_in_flight` records
/// are unconfirmed at once.
///
/// **Order.** Records with the same key go to the same partition, and the producer is
/// idempotent, so librdkafka keeps a partition's records in send order even when it
/// retries: a key's records are written in the order the stream yielded them.
///
/// Cheap to clone (clones share the producer).
#[derive(Clone)]
pub struct KafkaSink {
    producer: FutureProducer,
    topic: Arc<str>,
    max_in_flight: usize,
}

impl fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topic", &self.topic)
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// The topic written to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Writes every item of `stream` as the record `encode` makes of it; resolves once the
    /// stream ended and every record was confirmed, with a [`Summary`]: items out (written),
    /// errors (items `encode` refused, whose obligations are rejected), and the
    /// acknowledgements settled.
    ///
    /// # Errors
    ///
    /// [`KafkaError::Delivery`] as soon as a record cannot be written (the producer
    /// refused it, or the broker did not confirm it within `message.timeout.ms`): its
    /// events are rejected, the obligations of the records still in flight are released.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future releases the obligations of the records in flight: their
    /// events are consumed again (after a restart or rebalance), so nothing is lost.
    pub fn write<S, F, E>(&self, stream: S, encode: F) -> WriteKafka<S, F>
    where
        S: Stream,
        S::Item: TakeAcks,
        F: FnMut(S::Item) -> Result<KafkaRecord, E>,
        E: fmt::Display + Send + Sync,
    {
        WriteKafka {
            stream,
            encode,
            producer: self.producer.clone(),
            topic: self.topic.clone(),
            max_in_flight: self.max_in_flight,
            in_flight: FuturesUnordered::new(),
            blocked: None,
            retry: None,
            input_done: false,
            finished: false,
            tally: Tally::default(),
        }
    }
}

pin_project! {
    /// Future of [`KafkaSink::write`].
    #[must_use = "futures do nothing unless polled"]
    pub struct WriteKafka<S, F> {
        #[pin]
        stream: S,
        encode: F,
        producer: FutureProducer,
        topic: Arc<str>,
        max_in_flight: usize,
        in_flight: FuturesUnordered<InFlight>,
        blocked: Option<(KafkaRecord, Acks)>,
        retry: Option<Pin<Box<Sleep>>>,
        input_done: bool,
        finished: bool,
        tally: Tally,
    }
}

impl<S, F> fmt::Debug for WriteKafka<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteKafka")
            .field("topic", &self.topic)
            .field("in_flight", &self.in_flight.len())
            .field("input_done", &self.input_done)
            .finish_non_exhaustive()
    }
}

/// A sent record awaiting the broker's confirmation, with the obligations it settles.
struct InFlight {
    delivery: DeliveryFuture,
    acks: Option<Acks>,
}

type Confirmed = (Result<(), (RdKafkaError, Option<i32>)>, Acks);

impl Future for InFlight {
    type Output = Confirmed;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Confirmed> {
        let result = match Pin::new(&mut self.delivery).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(Ok(_))) => Ok(()),
            Poll::Ready(Ok(Err((error, message)))) => Err((error, Some(message.partition()))),
            Poll::Ready(Err(_)) => Err((RdKafkaError::Canceled, None)),
        };
        Poll::Ready((result, self.acks.take().unwrap_or_default()))
    }
}

/// Sends `record`: its delivery future, or the producer's refusal.
fn send(
    producer: &FutureProducer,
    topic: &str,
    record: &KafkaRecord,
) -> Result<DeliveryFuture, RdKafkaError> {
    let mut out: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic);
    if let Some(key) = record.key.as_deref() {
        out = out.key(key);
    }
    if let Some(payload) = record.payload.as_deref() {
        out = out.payload(payload);
    }
    if let Some(ts) = record.timestamp {
        out = out.timestamp(ts);
    }
    if let Some(p) = record.partition {
        out = out.partition(p);
    }
    if !record.headers.is_empty() {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for h in &record.headers {
            headers = headers.insert(Header {
                key: &h.key,
                value: h.value.as_deref(),
            });
        }
        out = out.headers(headers);
    }
    producer.send_result(out).map_err(|(error, _)| error)
}

fn queue_full(error: &RdKafkaError) -> bool {
    matches!(
        error,
        RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
    )
}

impl<S, F, E> Future for WriteKafka<S, F>
where
    S: Stream,
    S::Item: TakeAcks,
    F: FnMut(S::Item) -> Result<KafkaRecord, E>,
    E: fmt::Display + Send + Sync,
{
    type Output = Result<Summary, KafkaError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.finished {
            return Poll::Pending;
        }
        let mut stream = this.stream;
        let (encode, producer, topic) = (this.encode, &*this.producer, &**this.topic);
        let (in_flight, blocked, retry) = (this.in_flight, this.blocked, this.retry);
        let (input_done, max) = (this.input_done, *this.max_in_flight);
        let delivery_error = |error, partition| KafkaError::Delivery {
            topic: Arc::from(topic),
            partition,
            error,
        };
        let outcome = this.tally.poll(|tally| {
            let mut budget = POLL_BUDGET;
            loop {
                // Confirmations first: they make room and settle obligations.
                while let Poll::Ready(Some((result, acks))) = in_flight.poll_next_unpin(cx) {
                    match result {
                        Ok(()) => {
                            acks.ack();
                            tally.out = tally.out.saturating_add(1);
                        }
                        Err((error, partition)) => {
                            acks.reject(&error);
                            return Poll::Ready(Err(delivery_error(error, partition)));
                        }
                    }
                }
                if let Some((record, acks)) = blocked.take() {
                    match send(producer, topic, &record) {
                        Ok(delivery) => in_flight.push(InFlight {
                            delivery,
                            acks: Some(acks),
                        }),
                        Err(e) if queue_full(&e) => {
                            *blocked = Some((record, acks));
                            if in_flight.is_empty() {
                                let timer = retry.get_or_insert_with(|| {
                                    Box::pin(tokio::time::sleep(QUEUE_FULL_RETRY))
                                });
                                if timer.as_mut().poll(cx).is_ready() {
                                    *retry = None;
                                    cx.waker().wake_by_ref();
                                }
                            }
                            return Poll::Pending;
                        }
                        Err(error) => {
                            acks.reject(&error);
                            return Poll::Ready(Err(delivery_error(error, record.partition)));
                        }
                    }
                }
                if *input_done {
                    return if in_flight.is_empty() {
                        Poll::Ready(Ok(()))
                    } else {
                        Poll::Pending
                    };
                }
                if in_flight.len() >= max {
                    return Poll::Pending;
                }
                if budget == 0 {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                budget = budget.saturating_sub(1); // > 0: checked above
                match stream.as_mut().poll_next(cx) {
                    Poll::Ready(Some(mut item)) => {
                        let acks = item.take_acks();
                        match encode(item) {
                            Ok(record) => *blocked = Some((record, acks)),
                            Err(e) => {
                                acks.reject(&e);
                                tally.errors = tally.errors.saturating_add(1);
                            }
                        }
                    }
                    Poll::Ready(None) => *input_done = true,
                    Poll::Pending => return Poll::Pending,
                }
            }
        });
        match outcome {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                *this.finished = true;
                Poll::Ready(result.map(|()| this.tally.finish()))
            }
        }
    }
}
