//! `par_map`, `par_map_unordered` and `par_map_blocking` against their peers, in one run:
//!
//! 1. `par_map_yield64`: concurrency 64 on yield-heavy async work (each item yields to
//!    the runtime a few times) against `futures`' `buffered`/`buffer_unordered` and a
//!    sequential loop, on a multi-thread runtime with 2 workers.
//! 2. `par_map_busy_consumer`: concurrency 8, each item is 16 sequential 1 ms timer waits,
//!    and the consumer spends 4 ms on each result. `buffered` polls its futures only while
//!    the consumer polls it, so its in-flight work stalls during those 4 ms; our driver
//!    keeps the work going.
//!    `consumer_alone` is the consumer's 200 waits of 4 ms with no work at all;
//!    `first_item_then_consumer` adds the first item's 16 waits before them: the floor of
//!    any design, since nothing can be consumed before the first result exists.
//!    `par_map_cpu_consumer` is the same with a consumer that spends its 4 ms computing
//!    (its worker thread busy) instead of waiting on a timer.
//! 3. `par_map_blocking_cpu`: CPU-heavy synchronous work on 100k items against rayon's
//!    `par_iter().map().collect()` and a sequential loop; `tokio_spawn_batches` is the
//!    measured alternative design (the same batches as tasks on the runtime's workers
//!    instead of the blocking pool).
//!
//! Run: `cargo bench --bench par_map`. The ratios print at the end. The machine is shared:
//! absolute times are noisy, the ratios from one run are what counts.

// A bench that cannot build its runtime has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use futures::{StreamExt, stream};
use rayon::prelude::*;
use sweet_async::prelude::*;

mod common;

/// Items per run in the yield-heavy group.
const YIELD_ITEMS: u64 = 20_000;
/// Yields per item in the yield-heavy group.
const YIELDS: usize = 4;
/// Items per run in the busy-consumer group.
const BUSY_ITEMS: u64 = 200;
/// Items per run in the CPU group.
const CPU_ITEMS: u64 = 100_000;
/// Hash rounds per item in the CPU group (a few microseconds of work).
const CPU_ROUNDS: u32 = 2_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Yield-heavy async work: a few trips through the scheduler and a value.
async fn yield_work(x: u64) -> u64 {
    for _ in 0..YIELDS {
        tokio::task::yield_now().await;
    }
    black_box(x).wrapping_mul(3)
}

/// Runs `fut` as a task on the runtime's workers (where a server's code runs), not on the
/// bench thread.
async fn on_worker<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(fut).await.unwrap()
}

fn bench_yield(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("par_map_yield64");
    g.sample_size(20);
    g.bench_function("sequential_loop", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async {
                let mut sum = 0u64;
                for x in 0..YIELD_ITEMS {
                    sum = sum.wrapping_add(yield_work(x).await);
                }
                sum
            })
        })
    });
    g.bench_function("futures_buffered", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async {
                stream::iter(0..YIELD_ITEMS)
                    .map(yield_work)
                    .buffered(64)
                    .fold(0u64, |s, v| async move { s.wrapping_add(v) })
                    .await
            })
        })
    });
    g.bench_function("par_map", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async {
                stream::iter(0..YIELD_ITEMS)
                    .par_map(64, yield_work)
                    .unwrap()
                    .fold(0u64, |s, v| async move { s.wrapping_add(v.unwrap()) })
                    .await
            })
        })
    });
    g.bench_function("futures_buffer_unordered", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async {
                stream::iter(0..YIELD_ITEMS)
                    .map(yield_work)
                    .buffer_unordered(64)
                    .fold(0u64, |s, v| async move { s.wrapping_add(v) })
                    .await
            })
        })
    });
    g.bench_function("par_map_unordered", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async {
                stream::iter(0..YIELD_ITEMS)
                    .par_map_unordered(64, yield_work)
                    .unwrap()
                    .fold(0u64, |s, v| async move { s.wrapping_add(v.unwrap()) })
                    .await
            })
        })
    });
    g.finish();
}

/// Slow async work: 16 sequential 1 ms timer waits.
async fn timer_work(x: u64) -> u64 {
    for _ in 0..16 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    x
}

/// A consumer that spends 4 ms on each result waiting (a timer).
async fn busy_consume(sum: u64, v: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(4)).await;
    sum.wrapping_add(v)
}

/// A consumer that spends 4 ms on each result computing (the worker thread is busy, as
/// with parsing or encoding each result).
async fn cpu_consume(sum: u64, v: u64) -> u64 {
    let started = std::time::Instant::now();
    let mut h = v;
    while started.elapsed() < Duration::from_millis(4) {
        h = black_box(h.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(7));
    }
    black_box(h);
    sum.wrapping_add(v)
}

