//! Cancellation levels, results, and the per-task cancellation scope.
//!
//! Every cancellable task owns a cancellation node: a tokio-util `CancellationToken` plus the
//! level it was cancelled with. A task started while another task's work is being polled
//! gets a child node, so cancelling the parent reaches it. Children point at their parent,
//! never the other way round, so there are no reference cycles.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use crate::error::CancellationLevel;

/// What a call to `cancel` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CancellationResult {
    /// The level asked for.
    pub level: CancellationLevel,
    /// Whether the `on_cancel` cleanup ran to completion.
    pub cleanup_ran: bool,
    /// Whether the `on_cancel` cleanup panicked (when it was called or while it ran):
    /// the panic was caught, the task ended cancelled, and the cleanup did not finish.
    pub cleanup_panicked: bool,
    /// From the cancel request until the task had stopped.
    pub took: Duration,
    /// Running tasks started in this task's scope (children, grandchildren, ...) that
    /// were cancelled with it.
    pub children_cancelled: usize,
    /// The task had already finished; nothing was cancelled.
    pub already_finished: bool,
}

/// The cancellation scope of one task.
#[derive(Debug)]
pub(crate) struct CancelNode {
    token: CancellationToken,
    /// 0 while not cancelled, otherwise `CancellationLevel::to_u8`.
    level: AtomicU8,
    /// Live nodes below this one.
    live_descendants: AtomicUsize,
    parent: Option<Arc<CancelNode>>,
}

tokio::task_local! {
    /// The scope of the task whose work is being polled right now.
    static CURRENT: Arc<CancelNode>;
}

impl CancelNode {
    /// A scope with no parent.
    pub(crate) fn root() -> Arc<Self> {
        Arc::new(CancelNode {
            token: CancellationToken::new(),
            level: AtomicU8::new(0),
            live_descendants: AtomicUsize::new(0),
            parent: None,
        })
    }

    /// A scope cancelled whenever `token` is (with level `Graceful`).
    pub(crate) fn linked(token: &CancellationToken) -> Arc<Self> {
        Arc::new(CancelNode {
            token: token.child_token(),
            level: AtomicU8::new(0),
            live_descendants: AtomicUsize::new(0),
            parent: None,
        })
    }

    /// A scope below `self`: cancelled whenever `self` is.
    pub(crate) fn child(self: &Arc<Self>) -> Arc<Self> {
        let mut p = Some(self);
        while let Some(node) = p {
            node.live_descendants.fetch_add(1, Ordering::Relaxed);
            p = node.parent.as_ref();
        }
        Arc::new(CancelNode {
            token: self.token.child_token(),
            level: AtomicU8::new(0),
            live_descendants: AtomicUsize::new(0),
            parent: Some(Arc::clone(self)),
        })
    }

    /// A child of the current scope, or `None` outside any task.
    pub(crate) fn child_of_current() -> Option<Arc<Self>> {
        CURRENT.try_with(|p| p.child()).ok()
    }

    /// Runs `f` with `self` as the current scope.
    pub(crate) fn enter<R>(self: &Arc<Self>, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(Arc::clone(self), f)
    }

    /// Cancels this scope and everything below it; returns the live descendants.
    pub(crate) fn cancel(&self, level: CancellationLevel) -> usize {
        // The first level set wins: a later, different request does not rewrite history.
        let _ = self
            .level
            .compare_exchange(0, level.to_u8(), Ordering::AcqRel, Ordering::Acquire);
        let children = self.live_descendants.load(Ordering::Relaxed);
        self.token.cancel();
        children
    }

    /// Whether this scope (or an ancestor) has been cancelled.
    #[cfg(test)]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The level this scope was cancelled with: its own, else the nearest ancestor's,
    /// else `Graceful` (an external token was cancelled).
    pub(crate) fn level(&self) -> CancellationLevel {
        let mut node = Some(self);
        while let Some(n) = node {
            if let Some(level) = CancellationLevel::from_u8(n.level.load(Ordering::Acquire)) {
                return level;
            }
            node = n.parent.as_deref();
        }
        CancellationLevel::Graceful
    }

    /// The token, to wait on.
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for CancelNode {
    fn drop(&mut self) {
        let mut p = self.parent.as_deref();
        while let Some(node) = p {
            node.live_descendants.fetch_sub(1, Ordering::Relaxed);
            p = node.parent.as_deref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_reaches_descendants_with_the_parent_level() {
        let root = CancelNode::root();
        let child = root.child();
        let grandchild = child.child();
        assert_eq!(root.live_descendants.load(Ordering::Relaxed), 2);
        assert_eq!(root.cancel(CancellationLevel::Kill), 2);
        assert!(grandchild.is_cancelled());
        assert_eq!(grandchild.level(), CancellationLevel::Kill);
        drop(grandchild);
        assert_eq!(root.live_descendants.load(Ordering::Relaxed), 1);
        assert_eq!(child.live_descendants.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn child_cancel_does_not_reach_parent() {
        let root = CancelNode::root();
        let child = root.child();
        child.cancel(CancellationLevel::Graceful);
        assert!(!root.is_cancelled());
        assert_eq!(child.level(), CancellationLevel::Graceful);
    }

    #[test]
    fn first_level_wins() {
        let root = CancelNode::root();
        root.cancel(CancellationLevel::Graceful);
        root.cancel(CancellationLevel::KillHard);
        assert_eq!(root.level(), CancellationLevel::Graceful);
    }

    #[test]
    fn scope_is_visible_only_inside_enter() {
        assert!(CancelNode::child_of_current().is_none());
        let root = CancelNode::root();
        let child = root.enter(CancelNode::child_of_current).unwrap();
        assert!(Arc::ptr_eq(child.parent.as_ref().unwrap(), &root));
        assert!(CancelNode::child_of_current().is_none());
    }
}
