//! [`Blame`]: which event a panic caught by the stage fails.

use super::received::Key;

/// Names the event whose closure call or poll is running, should it panic: its drop runs
/// only while unwinding (the normal path forgets it), so blaming costs nothing until
/// something panics. [`Receiver::poll_next`](super::Receiver) catches the panic and fails that event.
pub(super) struct Blame<'a> {
    pub(super) slot: &'a mut Option<Key>,
    pub(super) key: Key,
}

impl Blame<'_> {
    /// The work finished without panicking.
    #[inline(always)]
    pub(super) fn clear(self) {
        std::mem::forget(self);
    }
}

impl Drop for Blame<'_> {
    fn drop(&mut self) {
        *self.slot = Some(self.key);
    }
}
