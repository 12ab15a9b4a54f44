//! [`SharedTable`]: per-task state the orchestra reads without asking the scheduler.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::orchestra::report::OutcomeKind;
use crate::task::{StatusCell, TaskStatus};

/// Per-task state readable from outside the scheduler, lock-free.
#[derive(Debug, Default)]
pub(crate) struct NodeShared {
    pub(crate) status: StatusCell,
    pub(crate) skipped: AtomicBool,
}

impl NodeShared {
    /// How the task ended, if it did.
    pub(crate) fn kind(&self) -> Option<OutcomeKind> {
        match self.status.get() {
            TaskStatus::Completed => Some(OutcomeKind::Succeeded),
            TaskStatus::Failed => Some(OutcomeKind::Failed),
            TaskStatus::Cancelled if self.skipped.load(Ordering::Acquire) => {
                Some(OutcomeKind::Skipped)
            }
            TaskStatus::Cancelled => Some(OutcomeKind::Cancelled),
            TaskStatus::Pending | TaskStatus::Running => None,
        }
    }
}

/// How many tasks share one allocation of [`NodeShared`] cells.
const SHARED_CHUNK: usize = 256;

/// The [`NodeShared`] cells of every task, by slot, in chunks of [`SHARED_CHUNK`]: one
/// allocation (and one reference count) per chunk rather than per task. The orchestra and
/// the scheduler each hold the same chunks; slots are handed out in order, so a task
/// whose slot starts a chunk carries that chunk to the scheduler.
#[derive(Debug, Default)]
pub(crate) struct SharedTable {
    chunks: Vec<Arc<[NodeShared]>>,
}

impl SharedTable {
    /// The cells of slot `s`.
    pub(crate) fn get(&self, s: u32) -> Option<&NodeShared> {
        let s = s as usize;
        self.chunks.get(s / SHARED_CHUNK)?.get(s % SHARED_CHUNK)
    }

    /// Makes room for slot `s`; returns the new chunk when one was added.
    pub(crate) fn grow_for(&mut self, s: u32) -> Option<Arc<[NodeShared]>> {
        if (s as usize) / SHARED_CHUNK < self.chunks.len() {
            return None;
        }
        let chunk: Arc<[NodeShared]> = (0..SHARED_CHUNK).map(|_| NodeShared::default()).collect();
        self.chunks.push(Arc::clone(&chunk));
        Some(chunk)
    }

    /// Adds a chunk made by the other side.
    pub(super) fn push(&mut self, chunk: Arc<[NodeShared]>) {
        self.chunks.push(chunk);
    }
}
