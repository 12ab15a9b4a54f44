//! `AsyncTask::to().run(f).await` against awaiting `f()` directly and against the
//! hand-written equivalent (`tokio::time::timeout` inside a retry loop, also reporting the
//! attempts made and the execution time, as a `TaskResult` does), in one run.
//!
//! Run: `cargo bench --bench task`. The ratios print at the end.

// A bench that cannot build its runtime has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use sweet_async::prelude::*;
use sweet_async::task::RetryStrategy;

mod common;

/// The work: one yield (a real suspension point) and a value.
async fn work(x: u64) -> Result<u64, Infallible> {
    tokio::task::yield_now().await;
    Ok(black_box(x) + 1)
}

/// What a careful user writes by hand for the same result: a timeout per attempt, up to
/// three retries with exponential backoff, and what a `TaskResult` reports besides the
/// value (the attempts made and the execution time).
async fn hand_written(x: u64) -> (Result<u64, &'static str>, u32, Duration) {
    let start = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    for attempt in 0..=3u32 {
        match tokio::time::timeout(Duration::from_secs(5), work(x)).await {
            Ok(Ok(v)) => return (Ok(v), attempt + 1, start.elapsed()),
            Ok(Err(never)) => match never {},
            Err(_elapsed) if attempt < 3 => {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(_elapsed) => return (Err("timed out"), attempt + 1, start.elapsed()),
        }
    }
    (Err("retries exhausted"), 4, start.elapsed())
}

fn bench_overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("task_overhead");
    g.bench_function("direct_await", |b| {
        b.to_async(&rt).iter(|| async { black_box(work(1).await) })
    });
    g.bench_function("hand_written_timeout_retry", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(hand_written(1).await) })
    });
    g.bench_function("sweet_async_task", |b| {
        b.to_async(&rt).iter(|| async {
            let r = AsyncTask::to::<u64>()
                .timeout(5.seconds())
                .retry_strategy(RetryStrategy::Exponential {
                    base: Duration::from_millis(100),
                    factor: 2.0,
                    max: Duration::from_secs(1),
                })
                .retry(3)
                .run(|| work(1))
                .await;
            black_box(r.into_result())
        })
    });
    g.bench_function("sweet_async_plain", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(AsyncTask::to::<u64>().run(|| work(1)).await.into_result())
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_overhead(&mut c);
    c.final_summary();
    common::print_ratios(
        "task_overhead",
        &[
            ("sweet_async_task", "hand_written_timeout_retry"),
            ("sweet_async_plain", "direct_await"),
            ("hand_written_timeout_retry", "direct_await"),
        ],
    );
}
