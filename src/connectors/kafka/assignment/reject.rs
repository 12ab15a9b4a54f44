//! Rejections: the dead-letter topic's delivery reports, and partitions stopped at a
//! rejected event.

use std::ops::Range;

use super::{Assignment, Slot, State};
use crate::connectors::kafka::config::OnReject;
use crate::connectors::kafka::error::KafkaError;
use crate::connectors::kafka::message::KafkaMessage;

impl Assignment {
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

    pub(super) fn reject(&self, id: u32, range: Range<u64>, reason: &str) {
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
pub(super) fn prune(slot: &mut Slot) {
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
