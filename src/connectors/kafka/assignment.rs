//! [`Assignment`]: the partitions a source owns, one slot per (topic, partition,
//! assignment epoch), and the [`AckSink`] its events' acknowledgements go to.
//!
//! An event's [`Acks`](crate::ack::Acks) name its slot by a `u32` id that is never reused:
//! when a partition is revoked its slot goes away, so a late acknowledgement (from a window
//! that closes after the rebalance) finds no slot and is ignored; if the partition comes
//! back, it gets a new slot that starts from the committed offset.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustc_hash::FxHashMap;

use super::config::{OnReject, Settings};
use super::dead_letter::DeadLetters;
use super::error::KafkaError;
use super::message::KafkaMessage;
use super::signal::Signal;
use super::stats::KafkaSourceStats;
use super::tracker::PartitionOffsets;
use crate::ack::{AckSink, Outcome};

/// A partition's offset to commit: `(topic, partition, offset)`.
pub(crate) type Commit = (Arc<str>, i32, u64);

/// A partition within one assignment epoch.
#[derive(Debug)]
struct Slot {
    topic: Arc<str>,
    partition: i32,
    /// The rebalance generation the slot was created in.
    since: u64,
    offsets: PartitionOffsets,
    /// The offset last sent in a commit.
    committed: Option<u64>,
    /// Paused because its in-flight bound was reached.
    paused: bool,
    /// Stopped by a rejection: paused until revoked.
    stopped: bool,
    /// A resume was asked for and not yet done.
    resume: bool,
    /// Acknowledgements moved the commit point since the last commit.
    moved: bool,
    warned_released: bool,
    /// Messages in flight, kept for the dead-letter topic (only with that policy).
    kept: VecDeque<KafkaMessage>,
}

/// A fetched message, tagged with the rebalance generation it was fetched in.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) generation: u64,
    pub(crate) message: Result<KafkaMessage, rdkafka::error::KafkaError>,
}

/// What the source hands out, in order: a registered message or an error.
#[derive(Debug)]
pub(crate) enum Ready {
    Message {
        message: KafkaMessage,
        slot: u32,
        offset: u64,
    },
    Error(KafkaError),
}

#[derive(Debug, Default)]
struct State {
    slots: FxHashMap<u32, Slot>,
    /// The live slot of each (topic, partition).
    live: FxHashMap<(Arc<str>, i32), u32>,
    next_id: u32,
    acks_since_commit: u64,
    dirty: bool,
    errors: VecDeque<KafkaError>,
    stats: KafkaSourceStats,
}

/// The partitions a source owns and their offsets in flight; shared by the source, its
/// consumer's rebalance callbacks, its handle and every acknowledgement.
#[derive(Debug)]
pub(crate) struct Assignment {
    state: Mutex<State>,
    /// Bumped (under the state lock) by every assignment and revocation.
    generation: AtomicU64,
    pub(crate) signal: Arc<Signal>,
    pub(crate) settings: Settings,
    pub(crate) dead_letters: Option<DeadLetters>,
}

impl Assignment {
    pub(crate) fn new(
        settings: Settings,
        signal: Arc<Signal>,
        dead_letters: Option<DeadLetters>,
    ) -> Self {
        Assignment {
            state: Mutex::default(),
            generation: AtomicU64::new(0),
            signal,
            settings,
            dead_letters,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current rebalance generation (fetched messages are tagged with it).
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Partitions were assigned: each gets a fresh slot (a partition that is still live,
    /// under the cooperative protocol, keeps its slot).
    pub(crate) fn assign<'a>(&self, partitions: impl Iterator<Item = (&'a str, i32)>) {
        let mut state = self.lock();
        // Generations are only compared for equality: wrapping after 2^64 assignments is harmless.
        let since = self
            .generation
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1);
        state.stats.assignments = state.stats.assignments.saturating_add(1);
        for (topic, partition) in partitions {
            let topic: Arc<str> = Arc::from(topic);
            if state.live.contains_key(&(topic.clone(), partition)) {
                continue;
            }
            let id = state.next_id;
            state.next_id = state.next_id.wrapping_add(1);
            state.live.insert((topic.clone(), partition), id);
            state.slots.insert(
                id,
                Slot {
                    topic,
                    partition,
                    since,
                    offsets: PartitionOffsets::new(),
                    committed: None,
                    paused: false,
                    stopped: false,
                    resume: false,
                    moved: false,
                    warned_released: false,
                    kept: VecDeque::new(),
                },
            );
        }
    }

