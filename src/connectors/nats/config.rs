//! [`JetStreamSourceBuilder`]: the settings of a JetStream source, checked before anything
//! is sent, and the lookup (or creation) of its durable consumer.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::{AckPolicy as ServerAckPolicy, PullConsumer, pull};
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::delivery::Delivery;
use super::error::NatsError;
use super::source::{JetStreamSource, Parts};
use super::tracker::{AckPolicy, AckTask, Counters, InFlight, Names, Tracker};
use crate::error::ConfigError;
use crate::units::Count;

/// The server's `ack_wait` when the consumer does not set one.
const SERVER_ACK_WAIT: Duration = Duration::from_secs(30);

/// When progress acknowledgements are sent.
#[derive(Debug, Clone, Copy)]
enum Progress {
    /// Every half `ack_wait` of the consumer.
    Auto,
    Every(Duration),
    Off,
}

/// Settings of a [`JetStreamSource`]; made by [`JetStreamSource::builder`], finished by
/// [`build`](Self::build).
#[must_use = "a builder does nothing until `build().await`"]
#[derive(Debug, Clone)]
pub struct JetStreamSourceBuilder {
    context: jetstream::Context,
    stream: String,
    durable: String,
    batch: Count,
    max_ack_pending: Count,
    nak_delay: Duration,
    max_deliver: Option<u64>,
    ack_wait: Option<Duration>,
    progress: Progress,
    fetch_wait: Duration,
    idle_timeout: Option<Duration>,
    filter_subject: Option<String>,
    drain_timeout: Duration,
}

impl JetStreamSourceBuilder {
    pub(super) fn new(context: jetstream::Context, stream: String, durable: String) -> Self {
        JetStreamSourceBuilder {
            context,
            stream,
            durable,
            batch: Count::from(256usize),
            max_ack_pending: Count::from(1024usize),
            nak_delay: Duration::ZERO,
            max_deliver: None,
            ack_wait: None,
            progress: Progress::Auto,
            fetch_wait: Duration::from_secs(1),
            idle_timeout: None,
            filter_subject: None,
            drain_timeout: Duration::from_secs(5),
        }
    }

    /// The most messages one pull request asks for (default 256); a request never asks
    /// for more than the in-flight bound leaves room for.
    pub fn batch(mut self, n: impl Into<Count>) -> Self {
        self.batch = n.into();
        self
    }

    /// The most deliveries this process holds un-acknowledged at once (default 1024): no
    /// message is pulled while that many are in flight. Events held by an open window
    /// count until the window's output was handled, so this also bounds how many events
    /// open windows can hold.
    ///
    /// When this source creates the consumer, this is also the consumer's
    /// `max_ack_pending` on the server (the bound over every process sharing it); an
    /// existing consumer keeps its own (the server's default is 1000), and a process
    /// whose pull the server refuses for that reason waits and pulls again.
    ///
    /// Open event-time windows pin their events un-acknowledged until they fire: the
    /// bound must hold what the open windows of every key contain, or the source stops
    /// pulling before the watermark can close a window.
    pub fn max_ack_pending(mut self, n: impl Into<Count>) -> Self {
        self.max_ack_pending = n.into();
        self
    }

    /// How long the server waits before redelivering a rejected (or released) delivery
    /// (`-NAK {"delay": ..}`; default zero: at once).
    pub fn nak_delay(mut self, delay: Duration) -> Self {
        self.nak_delay = delay;
        self
    }

    /// Deliveries rejected at this delivery count are poison: they are terminated
    /// (`+TERM`) instead of redelivered. Also the consumer's `max_deliver` when this source
    /// creates it. Default: the existing consumer's `max_deliver`, or no limit.
    pub fn max_deliver(mut self, n: u64) -> Self {
        self.max_deliver = Some(n);
        self
    }

