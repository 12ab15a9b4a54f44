//! The rare parts of an event ([`Extras`]), allocated only for events that have one.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::ack::Acks;
use crate::stream::stats::SourceStats;

/// Metadata key/value pairs of an event.
pub type Metadata = Vec<(Arc<str>, String)>;

/// Rarely used parts of an event, allocated only when one is set.
#[derive(Default)]
pub(super) struct Extras {
    pub(super) metadata: Metadata,
    // What the event's source must be told once it was handled.
    pub(super) acks: Acks,
    // Nanoseconds since the Unix epoch, for tasks built `with_timestamps` (opt-in).
    pub(super) timestamp: Option<u64>,
    // A source name that is not interned (set by hand, or past the interning limit).
    pub(super) name: Option<Arc<String>>,
    // The link to its source's counts, carried by the first event of a source polled
    // outside any terminal stage (see `stream::stats`).
    pub(super) link: CarriedLink,
}

/// The counts of an event's source, for the terminal stage that takes the event. If
/// nobody took it, dropping it inside a terminal's poll links it there.
#[derive(Default)]
pub(super) struct CarriedLink(pub(super) Option<SourceStats>);

impl Drop for CarriedLink {
    fn drop(&mut self) {
        if let Some(stats) = self.0.take() {
            stats.link_current();
        }
    }
}

impl Extras {
    /// A copy of everything but the acknowledgement, which is settled once.
    pub(super) fn without_acks(&self) -> Extras {
        Extras {
            metadata: self.metadata.clone(),
            acks: Acks::none(),
            timestamp: self.timestamp,
            name: self.name.clone(),
            link: CarriedLink::default(),
        }
    }
}

impl fmt::Debug for Extras {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extras")
            .field("metadata", &self.metadata)
            .field("acks", &self.acks)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

/// `at` as nanoseconds since the Unix epoch (clamped to the representable range).
pub(super) fn to_nanos(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