    /// Partitions were revoked: returns their committable offsets (to commit before the
    /// group moves on) and forgets them; later acknowledgements of their events are
    /// ignored.
    pub(crate) fn revoke<'a>(
        &self,
        partitions: impl Iterator<Item = (&'a str, i32)>,
    ) -> Vec<Commit> {
        let mut state = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        state.stats.revocations = state.stats.revocations.saturating_add(1);
        let mut commits = Vec::new();
        for (topic, partition) in partitions {
            let Some(id) = state.live.remove(&(Arc::from(topic), partition)) else {
                continue;
            };
            if let Some(slot) = state.slots.remove(&id)
                && let Some(offset) = slot.offsets.committable()
                && slot.committed != Some(offset)
            {
                commits.push((slot.topic, slot.partition, offset));
            }
        }
        commits
    }

    /// A rebalance failed: reported through the stream.
    pub(crate) fn rebalance_failed(&self, error: rdkafka::error::KafkaError) {
        self.lock()
            .errors
            .push_back(KafkaError::Rebalance { error });
        self.signal.raise();
    }

    /// Registers a fetched batch: messages whose partition is still live (in the epoch
    /// they were fetched in) become deliveries, ready to hand out; stale ones are dropped.
    /// Returns the partitions that reached their in-flight bound (to pause).
    pub(crate) fn register(
        &self,
        batch: impl Iterator<Item = Fetched>,
        ready: &mut VecDeque<Ready>,
    ) -> Vec<(Arc<str>, i32)> {
        let keep = self.dead_letters.is_some();
        let max = self.settings.max_in_flight;
        let mut to_pause = Vec::new();
        let mut state = self.lock();
        let state = &mut *state;
        let mut last: Option<(Arc<str>, i32, u32)> = None;
        for fetched in batch {
            let message = match fetched.message {
                Ok(m) => m,
                Err(rdkafka::error::KafkaError::PartitionEOF(_)) => continue,
                Err(error) => {
                    ready.push_back(Ready::Error(KafkaError::Consume { error }));
                    continue;
                }
            };
            let id = match &last {
                Some((t, p, id)) if *p == message.partition && **t == *message.topic => *id,
                _ => match state.live.get(&(message.topic.clone(), message.partition)) {
                    Some(&id) => {
                        last = Some((message.topic.clone(), message.partition, id));
                        id
                    }
                    None => {
                        state.stats.stale = state.stats.stale.saturating_add(1);
                        continue;
                    }
                },
            };
            let (Some(slot), Ok(offset)) =
                (state.slots.get_mut(&id), u64::try_from(message.offset))
            else {
                state.stats.stale = state.stats.stale.saturating_add(1);
                continue;
            };
            if slot.since > fetched.generation {
                // Fetched before the partition was revoked and assigned again.
                state.stats.stale = state.stats.stale.saturating_add(1);
                continue;
            }
            slot.offsets.deliver(offset);
            let in_flight = slot.offsets.in_flight();
            state.stats.max_in_flight = state.stats.max_in_flight.max(in_flight);
            if in_flight >= max && !slot.paused {
                slot.paused = true;
                state.stats.pauses = state.stats.pauses.saturating_add(1);
                to_pause.push((slot.topic.clone(), slot.partition));
            }
            if keep {
                slot.kept.push_back(message.clone());
            }
            state.stats.delivered = state.stats.delivered.saturating_add(1);
            ready.push_back(Ready::Message {
                message,
                slot: id,
                offset,
            });
        }
        to_pause
    }

