//! [`Assignment`]: the partitions a source owns, one slot per (topic, partition,
//! assignment epoch), and the [`AckSink`] its events' acknowledgements go to.
//!
//! An event's [`Acks`](crate::ack::Acks) name its slot by a `u32` id that is never reused:
//! when a partition is revoked its slot goes away, so a late acknowledgement (from a window
//! that closes after the rebalance) finds no slot and is ignored; if the partition comes
//! back, it gets a new slot that starts from the committed offset.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustc_hash::FxHashMap;

use super::config::Settings;
use super::dead_letter::DeadLetters;
use super::error::KafkaError;
use super::message::KafkaMessage;
use super::signal::Signal;
use super::stats::KafkaSourceStats;
use super::tracker::PartitionOffsets;

mod reject;
mod settle;
#[cfg(test)]
mod tests;

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
}
