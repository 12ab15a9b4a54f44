//! `chunked` and `chunked_timeout` against their peers (`futures` `chunks`/`ready_chunks`,
//! `tokio-stream` `chunks_timeout`) and a plain loop building `Vec`s, in one run.
//!
//! Input: 1M `u64` from `futures::stream::iter`, chunks of 1000 (and of 16, where the
//! per-chunk cost shows). Run: `cargo bench --bench chunk`. The ratios print at the end.

// A bench that cannot build its runtime has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use futures::StreamExt;
use futures::stream;
use sweet_async::operators::DataflowExt;

mod common;

const N: u64 = 1_000_000;
const LONG: Duration = Duration::from_secs(3600);

/// Drains a stream of chunks, touching each chunk; returns the item count.
async fn drain<S: futures::Stream<Item = Vec<u64>> + Unpin>(mut s: S) -> usize {
    let mut total = 0;
    while let Some(chunk) = s.next().await {
        total += black_box(&chunk).len();
    }
    total
}

/// What a careful user writes by hand: push into a `Vec`, hand it over when full.
fn plain_loop(size: usize) -> usize {
    let mut total = 0;
    let mut buf = Vec::with_capacity(size);
    for x in 0..black_box(N) {
        buf.push(x);
        if buf.len() == size {
            total += black_box(&buf).len();
            buf = Vec::with_capacity(size);
        }
    }
    if !buf.is_empty() {
        total += black_box(&buf).len();
    }
    total
}

fn bench_chunks(c: &mut Criterion) {
    for size in [1000usize, 16] {
        let group = format!("chunks_{size}");
        let mut g = c.benchmark_group(&group);
        g.bench_function("sweet_async_chunks", |b| {
            b.iter(|| {
                let s = DataflowExt::chunked(stream::iter(0..N), size).unwrap();
                futures::executor::block_on(drain(s))
            })
        });
        g.bench_function("futures_chunks", |b| {
            b.iter(|| {
                futures::executor::block_on(drain(StreamExt::chunks(stream::iter(0..N), size)))
            })
        });
        g.bench_function("futures_ready_chunks", |b| {
            b.iter(|| futures::executor::block_on(drain(stream::iter(0..N).ready_chunks(size))))
        });
        g.bench_function("plain_loop", |b| b.iter(|| plain_loop(size)));
        g.finish();
    }
}

fn bench_chunks_timeout(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for size in [1000usize, 16] {
        let group = format!("chunks_timeout_{size}");
        let mut g = c.benchmark_group(&group);
        g.bench_function("sweet_async_chunks_timeout", |b| {
            b.iter(|| {
                rt.block_on(async {
                    let s = stream::iter(0..N).chunked_timeout(size, LONG).unwrap();
                    drain(Box::pin(s)).await
                })
            })
        });
        g.bench_function("tokio_stream_chunks_timeout", |b| {
            b.iter(|| {
                rt.block_on(async {
                    let s = tokio_stream::StreamExt::chunks_timeout(stream::iter(0..N), size, LONG);
                    drain(Box::pin(s)).await
                })
            })
        });
        g.bench_function("plain_loop", |b| b.iter(|| plain_loop(size)));
        g.finish();
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_chunks(&mut c);
    bench_chunks_timeout(&mut c);
    c.final_summary();
    for size in [1000, 16] {
        common::print_ratios(
            &format!("chunks_{size}"),
            &[
                ("sweet_async_chunks", "futures_chunks"),
                ("sweet_async_chunks", "futures_ready_chunks"),
                ("sweet_async_chunks", "plain_loop"),
            ],
        );
        common::print_ratios(
            &format!("chunks_timeout_{size}"),
            &[
                ("sweet_async_chunks_timeout", "tokio_stream_chunks_timeout"),
                ("sweet_async_chunks_timeout", "plain_loop"),
            ],
        );
    }
}