    /// Housekeeping the source does when signalled: the partitions to resume, and the
    /// dead-letter reports to apply.
    pub(crate) fn to_resume(&self) -> Vec<(Arc<str>, i32)> {
        self.apply_dead_letters();
        let resume_at = self.settings.resume_at;
        let mut state = self.lock();
        let mut out = Vec::new();
        for slot in state.slots.values_mut() {
            if slot.paused && !slot.stopped && slot.offsets.in_flight() <= resume_at {
                slot.paused = false;
                slot.resume = false;
                out.push((slot.topic.clone(), slot.partition));
            }
        }
        out
    }

    /// Partitions stopped by a rejection since the last call (to pause).
    pub(crate) fn to_stop(&self) -> Vec<(Arc<str>, i32)> {
        let mut state = self.lock();
        let mut out = Vec::new();
        for slot in state.slots.values_mut() {
            if slot.stopped && !slot.paused {
                slot.paused = true;
                out.push((slot.topic.clone(), slot.partition));
            }
        }
        out
    }

    /// The next error to report through the stream.
    pub(crate) fn pop_error(&self) -> Option<KafkaError> {
        self.lock().errors.pop_front()
    }

    /// `true` when acknowledgements moved a commit point since the last commit.
    pub(crate) fn dirty(&self) -> bool {
        self.lock().dirty
    }

    /// `true` when enough acknowledgements came in to commit now.
    pub(crate) fn commit_due(&self) -> bool {
        self.lock().acks_since_commit >= self.settings.commit_every
    }

    /// The committable offsets that moved since the last commit (`all`: every live
    /// partition's, for a final synchronous commit); marks them as sent.
    pub(crate) fn take_commits(&self, all: bool) -> Vec<Commit> {
        let mut state = self.lock();
        state.acks_since_commit = 0;
        state.dirty = false;
        let mut out = Vec::new();
        for slot in state.slots.values_mut() {
            let moved = std::mem::take(&mut slot.moved);
            if let Some(offset) = slot.offsets.committable()
                && (all || (moved && slot.committed != Some(offset)))
            {
                slot.committed = Some(offset);
                out.push((slot.topic.clone(), slot.partition, offset));
            }
        }
        state.stats.commits = state
            .stats
            .commits
            .saturating_add(u64::from(!out.is_empty()));
        out
    }

