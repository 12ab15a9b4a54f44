//! The fetch task: pulls batches from the durable consumer while the in-flight bound
//! allows, registers each delivery with the ack task and hands it to the source stream.
//!
//! A batch asks for no more messages than there are free permits (`max_ack_pending`
//! minus deliveries in flight), so the process never holds more un-acknowledged
//! deliveries than the bound; the ack task returns a permit once a delivery's verdict
//! was sent. Deliveries are registered the moment they arrive, so progress
//! acknowledgements cover them even while they wait for the pipeline to pull them.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use futures::StreamExt;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::delivery::Delivery;
use super::error::NatsError;
use super::tracker::{Cmd, Counters, Names, Verdict};
use crate::error::BoxError;

/// What the fetch task hands the source stream.
pub(super) enum Fetched {
    /// Delivery number `id`.
    Message(u64, Delivery),
    /// Fetching failed for good: the stream ends after this.
    Failed(NatsError),
}

/// Consecutive failed pull requests after which the source gives up.
const MAX_FAILURES: u32 = 10;

pub(super) struct Fetcher {
    pub(super) consumer: PullConsumer,
    pub(super) names: Arc<Names>,
    pub(super) cmds: mpsc::UnboundedSender<Cmd>,
    pub(super) out: mpsc::Sender<Fetched>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) counters: Arc<Counters>,
    pub(super) batch: usize,
    pub(super) wait: Duration,
    pub(super) idle: Option<Duration>,
    pub(super) stop: CancellationToken,
    pub(super) next_id: u64,
}

impl Fetcher {
    /// Pulls until stopped, idle for `idle`, the stream is dropped, or fetching failed
    /// `MAX_FAILURES` times in a row.
    pub(super) async fn run(mut self) {
        let mut failures = 0u32;
        let mut last_message = Instant::now();
        loop {
            let permits = self.permits.clone();
            let permit = tokio::select! {
                biased;
                _ = self.stop.cancelled() => return,
                _ = self.out.closed() => return,
                p = permits.acquire() => p,
            };
            let Ok(permit) = permit else { return };
            permit.forget();
            let mut asked = 1usize;
            while asked < self.batch {
                match self.permits.try_acquire() {
                    Ok(p) => {
                        p.forget();
                        asked = asked.saturating_add(1);
                    }
                    Err(_) => break,
                }
            }
            let (received, result) = self.fetch(asked).await;
            self.permits.add_permits(asked.saturating_sub(received));
            if received > 0 {
                last_message = Instant::now();
            }
            match result {
                Ok(()) => failures = 0,
                Err(Outcome::Closed) => return,
                Err(Outcome::Failed(e)) => {
                    // The server refuses pulls while the consumer's own max_ack_pending is
                    // reached (other processes hold deliveries): wait, this is not a failure.
                    let busy = e.to_string().contains("MaxAckPending");
                    if !busy {
                        failures = failures.saturating_add(1);
                    }
                    tracing::warn!(
                        stream = %self.names.stream,
                        consumer = %self.names.consumer,
                        error = %e,
                        failures,
                        "JetStream pull request failed"
                    );
                    if failures >= MAX_FAILURES {
                        let err = NatsError::Fetch {
                            stream: self.names.stream.clone(),
                            consumer: self.names.consumer.clone(),
                            source: e,
                        };
                        let _ = self.out.send(Fetched::Failed(err)).await;
                        return;
                    }
                    let backoff = Duration::from_millis(50u64 << failures.min(6));
                    tokio::select! {
                        _ = self.stop.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                }
            }
            if received == 0 && self.idle.is_some_and(|d| last_message.elapsed() >= d) {
                return;
            }
        }
    }

    /// One pull request for up to `n` messages, waiting at most `wait` for them.
    async fn fetch(&mut self, n: usize) -> (usize, Result<(), Outcome>) {
        let batch = self
            .consumer
            .batch()
            .max_messages(n)
            .expires(self.wait)
            .messages()
            .await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => return (0, Err(Outcome::Failed(Box::new(e)))),
        };
        let mut received = 0usize;
        while let Some(next) = batch.next().await {
            let message = match next {
                Ok(m) => m,
                Err(e) => return (received, Err(Outcome::Failed(e))),
            };
            let Some((delivery, reply)) = Delivery::from_message(message) else {
                tracing::warn!(
                    stream = %self.names.stream,
                    consumer = %self.names.consumer,
                    "ignored a message without a JetStream reply subject"
                );
                continue;
            };
            let id = self.next_id;
            self.next_id = id.saturating_add(1);
            // Registration and hand-over happen without an await between them: a
            // delivery is never registered without being handed over, or the reverse.
            let registered = self.cmds.send(Cmd::Delivered {
                id,
                reply,
                delivered: delivery.delivered,
            });
            if registered.is_err() {
                return (received, Err(Outcome::Closed));
            }
            self.counters.delivered_one();
            received = received.saturating_add(1);
            // The channel holds max_ack_pending items: with a permit per delivery in
            // flight, it is never full.
            match self.out.try_send(Fetched::Message(id, delivery)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(item)) => {
                    if self.out.send(item).await.is_err() {
                        self.release(id);
                        return (received, Err(Outcome::Closed));
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.release(id);
                    return (received, Err(Outcome::Closed));
                }
            }
        }
        (received, Ok(()))
    }

    /// Gives back delivery `id`, registered but not handed over (the stream is gone).
    fn release(&self, id: u64) {
        let _ = self.cmds.send(Cmd::Settle {
            range: id..id.saturating_add(1),
            verdict: Verdict::Release,
        });
    }
}

/// Why a pull request ended early.
enum Outcome {
    /// The source stream or the ack task is gone.
    Closed,
    /// The request failed.
    Failed(BoxError),
}
