//! [`KafkaStream`]: the consumer-group source stream: hands out messages with their
//! acknowledgement obligations, commits what acknowledgements allow, pauses partitions at
//! their in-flight bound and reports errors in order.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use rdkafka::consumer::{CommitMode, Consumer as _};
use rdkafka::topic_partition_list::TopicPartitionList;
use tokio::time::{Instant, Sleep};

use super::assignment::{Assignment, Fetched, Ready};
use super::config::KafkaSourceBuilder;
use super::context::{GroupContext, describe, offsets_list};
use super::dead_letter::DeadLetters;
use super::error::KafkaError;
use super::handle::KafkaSourceHandle;
use super::message::KafkaMessage;
use super::pump::{Consumer, Pump, Shared};
use super::signal::Signal;
use crate::ack::{AckSink, Acks};
use crate::stream::source::{LocatedSource, located};
use crate::stream::{Located, SourceError, SourceItem};
use crate::task::timing::after;

/// The stream of a Kafka consumer-group source, made by
/// [`KafkaSourceBuilder::build`](super::KafkaSourceBuilder::build) and wrapped in a
/// [`LocatedSource`] for [`sender(..)`](crate::stream::EmittingTaskBuilder::sender).
#[must_use = "streams do nothing unless polled"]
pub struct KafkaStream {
    shared: Arc<Shared>,
    sink: Arc<dyn AckSink>,
    pump: Option<Pump>,
    fetched: Vec<Fetched>,
    ready: VecDeque<Ready>,
    timer: Option<Pin<Box<Sleep>>>,
    last_commit: Instant,
    last_message: Instant,
    done: bool,
}

impl std::fmt::Debug for KafkaStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaStream")
            .field("ready", &self.ready.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Creates the consumer, subscribes it and returns the source and its handle.
pub(crate) fn start(
    builder: &KafkaSourceBuilder,
) -> Result<(LocatedSource<KafkaStream>, KafkaSourceHandle), KafkaError> {
    let settings = builder.settings()?;
    // rdkafka's stream consumer spawns its wake-up timer on the current runtime.
    tokio::runtime::Handle::try_current().map_err(|_| KafkaError::NoRuntime)?;
    let signal = Arc::new(Signal::default());
    let dead_letters = match &settings.on_reject {
        super::OnReject::DeadLetter(topic) => Some(DeadLetters::new(
            &builder.dead_letter_config(),
            topic.clone(),
            signal.clone(),
        )?),
        _ => None,
    };
    let assignment = Arc::new(Assignment::new(settings, signal, dead_letters));
    let consumer: Consumer = builder
        .consumer_config()
        .create_with_context(GroupContext {
            assignment: assignment.clone(),
        })
        .map_err(|error| KafkaError::Client {
            client: "consumer",
            error,
        })?;
    let topics: Vec<&str> = builder.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|error| KafkaError::Subscribe {
            topics: topics.join(", "),
            error,
        })?;
    let shared = Arc::new(Shared::new(consumer, assignment));
    let name = topics.join(",");
    let stream = KafkaStream::new(shared.clone());
    Ok((located(stream).name(name), KafkaSourceHandle::new(shared)))
}

impl KafkaStream {
    fn new(shared: Arc<Shared>) -> Self {
        let batch = shared.assignment.settings.batch;
        let sink: Arc<dyn AckSink> = shared.assignment.clone();
        let now = Instant::now();
        KafkaStream {
            pump: Some(Pump::new(shared.clone(), batch)),
            shared,
            sink,
            fetched: Vec::with_capacity(batch),
            ready: VecDeque::with_capacity(batch),
            timer: None,
            last_commit: now,
            last_message: now,
            done: false,
        }
    }

    fn assignment(&self) -> &Assignment {
        &self.shared.assignment
    }

    /// Sends an asynchronous commit of the offsets that moved.
    fn commit(&mut self) {
        self.last_commit = Instant::now();
        let Some(consumer) = self.shared.consumer() else {
            return;
        };
        let commits = self.shared.assignment.take_commits(false);
        if commits.is_empty() {
            return;
        }
        if let Err(error) = consumer.commit(&offsets_list(&commits), CommitMode::Async) {
            tracing::warn!(offsets = %describe(&commits), %error, "offset commit failed");
            self.assignment()
                .commit_failed(commits.iter().map(|(t, p, _)| (&**t, *p)));
        }
    }

