//! [`EventId`], the key of an event, and [`Position`], where it was in its source.

use std::fmt;

use crate::task::TaskId;

/// The key of an event: the id of the task that emitted it plus a per-task sequence
/// number.
///
/// Taking the task id once and counting events costs nothing per event, where a UUID per
/// event would cost a random draw each; the pair is still unique across tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    pub(super) task: TaskId,
    pub(super) seq: u64,
}

impl EventId {
    /// The key of event number `seq` of `task`.
    pub const fn new(task: TaskId, seq: u64) -> Self {
        EventId { task, seq }
    }

    /// The task that emitted the event.
    pub const fn task_id(&self) -> TaskId {
        self.task
    }

    /// The event's number within its task (the first event of a task is 0).
    pub const fn sequence_number(&self) -> u64 {
        self.seq
    }
}

impl Default for EventId {
    /// Sequence number 0 of the all-zero task id: the key of events built by hand.
    fn default() -> Self {
        EventId::new(TaskId::from_bytes([0; 16]), 0)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.task, self.seq)
    }
}

/// Where an item was in its source: the 1-based line where it starts and its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub(super) line: u64,
    pub(super) byte: u64,
}

impl Position {
    /// Line `line` (1-based), starting at byte `byte` of the source.
    pub const fn new(line: u64, byte: u64) -> Self {
        Position { line, byte }
    }

    /// The 1-based line where the item starts (0 when the source has no lines).
    pub const fn line(&self) -> u64 {
        self.line
    }

    /// The byte offset of the item's start.
    pub const fn byte(&self) -> u64 {
        self.byte
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} (byte {})", self.line, self.byte)
    }
}