/// The busy-consumer group for one kind of consumer.
fn bench_busy_consumer<C, Fut>(c: &mut Criterion, group: &str, consume: C, sequential: bool)
where
    C: Fn(u64, u64) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = u64> + Send + 'static,
{
    let rt = runtime();
    let mut g = c.benchmark_group(group);
    // Each run takes about a second: ten samples keep the group under a minute.
    g.sample_size(10);
    if sequential {
        g.bench_function("sequential_loop", |b| {
            b.to_async(&rt).iter(|| {
                on_worker(async move {
                    let mut sum = 0u64;
                    for x in 0..BUSY_ITEMS {
                        sum = consume(sum, timer_work(x).await).await;
                    }
                    sum
                })
            })
        });
    }
    g.bench_function("consumer_alone", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                let mut sum = 0u64;
                for x in 0..BUSY_ITEMS {
                    sum = consume(sum, x).await;
                }
                sum
            })
        })
    });
    // The floor of any design: no result before the first item's 16 waits, then the
    // consumer's 200 waits back to back.
    g.bench_function("first_item_then_consumer", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                let mut sum = timer_work(0).await;
                for x in 0..BUSY_ITEMS {
                    sum = consume(sum, x).await;
                }
                sum
            })
        })
    });
    g.bench_function("futures_buffered", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                stream::iter(0..BUSY_ITEMS)
                    .map(timer_work)
                    .buffered(8)
                    .fold(0u64, consume)
                    .await
            })
        })
    });
    g.bench_function("par_map", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                stream::iter(0..BUSY_ITEMS)
                    .par_map(8, timer_work)
                    .unwrap()
                    .fold(0u64, move |s, v| consume(s, v.unwrap()))
                    .await
            })
        })
    });
    g.bench_function("futures_buffer_unordered", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                stream::iter(0..BUSY_ITEMS)
                    .map(timer_work)
                    .buffer_unordered(8)
                    .fold(0u64, consume)
                    .await
            })
        })
    });
    g.bench_function("par_map_unordered", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                stream::iter(0..BUSY_ITEMS)
                    .par_map_unordered(8, timer_work)
                    .unwrap()
                    .fold(0u64, move |s, v| consume(s, v.unwrap()))
                    .await
            })
        })
    });
    g.finish();
}

/// CPU-heavy work: `CPU_ROUNDS` rounds of a 64-bit mixing hash.
fn cpu_work(x: u64) -> u64 {
    let mut h = x ^ 0x9E37_79B9_7F4A_7C15;
    for _ in 0..CPU_ROUNDS {
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 29;
    }
    h
}

fn bench_cpu(c: &mut Criterion) {
    let rt = runtime();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut g = c.benchmark_group("par_map_blocking_cpu");
    g.sample_size(10);
    g.bench_function("sequential_loop", |b| {
        b.iter(|| {
            let out: Vec<u64> = (0..CPU_ITEMS).map(cpu_work).collect();
            black_box(out)
        })
    });
    g.bench_function("rayon_par_iter", |b| {
        b.iter(|| {
            let out: Vec<u64> = (0..CPU_ITEMS).into_par_iter().map(cpu_work).collect();
            black_box(out)
        })
    });
    // The measured alternative to the blocking pool: the same batches as tasks on the
    // runtime's worker threads (what `par_map_blocking` would do with spawned tasks).
    g.bench_function("tokio_spawn_batches", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                // futures' `chunks` (DataflowExt has its own, validated one).
                let out: Vec<u64> = StreamExt::chunks(stream::iter(0..CPU_ITEMS), 128)
                    .map(|batch| async move {
                        tokio::spawn(
                            async move { batch.into_iter().map(cpu_work).collect::<Vec<_>>() },
                        )
                        .await
                        .unwrap()
                    })
                    .buffered(threads)
                    .flat_map(stream::iter)
                    .collect()
                    .await;
                black_box(out)
            })
        })
    });
    g.bench_function("par_map_blocking", |b| {
        b.to_async(&rt).iter(|| {
            on_worker(async move {
                let out: Vec<u64> = stream::iter(0..CPU_ITEMS)
                    .par_map_blocking(threads, cpu_work)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
                    .await;
                black_box(out)
            })
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_yield(&mut c);
    bench_busy_consumer(&mut c, "par_map_busy_consumer", busy_consume, true);
    // The sequential loop is the timer group's; it would add minutes here.
    bench_busy_consumer(&mut c, "par_map_cpu_consumer", cpu_consume, false);
    bench_cpu(&mut c);
    c.final_summary();
    common::print_ratios(
        "par_map_yield64",
        &[
            ("par_map", "futures_buffered"),
            ("par_map_unordered", "futures_buffer_unordered"),
            ("par_map", "sequential_loop"),
        ],
    );
    common::print_ratios(
        "par_map_busy_consumer",
        &[
            ("par_map", "futures_buffered"),
            ("par_map_unordered", "futures_buffer_unordered"),
            ("par_map", "sequential_loop"),
            ("par_map", "consumer_alone"),
            ("par_map", "first_item_then_consumer"),
            ("futures_buffered", "first_item_then_consumer"),
        ],
    );
    common::print_ratios(
        "par_map_cpu_consumer",
        &[
            ("par_map", "futures_buffered"),
            ("par_map_unordered", "futures_buffer_unordered"),
            ("par_map", "consumer_alone"),
            ("par_map", "first_item_then_consumer"),
            ("futures_buffered", "first_item_then_consumer"),
        ],
    );
    common::print_ratios(
        "par_map_blocking_cpu",
        &[
            ("par_map_blocking", "rayon_par_iter"),
            ("par_map_blocking", "sequential_loop"),
            ("tokio_spawn_batches", "rayon_par_iter"),
            ("rayon_par_iter", "sequential_loop"),
        ],
    );
}
