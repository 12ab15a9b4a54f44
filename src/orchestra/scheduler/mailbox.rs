//! [`Mailbox`] and [`Command`]: how the orchestra talks to a running scheduler.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

use super::shared::NodeShared;
use crate::orchestra::job::{Attempt, Inbox, Prepared};
use crate::orchestra::report::TaskOutcome;
use crate::task::CancellationLevel;

/// Outcomes handed to `join_all` by id, in the order tasks ended: the report's own
/// entries, built as tasks end, so `join_all` hands them over as they are.
pub(crate) type EndedOutcomes<T, E, I> = Vec<(I, TaskOutcome<T, E, I>)>;

/// Where the orchestra's commands wait for a running scheduler: a queue it drains whole
/// (one atomic load when none is waiting), waking it through its [`Inbox`].
pub(crate) struct Mailbox<T, E, I> {
    pub(super) commands: Mutex<Vec<Command<T, E, I>>>,
    pub(super) has_commands: AtomicBool,
    pub(super) inbox: Arc<Inbox<T, E>>,
}

impl<T, E, I> Mailbox<T, E, I> {
    /// Queues a command for the scheduler; `false` when the scheduler is gone.
    pub(crate) fn command(&self, cmd: Command<T, E, I>) -> bool {
        if self.inbox.is_stopped() {
            return false;
        }
        self.commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cmd);
        self.has_commands.store(true, Ordering::Release);
        self.inbox.wake();
        true
    }

    /// Swaps every queued command into `out` (empty on entry).
    pub(super) fn drain(&self, out: &mut Vec<Command<T, E, I>>) {
        if self.has_commands.load(Ordering::Acquire)
            && self.has_commands.swap(false, Ordering::AcqRel)
        {
            let mut q = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *q, out);
        }
    }

    /// The orchestra is gone: tells the scheduler to shut down.
    pub(crate) fn close(&self) {
        self.inbox.close();
    }
}

/// What the orchestra asks of the scheduler.
pub(crate) enum Command<T, E, I> {
    /// A new task in slot `slot` (slots are handed out in order).
    Register {
        slot: u32,
        id: I,
        /// `None`: a task with every setting at its default.
        prepared: Option<Box<Prepared<T, E>>>,
        work: Box<dyn Attempt<T, E>>,
        /// A new chunk of shared cells, when `slot` starts one.
        chunk: Option<Arc<[NodeShared]>>,
    },
    /// `slot` depends on `dep` (the orchestra has checked for cycles).
    Link { slot: u32, dep: u32 },
    /// Start these tasks (each once their dependencies have ended).
    Activate {
        slots: Vec<u32>,
        /// Room for their outcomes, allocated by the orchestra's thread: the report is
        /// freed there too, so the next orchestra's outcomes reuse warm memory.
        room: EndedOutcomes<T, E, I>,
    },
    /// Cancel these tasks, then reply once all have ended.
    Cancel {
        slots: Vec<u32>,
        level: CancellationLevel,
        reply: oneshot::Sender<Result<(), u32>>,
    },
    /// Reply once these tasks have ended (`Err(slot)`: one was never started).
    Wait {
        slots: Vec<u32>,
        reply: oneshot::Sender<Result<(), u32>>,
    },
    /// Reply with every outcome not yet handed out, once no started task is running.
    JoinAll(oneshot::Sender<EndedOutcomes<T, E, I>>),
}
