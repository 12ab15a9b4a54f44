//! Memory attribution through the `TrackingAllocator` installed as the global allocator.
//!
//! Run with `cargo test --all-features --test memory_tracking`.
#![cfg(feature = "memory-tracking")]

use std::hint::black_box;

use sweet_async::task::TaskMetrics;
use sweet_async::task::metrics::TrackingAllocator;

#[global_allocator]
static GLOBAL: TrackingAllocator = TrackingAllocator::new(std::alloc::System);

const MIB: usize = 1 << 20;

#[test]
fn a_kept_allocation_counts_until_freed_in_a_later_poll() {
    let metrics = TaskMetrics::new();
    let kept = {
        let _poll = metrics.enter_poll();
        black_box(vec![1u8; MIB])
    };

    let held = metrics.memory_usage();
    assert!(held.is_tracked());
    assert!(held.current_bytes() >= MIB as i64, "{held:?}");
    assert!(held.peak_bytes() >= MIB as u64, "{held:?}");
    assert!(held.allocation_count() >= 1, "{held:?}");
    assert!(held.total_allocated_bytes() >= MIB as u64, "{held:?}");

    {
        let _poll = metrics.enter_poll();
        drop(black_box(kept));
    }
    let freed = metrics.memory_usage();
    assert_eq!(freed.current_bytes(), held.current_bytes() - MIB as i64);
    assert!(freed.current_bytes() < MIB as i64);
    assert_eq!(freed.peak_bytes(), held.peak_bytes());
    assert_eq!(freed.allocation_count(), held.allocation_count());
}

#[test]
fn allocations_outside_polls_are_not_attributed() {
    let metrics = TaskMetrics::new();
    {
        let _poll = metrics.enter_poll();
    }
    metrics.finish(); // so the snapshots compare equal, wall time included
    let before = metrics.memory_usage();

    let outside = black_box(vec![0u8; MIB]);
    let grown = black_box(outside.repeat(2));
    drop(outside);
    drop(grown);

    assert_eq!(metrics.memory_usage(), before);
    assert_eq!(before.allocation_count(), 0);
    assert_eq!(before.current_bytes(), 0);
}

#[test]
fn alloc_then_free_in_one_poll_nets_zero_and_reallocs_count() {
    let metrics = TaskMetrics::new();
    {
        let _poll = metrics.enter_poll();
        let mut v: Vec<u64> = Vec::with_capacity(1);
        for i in 0..1000 {
            v.push(black_box(i));
        }
        drop(black_box(v));
    }
    let memory = metrics.memory_usage();
    assert_eq!(memory.current_bytes(), 0, "{memory:?}");
    assert!(memory.peak_bytes() >= 8 * 1000, "{memory:?}");
    assert!(memory.allocation_count() >= 2, "{memory:?}");
}

#[test]
fn nested_polls_attribute_to_the_innermost_task() {
    let outer = TaskMetrics::new();
    let inner = TaskMetrics::new();
    let (a, b) = {
        let _poll = outer.enter_poll();
        let b = {
            let _nested = inner.enter_poll();
            black_box(vec![0u8; MIB])
        };
        (black_box(vec![0u8; 2 * MIB]), b)
    };
    assert!(inner.memory_usage().current_bytes() >= MIB as i64);
    assert!(inner.memory_usage().current_bytes() < 2 * MIB as i64);
    assert!(outer.memory_usage().current_bytes() >= 2 * MIB as i64);
    assert!(outer.memory_usage().current_bytes() < 3 * MIB as i64);
    drop((a, b));
}

#[test]
fn other_threads_are_not_attributed() {
    let metrics = TaskMetrics::new();
    let _poll = metrics.enter_poll();
    let before = metrics.memory_usage();
    let len = std::thread::scope(|s| {
        s.spawn(|| black_box(vec![0u8; MIB]).len())
            .join()
            .unwrap_or(0)
    });
    assert_eq!(len, MIB);
    let after = metrics.memory_usage();
    assert!(after.total_allocated_bytes() < before.total_allocated_bytes() + MIB as u64);
}

#[test]
fn a_leaked_guard_keeps_the_task_alive_and_memory_sound() {
    // Leaking a guard must not leave the allocator pointing at freed counters.
    std::thread::spawn(|| {
        let metrics = TaskMetrics::new();
        std::mem::forget(metrics.enter_poll());
        drop(metrics);
        black_box(vec![0u8; 1024]);
        let current = TaskMetrics::current().map(|m| m.memory_usage().allocation_count());
        assert!(current.is_some_and(|n| n >= 1));
    })
    .join()
    .unwrap();
}