    /// Commit of `offsets` failed: they are sent again with the next commit.
    pub(crate) fn commit_failed<'a>(&self, offsets: impl Iterator<Item = (&'a str, i32)>) {
        let mut state = self.lock();
        state.stats.commit_failures = state.stats.commit_failures.saturating_add(1);
        state.dirty = true;
        for (topic, partition) in offsets {
            if let Some(id) = state.live.get(&(Arc::from(topic), partition)).copied()
                && let Some(slot) = state.slots.get_mut(&id)
            {
                slot.committed = None;
                slot.moved = true;
            }
        }
    }

    /// Counts a commit request sent outside `take_commits` (on revocation).
    pub(crate) fn count_commit(&self) {
        self.lock().stats.commits = self.lock().stats.commits.saturating_add(1);
    }

    /// The partitions owned now, with their committable offsets.
    pub(crate) fn owned(&self) -> Vec<(Arc<str>, i32, Option<u64>)> {
        let state = self.lock();
        let mut out: Vec<_> = state
            .slots
            .values()
            .map(|s| (s.topic.clone(), s.partition, s.offsets.committable()))
            .collect();
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        out
    }

    /// `true` when no partition is assigned.
    pub(crate) fn owns_nothing(&self) -> bool {
        self.lock().slots.is_empty()
    }

    pub(crate) fn stats(&self) -> KafkaSourceStats {
        self.lock().stats
    }

    /// Applies the dead-letter delivery reports: a written event counts as handled, a
    /// failed write stops its partition.
    pub(crate) fn apply_dead_letters(&self) {
        let Some(dl) = &self.dead_letters else {
            return;
        };
        let written = dl.take_written();
        if written.is_empty() {
            return;
        }
        let mut state = self.lock();
        let state = &mut *state;
        for w in written {
            let Some(slot) = state.slots.get_mut(&w.slot) else {
                state.stats.late = state.stats.late.saturating_add(1);
                continue;
            };
            match w.error {
                None => {
                    let n = slot.offsets.ack(w.offset..w.offset.saturating_add(1));
                    slot.moved |= n > 0;
                    state.stats.dead_lettered = state.stats.dead_lettered.saturating_add(n);
                    state.acks_since_commit = state.acks_since_commit.saturating_add(n);
                    state.dirty |= n > 0;
                    prune(slot);
                }
                Some(reason) => {
                    slot.stopped = true;
                    state.errors.push_back(KafkaError::DeadLetter {
                        topic: slot.topic.clone(),
                        partition: slot.partition,
                        offset: i64::try_from(w.offset).unwrap_or(i64::MAX),
                        dead_letter_topic: dl.topic.clone(),
                        reason,
                    });
                }
            }
        }
    }

    fn reject(&self, id: u32, range: Range<u64>, reason: &str) {
        let mut letters = Vec::new();
        {
            let mut state = self.lock();
            let state = &mut *state;
            let Some(slot) = state.slots.get_mut(&id) else {
                state.stats.late = state
                    .stats
                    .late
                    .saturating_add(range.end.saturating_sub(range.start));
                return;
            };
            state.stats.rejected = state
                .stats
                .rejected
                .saturating_add(range.end.saturating_sub(range.start));
            match &self.settings.on_reject {
                OnReject::DeadLetter(_) => {
                    let mut missing = None;
                    for offset in range.clone() {
                        if !slot.offsets.is_pending(offset) {
                            continue;
                        }
                        match kept(slot, offset) {
                            Some(m) => letters.push((offset, m.clone())),
                            None => missing = missing.or(Some(offset)),
                        }
                    }
                    if let Some(offset) = missing {
                        stop(state, id, offset, "not kept for the dead-letter topic");
                    }
                }
                _ => stop(state, id, range.start, reason),
            }
        }
        if let Some(dl) = &self.dead_letters {
            for (offset, message) in letters {
                if let Err(e) = dl.send(id, offset, &message, reason) {
                    let mut state = self.lock();
                    if let Some(slot) = state.slots.get_mut(&id) {
                        slot.stopped = true;
                        let error = KafkaError::DeadLetter {
                            topic: slot.topic.clone(),
                            partition: slot.partition,
                            offset: message.offset,
                            dead_letter_topic: dl.topic.clone(),
                            reason: e,
                        };
                        state.errors.push_back(error);
                    }
                }
            }
        }
        self.signal.raise();
    }
}

/// Stops slot `id` at `offset` for `reason`: reported once through the stream.
fn stop(state: &mut State, id: u32, offset: u64, reason: &str) {
    let Some(slot) = state.slots.get_mut(&id) else {
        return;
    };
    if slot.stopped {
        return;
    }
    slot.stopped = true;
    let error = KafkaError::Rejected {
        topic: slot.topic.clone(),
        partition: slot.partition,
        offset: i64::try_from(offset).unwrap_or(i64::MAX),
        reason: reason.to_owned(),
    };
    state.errors.push_back(error);
}

/// The kept message at `offset` (kept messages are in offset order).
fn kept(slot: &Slot, offset: u64) -> Option<&KafkaMessage> {
    let i = slot
        .kept
        .binary_search_by(|m| u64::try_from(m.offset).unwrap_or(0).cmp(&offset))
        .ok()?;
    slot.kept.get(i)
}

