//! [`TrackingAllocator`]: a global allocator that attributes memory to the task being
//! polled.

// The crate's one `unsafe` module: `GlobalAlloc` is an unsafe trait with unsafe methods,
// so a global allocator cannot be written without `unsafe`. Every block says why it holds.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::Ordering;

use super::memory::{INSTALLED, MemoryCounters};

thread_local! {
    /// The memory counters of the metrics-enabled task being polled on this thread, or
    /// null. No destructor, so reading it never allocates or registers anything, even
    /// during thread teardown.
    ///
    /// Invariant (kept by `current.rs`, the only caller of [`point_at`]): when not null,
    /// it points into a `TaskMetrics` that this thread's current-task slot holds a strong
    /// reference to, and it is reset before that reference is released.
    static COUNTERS: Cell<*const MemoryCounters> = const { Cell::new(std::ptr::null()) };
}

/// Points this thread's allocations at `counters` (or at nothing).
///
/// Only `current.rs` calls this, under the invariant documented on `COUNTERS`.
pub(super) fn point_at(counters: Option<&MemoryCounters>) {
    let ptr = counters.map_or(std::ptr::null(), std::ptr::from_ref);
    let _ = COUNTERS.try_with(|c| c.set(ptr));
}

/// Runs `f` on the current task's counters, if any. Never allocates, locks or panics.
#[inline]
fn with_counters(f: impl FnOnce(&MemoryCounters)) {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    let _ = COUNTERS.try_with(|c| {
        let ptr = c.get();
        if !ptr.is_null() {
            // SAFETY: a non-null pointer points at the counters of a `TaskMetrics` whose
            // `Arc` the current-task slot of this thread still holds (invariant on
            // `COUNTERS`); the counters are only accessed through atomics, so a shared
            // reference is sound even while other threads update them.
            f(unsafe { &*ptr });
        }
    });
}

/// A global allocator that counts memory against the metrics-enabled task being polled.
///
/// Wraps another allocator (by default [`System`]) and forwards every call to it; after a
/// successful call it adds the size to the [`MemoryUsage`](super::MemoryUsage) of the
/// task whose poll is running on this thread, if any. Allocations outside such a poll
/// cost one relaxed atomic load and one thread-local read on top of the inner allocator.
///
/// It never allocates, locks or panics.
///
/// # Examples
///
/// Install it once, in the binary:
///
/// ```
/// use sweet_async::task::TaskMetrics;
/// use sweet_async::task::metrics::TrackingAllocator;
///
/// #[global_allocator]
/// static GLOBAL: TrackingAllocator = TrackingAllocator::new(std::alloc::System);
///
/// let metrics = TaskMetrics::new();
/// let buffer = {
///     let _poll = metrics.enter_poll();
///     vec![0u8; 1 << 20]
/// };
/// let memory = metrics.memory_usage();
/// assert!(memory.is_tracked());
/// assert!(memory.current_bytes() >= 1 << 20);
/// assert!(memory.peak_bytes() >= 1 << 20);
/// # drop(buffer);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "memory-tracking")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackingAllocator<A = System> {
    inner: A,
}

impl<A> TrackingAllocator<A> {
    /// Wraps `inner`; `const` so it can initialise a `static`.
    pub const fn new(inner: A) -> Self {
        TrackingAllocator { inner }
    }
}

// SAFETY: every method forwards to the inner allocator with the caller's arguments
// unchanged and returns its result unchanged, so the inner allocator's guarantees are
// ours; the bookkeeping after it neither allocates, unwinds, nor touches the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for TrackingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: our caller upholds `GlobalAlloc::alloc`'s contract for `layout`.
        let ptr = unsafe { self.inner.alloc(layout) };
        if !ptr.is_null() {
            with_counters(|c| c.record_alloc(layout.size()));
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: our caller upholds `GlobalAlloc::alloc_zeroed`'s contract for `layout`.
        let ptr = unsafe { self.inner.alloc_zeroed(layout) };
        if !ptr.is_null() {
            with_counters(|c| c.record_alloc(layout.size()));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: our caller guarantees `ptr` was allocated by this allocator (hence by
        // `inner`, which served every allocation) with `layout`.
        unsafe { self.inner.dealloc(ptr, layout) };
        with_counters(|c| c.record_free(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: our caller upholds `GlobalAlloc::realloc`'s contract; `ptr` came from
        // `inner` as every allocation of this allocator does.
        let new = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            with_counters(|c| c.record_realloc(layout.size(), new_size));
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_to_the_pointed_counters_only() {
        let alloc = TrackingAllocator::new(System);
        let counters = MemoryCounters::default();
        let layout = Layout::from_size_align(64, 8).unwrap();

        // Not pointed at: nothing counted.
        // SAFETY (test): non-zero-size layout, freed with the same layout.
        let p = unsafe { alloc.alloc(layout) };
        assert!(!p.is_null());
        // SAFETY (test): `p` was allocated above with `layout`.
        unsafe { alloc.dealloc(p, layout) };
        assert_eq!(
            counters.usage(std::time::Duration::ZERO).allocation_count(),
            0
        );

        point_at(Some(&counters));
        // SAFETY (test): non-zero-size layout; grown then freed with the matching layout.
        let p = unsafe { alloc.alloc_zeroed(layout) };
        assert!(!p.is_null());
        // SAFETY (test): `p` came from this allocator with `layout`; 128 is non-zero.
        let q = unsafe { alloc.realloc(p, layout, 128) };
        assert!(!q.is_null());
        let grown = Layout::from_size_align(128, 8).unwrap();
        // SAFETY (test): `q` was reallocated to 128 bytes, matching `grown`.
        unsafe { alloc.dealloc(q, grown) };
        point_at(None);

        let u = counters.usage(std::time::Duration::ZERO);
        assert_eq!(u.allocation_count(), 2);
        assert_eq!(u.total_allocated_bytes(), 192);
        assert_eq!(u.current_bytes(), 0);
        assert_eq!(u.peak_bytes(), 128);
        assert!(INSTALLED.load(Ordering::Relaxed));
    }
}
