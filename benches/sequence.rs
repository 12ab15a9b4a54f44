//! Sequence operators against a plain single-threaded loop doing the same work over the
//! same data, in one run: `reorder_by_id` (1M items, ids shuffled within windows of 64)
//! against a `BTreeMap` loop and a `BinaryHeap` loop, and `order_by_timestamp` (1M events
//! up to 50 time units out of order) against a `BinaryHeap` watermark loop.
//!
//! Run: `cargo bench --bench sequence`. The ratios print at the end.

// A bench that cannot build its data has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput};
use futures::{StreamExt, stream};
use sweet_async::operators::{DataflowExt, Sequenced};

mod common;

const N: u64 = 1_000_000;

#[derive(Debug, Clone, Copy)]
struct Packet {
    id: u64,
    payload: u64,
}

/// Ids `0..N`, shuffled within each window of 64 (seeded: the same data every run).
fn shuffled_packets() -> Vec<Packet> {
    let mut rng = fastrand::Rng::with_seed(0x5EED);
    let mut v: Vec<Packet> = (0..N)
        .map(|id| Packet {
            id,
            payload: id * 3,
        })
        .collect();
    for window in v.chunks_mut(64) {
        rng.shuffle(window);
    }
    v
}

/// Ours: the stream operator, driven to the end on the current thread.
fn ours_reorder(data: Vec<Packet>) -> (u64, u64) {
    futures::executor::block_on(async {
        let mut s = stream::iter(data).reorder_by_id(64, |p| p.id).unwrap();
        let (mut sum, mut other) = (0_u64, 0_u64);
        while let Some(out) = s.next().await {
            match out {
                Ok(Sequenced::Item(p)) => sum = sum.wrapping_add(p.payload),
                _ => other += 1,
            }
        }
        (sum, other)
    })
}

/// The plain loop: a `BTreeMap` keyed by id, drained while the next id is at its front.
fn loop_btreemap(data: Vec<Packet>) -> (u64, u64) {
    let mut buf: BTreeMap<u64, Packet> = BTreeMap::new();
    let (mut next, mut sum, mut other) = (0_u64, 0_u64, 0_u64);
    for p in data {
        if p.id == next {
            sum = sum.wrapping_add(p.payload);
            next += 1;
            while let Some(e) = buf.first_entry() {
                if *e.key() != next {
                    break;
                }
                sum = sum.wrapping_add(e.remove().payload);
                next += 1;
            }
        } else if p.id < next || buf.contains_key(&p.id) {
            other += 1;
        } else {
            buf.insert(p.id, p);
            if buf.len() > 64 {
                // Give the gap up, as the operator does.
                other += 1;
                next = *buf.first_key_value().unwrap().0;
                while let Some(e) = buf.first_entry() {
                    if *e.key() != next {
                        break;
                    }
                    sum = sum.wrapping_add(e.remove().payload);
                    next += 1;
                }
            }
        }
    }
    (sum, other)
}

/// The plain loop with a min-heap of ids (no duplicate detection: the data has none).
fn loop_binaryheap(data: Vec<Packet>) -> (u64, u64) {
    let mut heap: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let (mut next, mut sum) = (0_u64, 0_u64);
    for p in data {
        if p.id == next {
            sum = sum.wrapping_add(p.payload);
            next += 1;
            while heap.peek().is_some_and(|Reverse((id, _))| *id == next) {
                let Reverse((_, payload)) = heap.pop().unwrap();
                sum = sum.wrapping_add(payload);
                next += 1;
            }
        } else {
            heap.push(Reverse((p.id, p.payload)));
        }
    }
    (sum, 0)
}

#[derive(Debug, Clone, Copy)]
struct Event {
    ts: i64,
    value: u64,
}

/// Timestamps `10 * i` plus a seeded jitter below 50.
fn jittered_events() -> Vec<Event> {
    let mut rng = fastrand::Rng::with_seed(0x7153);
    (0..N)
        .map(|i| Event {
            ts: i as i64 * 10 + rng.i64(0..50),
            value: i,
        })
        .collect()
}

fn ours_order(data: Vec<Event>) -> (u64, u64) {
    futures::executor::block_on(async {
        let mut s = stream::iter(data).order_by_timestamp(50, |e| e.ts).unwrap();
        let (mut sum, mut late) = (0_u64, 0_u64);
        while let Some(out) = s.next().await {
            match out {
                Ok(Sequenced::Item(e)) => sum = sum.wrapping_add(e.value),
                _ => late += 1,
            }
        }
        (sum, late)
    })
}

/// The plain loop: a min-heap of `(ts, arrival)` released by the same watermark.
fn loop_order(data: Vec<Event>) -> (u64, u64) {
    let mut heap: BinaryHeap<Reverse<(i64, u64, u64)>> = BinaryHeap::new();
    let (mut max, mut last) = (i64::MIN, i64::MIN);
    let (mut sum, mut late) = (0_u64, 0_u64);
    for (seq, e) in (0_u64..).zip(data) {
        if e.ts < last {
            late += 1;
            continue;
        }
        max = max.max(e.ts);
        heap.push(Reverse((e.ts, seq, e.value)));
        let watermark = max.saturating_sub(51);
        while heap
            .peek()
            .is_some_and(|Reverse((ts, _, _))| *ts <= watermark)
        {
            let Reverse((ts, _, value)) = heap.pop().unwrap();
            last = ts;
            sum = sum.wrapping_add(value);
        }
    }
    while let Some(Reverse((_, _, value))) = heap.pop() {
        sum = sum.wrapping_add(value);
    }
    (sum, late)
}

fn bench_reorder(c: &mut Criterion) {
    let data = shuffled_packets();
    let want = loop_btreemap(data.clone());
    assert_eq!(ours_reorder(data.clone()), want);
    assert_eq!(loop_binaryheap(data.clone()).0, want.0);

    let mut g = c.benchmark_group("reorder_by_id");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N));
    g.bench_function("sweet_async", |b| {
        b.iter_batched(
            || data.clone(),
            |d| black_box(ours_reorder(d)),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("loop_btreemap", |b| {
        b.iter_batched(
            || data.clone(),
            |d| black_box(loop_btreemap(d)),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("loop_binaryheap", |b| {
        b.iter_batched(
            || data.clone(),
            |d| black_box(loop_binaryheap(d)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn bench_order(c: &mut Criterion) {
    let data = jittered_events();
    assert_eq!(ours_order(data.clone()), loop_order(data.clone()));

    let mut g = c.benchmark_group("order_by_timestamp");
    g.sample_size(20);
    g.throughput(Throughput::Elements(N));
    g.bench_function("sweet_async", |b| {
        b.iter_batched(
            || data.clone(),
            |d| black_box(ours_order(d)),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("loop_binaryheap", |b| {
        b.iter_batched(
            || data.clone(),
            |d| black_box(loop_order(d)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_reorder(&mut c);
    bench_order(&mut c);
    c.final_summary();
    common::print_ratios(
        "reorder_by_id",
        &[
            ("sweet_async", "loop_btreemap"),
            ("sweet_async", "loop_binaryheap"),
        ],
    );
    common::print_ratios("order_by_timestamp", &[("sweet_async", "loop_binaryheap")]);
}