/// Forgets kept messages below the commit point.
fn prune(slot: &mut Slot) {
    let Some(commit) = slot.offsets.committable() else {
        return;
    };
    while slot
        .kept
        .front()
        .is_some_and(|m| u64::try_from(m.offset).unwrap_or(0) < commit)
    {
        slot.kept.pop_front();
    }
}

impl AckSink for Assignment {
    fn settle(&self, slot: u32, range: Range<u64>, outcome: Outcome<'_>) {
        let reason = match outcome {
            Outcome::Acked => {
                let mut raise = false;
                {
                    let mut state = self.lock();
                    let state = &mut *state;
                    let Some(s) = state.slots.get_mut(&slot) else {
                        state.stats.late = state
                            .stats
                            .late
                            .saturating_add(range.end.saturating_sub(range.start));
                        return;
                    };
                    let n = s.offsets.ack(range);
                    s.moved |= n > 0;
                    if s.paused
                        && !s.stopped
                        && !s.resume
                        && s.offsets.in_flight() <= self.settings.resume_at
                    {
                        s.resume = true;
                        raise = true;
                    }
                    if !s.kept.is_empty() {
                        prune(s);
                    }
                    state.stats.acked = state.stats.acked.saturating_add(n);
                    let before = state.acks_since_commit;
                    state.acks_since_commit = before.saturating_add(n);
                    state.dirty |= n > 0;
                    if before < self.settings.commit_every
                        && state.acks_since_commit >= self.settings.commit_every
                    {
                        raise = true;
                    }
                }
                if raise {
                    self.signal.raise();
                }
                return;
            }
            Outcome::Rejected(reason) => reason.to_string(),
            _ => {
                // Released (or a future outcome): the commit point stays behind it.
                let mut state = self.lock();
                let state = &mut *state;
                let n = range.end.saturating_sub(range.start);
                let Some(s) = state.slots.get_mut(&slot) else {
                    state.stats.late = state.stats.late.saturating_add(n);
                    return;
                };
                state.stats.released = state.stats.released.saturating_add(n);
                if !s.warned_released {
                    s.warned_released = true;
                    tracing::warn!(
                        topic = %s.topic,
                        partition = s.partition,
                        offset = range.start,
                        "events released unacknowledged: the partition's commit point stays \
                         behind them until it is revoked or the process restarts"
                    );
                }
                return;
            }
        };
        self.reject(slot, range, &reason);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::connectors::kafka::KafkaSourceBuilder;

    fn assignment(max_in_flight: usize) -> Assignment {
        let settings = KafkaSourceBuilder::new("127.0.0.1:9092", "g")
            .topic("t")
            .max_in_flight_per_partition(max_in_flight)
            .commit_every(2)
            .settings()
            .unwrap();
        Assignment::new(settings, Arc::default(), None)
    }

    fn fetched(generation: u64, partition: i32, offset: i64) -> Fetched {
        Fetched {
            generation,
            message: Ok(KafkaMessage {
                topic: Arc::from("t"),
                partition,
                offset,
                key: None,
                payload: None,
                headers: Vec::new(),
                timestamp: None,
            }),
        }
    }

    fn slots(ready: &VecDeque<Ready>) -> Vec<(u32, u64)> {
        ready
            .iter()
            .filter_map(|r| match r {
                Ready::Message { slot, offset, .. } => Some((*slot, *offset)),
                Ready::Error(_) => None,
            })
            .collect()
    }

    #[test]
    fn a_new_epoch_ignores_late_acknowledgements_and_stale_fetches() {
        let a = assignment(100);
        a.assign([("t", 0)].into_iter());
        let old = a.generation();
        let mut ready = VecDeque::new();
        a.register(
            [fetched(old, 0, 5), fetched(old, 0, 6)].into_iter(),
            &mut ready,
        );
        assert_eq!(slots(&ready), [(0, 5), (0, 6)]);

        // Revoked with nothing acknowledged: offset 5 is what may be committed.
        assert_eq!(a.revoke([("t", 0)].into_iter()), [(Arc::from("t"), 0, 5)]);
        a.assign([("t", 0)].into_iter());
        let new = a.generation();
        assert!(new > old);

        // The old epoch's obligation comes late: ignored.
        a.settle(0, 5..6, Outcome::Acked);
        assert_eq!((a.stats().late, a.stats().acked), (1, 0));
        assert_eq!(a.owned(), [(Arc::from("t"), 0, None)]);

        // A message fetched before the revocation is stale; one fetched after is new.
        ready.clear();
        a.register(
            [fetched(old, 0, 7), fetched(new, 0, 5)].into_iter(),
            &mut ready,
        );
        assert_eq!(slots(&ready), [(1, 5)]);
        assert_eq!(a.stats().stale, 1);
        a.settle(1, 5..6, Outcome::Acked);
        assert_eq!(a.owned(), [(Arc::from("t"), 0, Some(6))]);
    }

    #[test]
    fn pause_at_the_bound_resume_at_half_and_commit_what_moved() {
        let a = assignment(2);
        a.assign([("t", 0), ("t", 1)].into_iter());
        let g = a.generation();
        let mut ready = VecDeque::new();
        let to_pause = a.register(
            [fetched(g, 0, 0), fetched(g, 0, 1), fetched(g, 1, 0)].into_iter(),
            &mut ready,
        );
        assert_eq!(to_pause, [(Arc::from("t"), 0)]);
        assert_eq!(a.stats().pauses, 1);
        let slot0 = slots(&ready)[0].0;

        assert!(!a.signal.take());
        a.settle(slot0, 0..1, Outcome::Acked); // 1 in flight: at the resume mark
        assert!(a.signal.take());
        assert_eq!(a.to_resume(), [(Arc::from("t"), 0)]);
        assert!(a.to_resume().is_empty());

        assert!(!a.commit_due()); // every 2 acknowledgements
        assert_eq!(a.take_commits(false), [(Arc::from("t"), 0, 1)]);
        assert!(a.take_commits(false).is_empty()); // nothing moved since
        let mut all = a.take_commits(true);
        all.sort();
        assert_eq!(all, [(Arc::from("t"), 0, 1), (Arc::from("t"), 1, 0)]);
        a.commit_failed([("t", 0)].into_iter());
        assert_eq!(a.take_commits(false), [(Arc::from("t"), 0, 1)]);
        assert_eq!(a.stats().commit_failures, 1);
    }

    #[test]
    fn a_rejection_stops_its_partition_once_and_a_release_holds_the_commit() {
        let a = assignment(100);
        a.assign([("t", 3)].into_iter());
        let g = a.generation();
        let mut ready = VecDeque::new();
        a.register((0..4).map(|o| fetched(g, 3, o)), &mut ready);
        a.settle(0, 0..1, Outcome::Acked);
        a.settle(0, 1..2, Outcome::Rejected(&"bad"));
        a.settle(0, 2..3, Outcome::Rejected(&"worse"));
        a.settle(0, 3..4, Outcome::Released);
        let error = a.pop_error().unwrap();
        assert_eq!(
            (error.topic(), error.partition(), error.offset()),
            (Some("t"), Some(3), Some(1))
        );
        assert!(error.to_string().contains("bad"), "{error}");
        assert!(a.pop_error().is_none(), "reported once");
        assert_eq!(a.to_stop(), [(Arc::from("t"), 3)]);
        assert_eq!(a.owned(), [(Arc::from("t"), 3, Some(1))]);
        let stats = a.stats();
        assert_eq!((stats.acked, stats.rejected, stats.released), (1, 2, 1));
    }
}
