//! [`AckCounts`]: what the obligations settled while a terminal stage polled came to.
//!
//! Settling happens inside the terminal's poll (the receiver settles an event when its
//! call returns, a sink when its server confirms), so the counts are gathered the way the
//! summary gathers skipped items: in a per-thread report that the terminal reads around
//! each poll.

use std::cell::Cell;
use std::fmt;

use super::Outcome;

/// Deliveries whose acknowledgement obligations were settled, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AckCounts {
    /// Acknowledged: handled, the source may forget them.
    pub acked: u64,
    /// Rejected: failed, the source redelivers or parks them.
    pub rejected: u64,
    /// Released unsettled (dropped before a verdict): the source will redeliver them.
    pub released: u64,
}

impl AckCounts {
    /// `true` when no obligation was settled: the source takes no acknowledgements, or
    /// nothing came through.
    pub fn is_empty(&self) -> bool {
        *self == AckCounts::default()
    }

    /// Adds `other`'s counts.
    pub fn add(&mut self, other: AckCounts) {
        self.acked = self.acked.saturating_add(other.acked);
        self.rejected = self.rejected.saturating_add(other.rejected);
        self.released = self.released.saturating_add(other.released);
    }
}

impl fmt::Display for AckCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} acknowledged, {} rejected, {} not acknowledged",
            self.acked, self.rejected, self.released
        )
    }
}

thread_local! {
    static REPORT: Cell<AckCounts> = const {
        Cell::new(AckCounts { acked: 0, rejected: 0, released: 0 })
    };
}

/// Counts `n` deliveries settled with `outcome`.
pub(super) fn record(outcome: Outcome<'_>, n: u64) {
    let _ = REPORT.try_with(|r| {
        let mut c = r.get();
        let slot = match outcome {
            Outcome::Acked => &mut c.acked,
            Outcome::Rejected(_) => &mut c.rejected,
            Outcome::Released => &mut c.released,
        };
        *slot = slot.saturating_add(n);
        r.set(c);
    });
}

/// Runs `f` (one poll of a terminal stage) and returns what was settled inside it. Nested
/// scopes see only their own settlements.
#[inline]
pub(crate) fn scope<R>(f: impl FnOnce() -> R) -> (R, AckCounts) {
    let saved = REPORT.try_with(|r| r.replace(AckCounts::default())).ok();
    let out = f();
    let mine = match saved {
        Some(saved) => REPORT.try_with(|r| r.replace(saved)).unwrap_or_default(),
        None => AckCounts::default(),
    };
    (out, mine)
}