    /// Pauses (or resumes) `partitions`.
    fn pause(&self, partitions: &[(Arc<str>, i32)], resume: bool) {
        let Some(consumer) = self.shared.consumer() else {
            return;
        };
        if partitions.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            list.add_partition(topic, *partition);
        }
        let result = if resume {
            consumer.resume(&list)
        } else {
            consumer.pause(&list)
        };
        if let Err(error) = result {
            // A partition revoked in between: nothing to pause any more.
            tracing::debug!(%error, resume, "pause/resume skipped");
        }
    }

    /// The source was signalled: stop, resume drained partitions, stop rejected ones,
    /// commit if enough acknowledgements came in; an error to report comes out.
    fn attend(&mut self) -> Option<KafkaError> {
        if self.shared.assignment.signal.stopped() {
            self.finish();
            return None;
        }
        let resume = self.assignment().to_resume();
        self.pause(&resume, true);
        let stop = self.assignment().to_stop();
        self.pause(&stop, false);
        if self.assignment().commit_due() {
            self.commit();
        }
        let error = self.assignment().pop_error();
        if error.is_some() {
            // Look again on the next poll: there may be more.
            self.shared.assignment.signal.raise();
        }
        error
    }

    /// Ends the stream: commits what is committable and lets go of the consumer (the
    /// handle's [`close`](KafkaSourceHandle::close) commits synchronously and leaves the
    /// group). Deliveries registered but not handed out stay uncommitted.
    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.commit();
        self.pump = None;
        self.ready.clear();
        self.timer = None;
    }

    fn refill(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let Some(pump) = self.pump.as_mut() else {
            return Poll::Ready(false);
        };
        match pump.poll_batch(cx, &mut self.fetched) {
            Poll::Ready(true) => {
                let to_pause = self
                    .shared
                    .assignment
                    .register(self.fetched.drain(..), &mut self.ready);
                self.pause(&to_pause, false);
                let now = Instant::now();
                self.last_message = now;
                let settings = &self.shared.assignment.settings;
                if now >= after(self.last_commit, settings.commit_interval)
                    && self.assignment().dirty()
                {
                    self.commit();
                }
                Poll::Ready(true)
            }
            other => other,
        }
    }

    /// Nothing to hand out: commit on time, end on idle, arm the timer for whichever
    /// comes first. `Ready` when the stream ended or the timer already passed.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let now = Instant::now();
        let settings = &self.shared.assignment.settings;
        let (interval, idle) = (settings.commit_interval, settings.idle_timeout);
        if let Some(idle) = idle
            && now >= after(self.last_message, idle)
        {
            self.finish();
            return Poll::Ready(());
        }
        let mut deadline = idle.map(|idle| after(self.last_message, idle));
        if self.assignment().dirty() {
            if now >= after(self.last_commit, interval) {
                self.commit();
            } else {
                let at = after(self.last_commit, interval);
                deadline = Some(deadline.map_or(at, |d| d.min(at)));
            }
        }
        let Some(deadline) = deadline else {
            self.timer = None;
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().poll(cx)
    }
}

/// A Kafka error as a source item: fatal ones end the stream.
fn located_error(error: KafkaError) -> Located<SourceError> {
    let fatal = error.is_fatal();
    let error: Box<KafkaError> = Box::new(error);
    Located::bare(if fatal {
        SourceError::SenderFailed(error)
    } else {
        SourceError::Item(error)
    })
}

impl Stream for KafkaStream {
    type Item = SourceItem<KafkaMessage>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if this.shared.assignment.signal.take()
                && let Some(error) = this.attend()
            {
                return Poll::Ready(Some(Err(located_error(error))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(ready) = this.ready.pop_front() {
                return Poll::Ready(Some(match ready {
                    Ready::Message {
                        message,
                        slot,
                        offset,
                    } => {
                        let acks =
                            Acks::new(this.sink.clone(), slot, offset..offset.saturating_add(1));
                        Ok(Located::bare(message).with_acks(acks))
                    }
                    Ready::Error(error) => {
                        if error.is_fatal() {
                            this.finish();
                        }
                        Err(located_error(error))
                    }
                }));
            }
            match this.refill(cx) {
                Poll::Ready(true) => continue,
                Poll::Ready(false) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Poll::Pending => {}
            }
            // Register before looking at the signal a last time: no raise is lost.
            this.shared.assignment.signal.register(cx.waker());
            if this.shared.assignment.signal.take() {
                if let Some(error) = this.attend() {
                    return Poll::Ready(Some(Err(located_error(error))));
                }
                continue;
            }
            match this.wait(cx) {
                Poll::Ready(()) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
