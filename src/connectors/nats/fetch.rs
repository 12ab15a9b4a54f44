//! The fetch task: keeps pull requests under way on one inbox while the in-flight bound
//! allows, registers each delivery with the ack task and hands it to the source stream.
//!
//! Every message a pull request asks for takes a permit first (`max_ack_pending` permits
//! in all), so deliveries requested, arrived and not yet settled never exceed the bound;
//! the ack task returns a permit once a delivery's verdict was sent, and a request that
//! ends short (the server's 408/409 status, with the `Nats-Pending-Messages` it did not
//! deliver) returns the rest. The next request is sent once half of the current one has
//! arrived, so the pipeline does not wait for a round trip. Deliveries are registered
//! the moment they arrive, so progress acknowledgements cover them even while they wait
//! for the pipeline to pull them.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::BatchConfig;
use async_nats::{Client, StatusCode, Subject};
use futures::StreamExt;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::delivery::Delivery;
use super::error::NatsError;
use super::tracker::{Cmd, Counters, InFlight, Names, Verdict};
use crate::error::BoxError;
use crate::task::timing::after;

/// What the fetch task hands the source stream.
pub(super) enum Fetched {
    /// Delivery number `id`.
    Message(u64, Delivery),
    /// Fetching failed for good: the stream ends after this.
    Failed(NatsError),
}

/// Consecutive failures (without a message in between) after which the source gives up.
const MAX_FAILURES: u32 = 10;
/// How long past a request's expiry its end may take to arrive before it is given up.
const STALE_MARGIN: Duration = Duration::from_secs(5);

pub(super) struct Fetcher {
    pub(super) consumer: PullConsumer,
    pub(super) client: Client,
    pub(super) names: Arc<Names>,
    pub(super) cmds: mpsc::UnboundedSender<Cmd>,
    pub(super) entries: Arc<InFlight>,
    pub(super) out: mpsc::Sender<Fetched>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) counters: Arc<Counters>,
    pub(super) batch: usize,
    pub(super) wait: Duration,
    pub(super) idle: Option<Duration>,
    pub(super) stop: CancellationToken,
    pub(super) next_id: u64,
}

/// The state of the pull requests.
struct Pull {
    inbox: Subject,
    /// Messages requested and neither arrived nor given up: each holds a permit.
    outstanding: usize,
    failures: u32,
    last_message: Instant,
    last_activity: Instant,
    /// No more requests: stopped, idle, or the stream is gone.
    stopping: bool,
}

/// What handling one inbox message asks of the loop.
enum Next {
    Go,
    Backoff,
    End,
}

impl Fetcher {
    /// Pulls until stopped or idle (then waits for the requests under way to end), until
    /// the stream is dropped, or until fetching failed `MAX_FAILURES` times in a row.
    pub(super) async fn run(mut self) {
        let inbox = Subject::from(self.client.new_inbox());
        let mut sub = match self.client.subscribe(inbox.clone()).await {
            Ok(sub) => sub,
            Err(e) => return self.fail(Box::new(e)).await,
        };
        let now = Instant::now();
        let mut pull = Pull {
            inbox,
            outstanding: 0,
            failures: 0,
            last_message: now,
            last_activity: now,
            stopping: false,
        };
        loop {
            let idle = self.idle.is_some_and(|d| pull.last_message.elapsed() >= d);
            if self.stop.is_cancelled() || idle {
                pull.stopping = true;
            }
            if pull.stopping && pull.outstanding == 0 {
                return;
            }
            // A new request once half the last one arrived, for a full batch if the bound
            // allows (at least half a batch: many tiny requests would cost the server
            // more than the messages), or for whatever is free when nothing is requested.
            let mut blocked = false;
            if !pull.stopping && pull.outstanding <= self.batch / 2 {
                let free = self.permits.available_permits().min(self.batch);
                if free > 0 && (free >= self.batch.div_ceil(2) || pull.outstanding == 0) {
                    let n = self.take_permits(free);
                    if n > 0 && !self.request(n, &mut pull).await {
                        return;
                    }
                } else if pull.outstanding == 0 {
                    blocked = true;
                }
            }
            let stale_at = after(after(pull.last_activity, self.wait), STALE_MARGIN);
            let permits = self.permits.clone();
            let next = tokio::select! {
                biased;
                _ = self.out.closed() => Next::End,
                _ = self.stop.cancelled(), if !pull.stopping => Next::Go,
                message = sub.next() => match message {
                    Some(m) => {
                        pull.last_activity = Instant::now();
                        self.handle(m, &mut pull)
                    }
                    None => {
                        self.fail("the connection was closed".into()).await;
                        Next::End
                    }
                },
                permit = permits.acquire(), if blocked => match permit {
                    Ok(permit) => {
                        permit.forget();
                        // Not idle: the pipeline held every permit until now.
                        pull.last_message = Instant::now();
                        let n = self.take_permits(self.batch.saturating_sub(1)).saturating_add(1);
                        if self.request(n, &mut pull).await { Next::Go } else { Next::End }
                    }
                    Err(_) => Next::End,
                },
                _ = tokio::time::sleep_until(stale_at), if pull.outstanding > 0 => {
                    // The requests' ends never came (a reconnect lost them): give them up.
                    self.permits.add_permits(pull.outstanding);
                    pull.outstanding = 0;
                    Next::Go
                }
            };
            match next {
                Next::Go => {}
                Next::End => return,
                Next::Backoff => {
                    if !self.backoff(&pull).await {
                        return;
                    }
                }
            }
        }
    }