    /// The consumer's `ack_wait` when this source creates it (default: the server's, 30
    /// s): how long the server waits for a verdict before redelivering.
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = Some(wait);
        self
    }

    /// Sends a progress acknowledgement (`+WPI`, "working on it") for every delivery
    /// still in flight `every` after it arrived, and again each `every`, so that slow
    /// events and events held by open windows are not redelivered. Default: half the
    /// consumer's `ack_wait`.
    pub fn progress_every(mut self, every: Duration) -> Self {
        self.progress = Progress::Every(every);
        self
    }

    /// Sends no progress acknowledgements: a delivery not settled within `ack_wait` is
    /// redelivered (to this or another process) while it is still being handled here.
    pub fn no_progress_acks(mut self) -> Self {
        self.progress = Progress::Off;
        self
    }

    /// How long one pull request waits for messages (default 1 s). Also how long
    /// [`JetStreamHandle::stop`](super::JetStreamHandle::stop) may take.
    pub fn fetch_wait(mut self, wait: Duration) -> Self {
        self.fetch_wait = wait;
        self
    }

    /// Ends the stream once no message arrived for `idle` (default: never; a durable
    /// consumer is an endless source). Handy for batch jobs and tests that drain a stream.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = Some(idle);
        self
    }

    /// The consumer's filter subject when this source creates it.
    pub fn filter_subject(mut self, subject: impl Into<String>) -> Self {
        self.filter_subject = Some(subject.into());
        self
    }

    /// After the source, its handles and every event it emitted are gone, how long its
    /// ack task may take to send the verdicts still queued (default 5 s). Call
    /// [`JetStreamHandle::flush`](super::JetStreamHandle::flush) to wait for them instead.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Looks up the stream, looks up its durable consumer or creates it (a pull consumer
    /// with explicit acks and the settings above), and starts the task that sends
    /// acknowledgements. Nothing is pulled until the source's stream is polled.
    ///
    /// # Errors
    ///
    /// [`NatsError::Config`] for an invalid setting (a zero batch, bound, wait or delivery
    /// limit), [`NatsError::Stream`] when the stream does not exist,
    /// [`NatsError::Consumer`] when the consumer cannot be read or created or does not
    /// take explicit acks, [`NatsError::Ack`] without a tokio runtime.
    pub async fn build(self) -> Result<JetStreamSource<Delivery>, NatsError> {
        let bound = self.max_ack_pending.validate("JetStream max_ack_pending")?;
        // A request never asks for more than the bound.
        let batch = self
            .batch
            .validate("JetStream batch")?
            .get()
            .min(bound.get());
        nonzero(self.fetch_wait, "JetStream fetch wait")?;
        if let Some(wait) = self.ack_wait {
            nonzero(wait, "JetStream ack_wait")?;
        }
        if let Progress::Every(every) = self.progress {
            nonzero(every, "JetStream progress interval")?;
        }
        if self.max_deliver == Some(0) {
            return Err(ConfigError::Zero {
                setting: "JetStream max_deliver",
            }
            .into());
        }
        let names = Arc::new(Names {
            stream: self.stream.clone(),
            consumer: self.durable.clone(),
        });
        let consumer = self.consumer(&names, bound.get()).await?;
        let config = &consumer.cached_info().config;
        if config.ack_policy != ServerAckPolicy::Explicit {
            return Err(NatsError::Consumer {
                stream: names.stream.clone(),
                consumer: names.consumer.clone(),
                source: format!("ack policy is {:?}, not explicit", config.ack_policy).into(),
            });
        }
        let ack_wait = if config.ack_wait.is_zero() {
            SERVER_ACK_WAIT
        } else {
            config.ack_wait
        };
        let max_deliver = self
            .max_deliver
            .or_else(|| u64::try_from(config.max_deliver).ok().filter(|&m| m > 0));
        let progress_every = match self.progress {
            Progress::Auto => Some(ack_wait.checked_div(2).unwrap_or(ack_wait)),
            Progress::Every(d) => Some(d),
            Progress::Off => None,
        };
        let runtime = Handle::try_current().map_err(|e| NatsError::Ack {
            stream: names.stream.clone(),
            consumer: names.consumer.clone(),
            source: Box::new(e),
        })?;
        let (cmds, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let entries = Arc::new(InFlight::default());
        let permits = Arc::new(Semaphore::new(bound.get()));
        let task = AckTask {
            client: self.context.client(),
            rx,
            entries: entries.clone(),
            counters: counters.clone(),
            permits: permits.clone(),
            policy: AckPolicy {
                nak_delay: (!self.nak_delay.is_zero()).then_some(self.nak_delay),
                max_deliver,
                progress_every,
                drain_timeout: self.drain_timeout,
            },
            names: names.clone(),
        };
        // The task ends once the tracker is gone (and what it queued was sent).
        drop(runtime.spawn(task.run()));
        let parts = Parts {
            consumer,
            client: self.context.client(),
            names,
            tracker: Arc::new(Tracker::new(cmds.clone())),
            cmds,
            entries,
            permits,
            counters,
            capacity: bound.get(),
            batch,
            fetch_wait: self.fetch_wait,
            idle: self.idle_timeout,
            stop: CancellationToken::new(),
        };
        Ok(JetStreamSource::from_parts(parts))
    }

    async fn consumer(&self, names: &Names, bound: usize) -> Result<PullConsumer, NatsError> {
        let stream =
            self.context
                .get_stream(&self.stream)
                .await
                .map_err(|e| NatsError::Stream {
                    stream: names.stream.clone(),
                    source: Box::new(e),
                })?;
        let config = pull::Config {
            durable_name: Some(self.durable.clone()),
            ack_policy: ServerAckPolicy::Explicit,
            ack_wait: self.ack_wait.unwrap_or_default(),
            max_deliver: self
                .max_deliver
                .map_or(0, |m| i64::try_from(m).unwrap_or(i64::MAX)),
            filter_subject: self.filter_subject.clone().unwrap_or_default(),
            max_ack_pending: i64::try_from(bound).unwrap_or(i64::MAX),
            ..Default::default()
        };
        stream
            .get_or_create_consumer(&self.durable, config)
            .await
            .map_err(|e| NatsError::Consumer {
                stream: names.stream.clone(),
                consumer: names.consumer.clone(),
                source: Box::new(e),
            })
    }
}

fn nonzero(d: Duration, setting: &'static str) -> Result<(), ConfigError> {
    if d.is_zero() {
        Err(ConfigError::ZeroDuration { setting })
    } else {
        Ok(())
    }
}
