//! [`TaskShared`]: the state a running task shares with its handle (spawned) or with the
//! orchestra's scheduler.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32};

use crate::task::StatusCell;
use crate::task::cancel::CancelNode;

/// State a spawned task shares with its handle.
#[derive(Debug)]
pub(crate) struct TaskShared {
    pub(crate) status: StatusCell,
    pub(crate) node: Arc<CancelNode>,
    pub(crate) cleanup_ran: AtomicBool,
    /// The `on_cancel` cleanup panicked (its call or its future).
    pub(crate) cleanup_panicked: AtomicBool,
    pub(crate) attempts: AtomicU32,
}

impl TaskShared {
    /// Pending, no attempt yet, cancelled through `node`.
    pub(crate) fn new(node: Arc<CancelNode>) -> Self {
        TaskShared {
            status: StatusCell::new(),
            node,
            cleanup_ran: AtomicBool::new(false),
            cleanup_panicked: AtomicBool::new(false),
            attempts: AtomicU32::new(0),
        }
    }
}
