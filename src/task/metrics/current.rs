//! The metrics-enabled task being polled on this thread.
//!
//! One slot per thread holds a clone of the current [`TaskMetrics`]; a
//! [`PollGuard`](super::PollGuard) puts its task there and puts the previous one back.
//!
//! With `memory-tracking`, the tracking allocator reads a second, destructor-free
//! thread-local holding a raw pointer to the current task's memory counters. This module is
//! the only writer of that pointer and keeps it equal to the counters of the task held in
//! the slot (or null when the slot is empty), always changing the pointer before the task
//! it pointed at can be dropped. Since the slot owns a strong reference, the pointer is
//! valid whenever it is set, even if a guard is leaked.

use std::cell::RefCell;

use super::TaskMetrics;

/// The slot of one thread.
struct Slot(RefCell<Option<TaskMetrics>>);

#[cfg(feature = "memory-tracking")]
impl Drop for Slot {
    fn drop(&mut self) {
        // At thread exit, unhook the allocator before the task held here is dropped.
        super::alloc::point_at(None);
    }
}

thread_local! {
    static CURRENT: Slot = const { Slot(RefCell::new(None)) };
}

/// Makes `new` the current task of this thread and returns the previous one.
///
/// `Err(new)` when the slot cannot be reached (thread teardown) or is borrowed: nothing
/// changed.
pub(super) fn replace(
    new: Option<TaskMetrics>,
) -> Result<Option<TaskMetrics>, Option<TaskMetrics>> {
    let mut new = Some(new);
    let swapped = CURRENT.try_with(|slot| {
        let mut cell = slot.0.try_borrow_mut().ok()?;
        let new = new.take()?;
        // The pointer moves to `new` (alive: held here, then in the slot) before the
        // previous task leaves the slot.
        #[cfg(feature = "memory-tracking")]
        super::alloc::point_at(new.as_ref().map(TaskMetrics::memory_counters));
        Some(std::mem::replace(&mut *cell, new))
    });
    match swapped {
        Ok(Some(previous)) => Ok(previous),
        _ => Err(new.flatten()),
    }
}

/// Runs `f` on the current task; `None` when there is none.
#[inline]
pub(super) fn with<R>(f: impl FnOnce(&TaskMetrics) -> R) -> Option<R> {
    CURRENT
        .try_with(|slot| slot.0.try_borrow().ok()?.as_ref().map(f))
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_swaps_and_with_sees_the_current_task() {
        assert!(with(|_| ()).is_none());
        let a = TaskMetrics::new();
        let previous = replace(Some(a.clone())).unwrap();
        assert!(previous.is_none());
        assert_eq!(with(|m| m.ptr_eq(&a)), Some(true));
        let back = replace(None).unwrap();
        assert!(back.is_some_and(|m| m.ptr_eq(&a)));
        assert!(with(|_| ()).is_none());
    }

    #[test]
    fn each_thread_has_its_own_slot() {
        let a = TaskMetrics::new();
        let _ = replace(Some(a.clone())).unwrap();
        let elsewhere = std::thread::spawn(|| with(|_| ()).is_some())
            .join()
            .unwrap();
        assert!(!elsewhere);
        let _ = replace(None).unwrap();
    }
}
