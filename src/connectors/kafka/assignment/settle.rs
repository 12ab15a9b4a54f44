//! Where the acknowledgements of a source's events go: the [`AckSink`] of [`Assignment`].

use std::ops::Range;

use super::Assignment;
use super::reject::prune;
use crate::ack::{AckSink, Outcome};

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
