//! The source's acknowledgement tracker: the [`AckSink`] its events owe, and the task that
//! turns settlements into `+ACK`, `-NAK`, `+TERM` and `+WPI` replies.
//!
//! Every delivery gets a consecutive id; the fetch task records its reply subject in the
//! shared [`InFlight`] map before the delivery is emitted, and `settle` only queues the
//! verdict for the ack task, which takes the entry out of the map and replies. The queue
//! holds at most one settlement per delivery in flight, so its length is bounded by
//! `max_ack_pending`, and so is the map.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::{Client, Subject};
use bytes::Bytes;
use rustc_hash::FxHashMap;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use super::stats::JetStreamStats;
use crate::ack::{AckSink, Outcome};
use crate::error::BoxError;
use crate::task::timing::after;

/// The stream and consumer a source reads, for error messages.
#[derive(Debug)]
pub(super) struct Names {
    pub(super) stream: String,
    pub(super) consumer: String,
}

/// The deliveries in flight, by id: written by the fetch task (a short lock per delivery,
/// no wake-up of the ack task), read by the ack task.
#[derive(Debug, Default)]
pub(super) struct InFlight(Mutex<FxHashMap<u64, Entry>>);

impl InFlight {
    fn lock(&self) -> MutexGuard<'_, FxHashMap<u64, Entry>> {
        // A panic while holding the lock cannot leave the map half-updated.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records delivery `id`: its reply subject and delivery count.
    pub(super) fn insert(&self, id: u64, reply: Subject, delivered: u64) {
        let entry = Entry {
            reply,
            delivered,
            since: Instant::now(),
        };
        self.lock().insert(id, entry);
    }
}

/// What the ack task is told.
pub(super) enum Cmd {
    /// Deliveries `range` were settled.
    Settle { range: Range<u64>, verdict: Verdict },
    /// Send everything queued before this, flush the connection, then answer.
    Flush(oneshot::Sender<Result<(), BoxError>>),
    /// The tracker is gone: send what is queued and end.
    Shutdown,
}

/// A settlement, without its reason (the reason is only logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Ack,
    Reject,
    Release,
}

/// Live counters, shared by the fetch task, the ack task and the handles.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) delivered: AtomicU64,
    pub(super) acked: AtomicU64,
    pub(super) naked: AtomicU64,
    pub(super) termed: AtomicU64,
    pub(super) progress: AtomicU64,
    pub(super) ack_errors: AtomicU64,
    pub(super) peak_in_flight: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Deliveries registered and not yet settled (their verdict not yet sent).
    pub(super) fn in_flight(&self) -> u64 {
        let settled = self
            .acked
            .load(Ordering::Relaxed)
            .saturating_add(self.naked.load(Ordering::Relaxed))
            .saturating_add(self.termed.load(Ordering::Relaxed));
        self.delivered
            .load(Ordering::Relaxed)
            .saturating_sub(settled)
    }

    /// Counts one new delivery and keeps the high-water mark of deliveries in flight.
    pub(super) fn delivered_one(&self) {
        Self::bump(&self.delivered, 1);
        self.peak_in_flight
            .fetch_max(self.in_flight(), Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> JetStreamStats {
        JetStreamStats {
            delivered: self.delivered.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
            naked: self.naked.load(Ordering::Relaxed),
            termed: self.termed.load(Ordering::Relaxed),
            progress_acks: self.progress.load(Ordering::Relaxed),
            ack_errors: self.ack_errors.load(Ordering::Relaxed),
            in_flight: self.in_flight(),
            peak_in_flight: self.peak_in_flight.load(Ordering::Relaxed),
        }
    }
}

/// The [`AckSink`] of a JetStream source: queues settlements for the ack task.
pub(super) struct Tracker {
    tx: mpsc::UnboundedSender<Cmd>,
}

impl Tracker {
    pub(super) fn new(tx: mpsc::UnboundedSender<Cmd>) -> Self {
        Tracker { tx }
    }

    /// Asks the ack task to send everything queued so far and flush the connection.
    pub(super) fn flush(&self) -> Option<oneshot::Receiver<Result<(), BoxError>>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Cmd::Flush(tx)).ok()?;
        Some(rx)
    }
}

impl AckSink for Tracker {
    fn settle(&self, _partition: u32, range: Range<u64>, outcome: Outcome<'_>) {
        let verdict = match outcome {
            Outcome::Acked => Verdict::Ack,
            Outcome::Rejected(reason) => {
                tracing::debug!(%reason, ?range, "JetStream deliveries rejected");
                Verdict::Reject
            }
            _ => Verdict::Release,
        };
        // The ack task is gone only when the runtime shut down: the server redelivers.
        let _ = self.tx.send(Cmd::Settle { range, verdict });
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let _ = self.tx.send(Cmd::Shutdown);
    }
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker").finish_non_exhaustive()
    }
}

/// How the ack task answers.
#[derive(Debug, Clone)]
pub(super) struct AckPolicy {
    /// Delay asked for with `-NAK` (`None`: redeliver at once).
    pub(super) nak_delay: Option<Duration>,
    /// Deliveries rejected at this delivery count are terminated (`+TERM`).
    pub(super) max_deliver: Option<u64>,
    /// Deliveries in flight this long get a `+WPI`, and again after as long.
    pub(super) progress_every: Option<Duration>,
    /// After the tracker is gone, how long the task may take to send what is queued.
    pub(super) drain_timeout: Duration,
}

#[derive(Debug)]
pub(super) struct Entry {
    reply: Subject,
    delivered: u64,
    since: Instant,
}

