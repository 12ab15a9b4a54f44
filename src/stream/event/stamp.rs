//! [`Stamp`]: what every event of one emitting stream shares.

use std::sync::Arc;
use std::time::SystemTime;

use super::extras::{Extras, to_nanos};
use crate::ack::Acks;
use crate::stream::origin::{Interned, Origin};
use crate::task::TaskId;

/// What every event of one emitting stream shares, fixed when the stream is built.
#[derive(Debug)]
pub(crate) struct Stamp {
    pub(super) task: TaskId,
    pub(super) origin: Option<Interned>,
    // A name not interned: each event carries it in its rare parts.
    shared: Option<Arc<String>>,
    timestamps: bool,
    // Events need rare parts: timestamps are on, or the name is shared.
    pub(super) rare: bool,
}

impl Stamp {
    /// The stamp of task `task`'s events, from source `origin`, timestamped or not.
    pub(crate) fn new(task: TaskId, origin: Option<Origin>, timestamps: bool) -> Self {
        let (origin, shared) = match origin {
            None => (None, None),
            Some(Origin::Interned(name)) => (Some(name), None),
            Some(Origin::Shared(name)) => (None, Some(name)),
        };
        Stamp {
            task,
            origin,
            rare: timestamps || shared.is_some(),
            shared,
            timestamps,
        }
    }

    /// `true` when events get rare parts: a timestamp, or a name not interned.
    pub(crate) fn is_rare(&self) -> bool {
        self.rare
    }

    /// The emitting task's id.
    pub(crate) fn task(&self) -> TaskId {
        self.task
    }

    /// The rare parts of an event emitted now: its timestamp, or a name not interned.
    #[cold]
    #[inline(never)]
    pub(super) fn extras(&self) -> Option<Box<Extras>> {
        self.extras_owing(Acks::none())
    }

    /// The rare parts of an event emitted now that owes `acks` to its source.
    #[cold]
    #[inline(never)]
    pub(super) fn extras_owing(&self, acks: Acks) -> Option<Box<Extras>> {
        Some(Box::new(Extras {
            timestamp: self.timestamps.then(|| to_nanos(SystemTime::now())),
            name: self.shared.clone(),
            acks,
            ..Extras::default()
        }))
    }
}