    /// Takes up to `n` free permits without waiting.
    fn take_permits(&self, n: usize) -> usize {
        let mut taken = 0usize;
        while taken < n {
            match self.permits.try_acquire() {
                Ok(p) => {
                    p.forget();
                    taken = taken.saturating_add(1);
                }
                Err(_) => break,
            }
        }
        taken
    }

    /// Asks for `n` messages (their permits taken); `false` when the source must end.
    async fn request(&mut self, n: usize, pull: &mut Pull) -> bool {
        let config = BatchConfig {
            batch: n,
            expires: Some(self.wait),
            ..Default::default()
        };
        match self
            .consumer
            .request_batch(config, pull.inbox.clone())
            .await
        {
            Ok(()) => {
                pull.outstanding = pull.outstanding.saturating_add(n);
                pull.last_activity = Instant::now();
                true
            }
            Err(e) => {
                self.permits.add_permits(n);
                self.failed(Box::new(e), pull).await && self.backoff(pull).await
            }
        }
    }

    /// Handles one message of the inbox: a delivery, or the end of a request.
    fn handle(&mut self, message: async_nats::Message, pull: &mut Pull) -> Next {
        match message.status {
            None | Some(StatusCode::OK) => self.deliver(message, pull),
            Some(StatusCode::IDLE_HEARTBEAT) => Next::Go,
            Some(status) => {
                let description = message.description.clone().unwrap_or_default();
                if description == "Consumer Deleted" || description == "Consumer is push based" {
                    let _ = self
                        .out
                        .try_send(Fetched::Failed(self.error(description.into())));
                    return Next::End;
                }
                // The part of the request the server will not deliver.
                let undelivered = message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Pending-Messages"))
                    .and_then(|v| v.as_str().parse::<usize>().ok())
                    .unwrap_or(self.batch)
                    .min(pull.outstanding);
                pull.outstanding = pull.outstanding.saturating_sub(undelivered);
                self.permits.add_permits(undelivered);
                match status {
                    // An expired request: nothing to deliver, not a failure.
                    StatusCode::TIMEOUT | StatusCode::NOT_FOUND => Next::Go,
                    // The consumer's max_ack_pending on the server is reached (other
                    // processes hold deliveries): wait, this is not a failure.
                    _ if description.contains("MaxAckPending") => Next::Backoff,
                    _ => {
                        let reason = format!("pull request ended with {status}: {description}");
                        pull.failures = pull.failures.saturating_add(1);
                        self.warn(&reason, pull.failures);
                        if pull.failures >= MAX_FAILURES {
                            let _ = self
                                .out
                                .try_send(Fetched::Failed(self.error(reason.into())));
                            Next::End
                        } else {
                            Next::Backoff
                        }
                    }
                }
            }
        }
    }

    /// Registers a delivery and hands it to the stream.
    fn deliver(&mut self, message: async_nats::Message, pull: &mut Pull) -> Next {
        pull.outstanding = pull.outstanding.saturating_sub(1);
        pull.failures = 0;
        pull.last_message = Instant::now();
        let Some((delivery, reply)) = Delivery::from_message(message) else {
            // Not a delivery: its permit goes back.
            self.permits.add_permits(1);
            self.warn("ignored a message without a JetStream reply subject", 0);
            return Next::Go;
        };
        let id = self.next_id;
        self.next_id = id.saturating_add(1);
        // Registration and hand-over happen without an await between them: a delivery is
        // never registered without being handed over (or released), or the reverse.
        self.entries.insert(id, reply, delivery.delivered);
        self.counters.delivered_one();
        // The channel holds max_ack_pending items: with a permit per delivery in flight,
        // it is never full.
        match self.out.try_send(Fetched::Message(id, delivery)) {
            Ok(()) => Next::Go,
            Err(_) => {
                let _ = self.cmds.send(Cmd::Settle {
                    range: id..id.saturating_add(1),
                    verdict: Verdict::Release,
                });
                Next::End
            }
        }
    }

    /// Counts a failed request; `false` (after telling the stream) when it was the last.
    async fn failed(&self, e: BoxError, pull: &mut Pull) -> bool {
        pull.failures = pull.failures.saturating_add(1);
        self.warn(&e.to_string(), pull.failures);
        if pull.failures >= MAX_FAILURES {
            self.fail(e).await;
            return false;
        }
        true
    }

    /// Waits before pulling again (longer after each failure); `false` when stopped.
    async fn backoff(&self, pull: &Pull) -> bool {
        let backoff = Duration::from_millis(50u64 << pull.failures.min(6));
        tokio::select! {
            _ = self.stop.cancelled() => true,
            _ = self.out.closed() => false,
            _ = tokio::time::sleep(backoff) => true,
        }
    }

    fn error(&self, source: BoxError) -> NatsError {
        NatsError::Fetch {
            stream: self.names.stream.clone(),
            consumer: self.names.consumer.clone(),
            source,
        }
    }

    /// Ends the stream with a fetch error.
    async fn fail(&self, source: BoxError) {
        let _ = self.out.send(Fetched::Failed(self.error(source))).await;
    }

    fn warn(&self, what: &str, failures: u32) {
        tracing::warn!(
            stream = %self.names.stream,
            consumer = %self.names.consumer,
            failures,
            "JetStream pull: {what}"
        );
    }
}