/// The task that sends acknowledgements: owns the in-flight deliveries' reply subjects.
pub(super) struct AckTask {
    pub(super) client: Client,
    pub(super) rx: mpsc::UnboundedReceiver<Cmd>,
    pub(super) entries: Arc<InFlight>,
    pub(super) counters: Arc<Counters>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) policy: AckPolicy,
    pub(super) names: Arc<Names>,
}

/// Commands handled per wake-up.
const BATCH: usize = 256;

impl AckTask {
    /// Runs until the tracker and the fetch task are gone (and, after the tracker's
    /// shutdown, at most `drain_timeout` longer).
    pub(super) async fn run(self) {
        let AckTask {
            client,
            mut rx,
            entries,
            counters,
            permits,
            policy,
            names,
        } = self;
        let nak: Bytes = AckKind::Nak(policy.nak_delay).into();
        let mut state = State {
            client,
            entries,
            taken: Vec::new(),
            counters,
            permits,
            nak,
            policy,
            names,
        };
        let every = state.policy.progress_every;
        let mut tick = every.map(|d| {
            let half = d.checked_div(2).unwrap_or(d).max(Duration::from_millis(1));
            let mut tick = tokio::time::interval_at(after(Instant::now(), half), half);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick
        });
        let mut buf = Vec::with_capacity(BATCH);
        loop {
            let n = tokio::select! {
                biased;
                n = rx.recv_many(&mut buf, BATCH) => n,
                _ = async { if let Some(t) = tick.as_mut() { t.tick().await; } }, if tick.is_some() => {
                    state.progress().await;
                    continue;
                }
            };
            if n == 0 {
                return;
            }
            let mut shutdown = false;
            for cmd in buf.drain(..) {
                shutdown |= state.handle(cmd).await;
            }
            if shutdown {
                let limit = state.policy.drain_timeout;
                let _ = tokio::time::timeout(limit, state.drain(&mut rx)).await;
                return;
            }
        }
    }
}

struct State {
    client: Client,
    entries: Arc<InFlight>,
    /// Entries taken out of the map, replied to outside the lock.
    taken: Vec<(Subject, u64)>,
    counters: Arc<Counters>,
    permits: Arc<Semaphore>,
    nak: Bytes,
    policy: AckPolicy,
    names: Arc<Names>,
}

impl State {
    /// Handles one command; `true` for a shutdown.
    async fn handle(&mut self, cmd: Cmd) -> bool {
        match cmd {
            Cmd::Settle { range, verdict } => self.settle(range, verdict).await,
            Cmd::Flush(answer) => {
                let res = self.client.flush().await.map_err(BoxError::from);
                let _ = answer.send(res);
            }
            Cmd::Shutdown => return true,
        }
        false
    }

    /// Sends what is still queued, then flushes.
    async fn drain(&mut self, rx: &mut mpsc::UnboundedReceiver<Cmd>) {
        while let Ok(cmd) = rx.try_recv() {
            self.handle(cmd).await;
        }
        let _ = self.client.flush().await;
    }

    async fn settle(&mut self, range: Range<u64>, verdict: Verdict) {
        {
            let mut entries = self.entries.lock();
            for id in range {
                if let Some(e) = entries.remove(&id) {
                    self.taken.push((e.reply, e.delivered));
                }
            }
        }
        let done = self.taken.len();
        let mut taken = std::mem::take(&mut self.taken);
        for (reply, delivered) in taken.drain(..) {
            let poison = self.policy.max_deliver.is_some_and(|max| delivered >= max);
            let (payload, counter) = match verdict {
                Verdict::Ack => (Bytes::from_static(b"+ACK"), &self.counters.acked),
                _ if poison => (Bytes::from_static(b"+TERM"), &self.counters.termed),
                _ => (self.nak.clone(), &self.counters.naked),
            };
            if let Err(e) = self.client.publish(reply, payload).await {
                self.ack_failed(&e);
            }
            Counters::bump(counter, 1);
        }
        self.taken = taken;
        self.permits.add_permits(done);
    }

    /// Sends `+WPI` for every delivery in flight for `progress_every` since it arrived or
    /// since its last progress ack.
    async fn progress(&mut self) {
        let Some(every) = self.policy.progress_every else {
            return;
        };
        let now = Instant::now();
        {
            let mut entries = self.entries.lock();
            for entry in entries.values_mut() {
                if now.saturating_duration_since(entry.since) >= every {
                    entry.since = now;
                    self.taken.push((entry.reply.clone(), entry.delivered));
                }
            }
        }
        let sent = self.taken.len() as u64;
        let mut taken = std::mem::take(&mut self.taken);
        for (reply, _) in taken.drain(..) {
            if let Err(e) = self
                .client
                .publish(reply, Bytes::from_static(b"+WPI"))
                .await
            {
                tracing::warn!(
                    stream = %self.names.stream,
                    consumer = %self.names.consumer,
                    error = %e,
                    "JetStream progress ack failed"
                );
                Counters::bump(&self.counters.ack_errors, 1);
            }
        }
        self.taken = taken;
        Counters::bump(&self.counters.progress, sent);
    }

    fn ack_failed(&self, e: &dyn fmt::Display) {
        tracing::warn!(
            stream = %self.names.stream,
            consumer = %self.names.consumer,
            error = %e,
            "JetStream acknowledgement could not be sent; the server will redeliver"
        );
        Counters::bump(&self.counters.ack_errors, 1);
    }
}
