//! Event-time tumbling windows (a sum and a count per window) over 1M readings with slightly
//! out-of-order timestamps: `event_time_window(..).fold_windows(..)` against a plain single-threaded
//! loop computing the same windows from the same `Vec`, in one run.
//!
//! Run: `cargo bench --bench window`. The ratios print at the end.

// A bench that cannot build its input has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput};
use futures::{StreamExt, stream};
use sweet_async::operators::DataflowExt;
use sweet_async::operators::window::{Tumbling, WindowEvent};

mod common;

const ITEMS: usize = 1_000_000;
const SIZE: i64 = 1_000;
const OUT_OF_ORDER: i64 = 10;
const GROUP: &str = "window_event_time_tumbling";

#[derive(Debug, Clone, Copy)]
struct Reading {
    ts: i64,
    value: f64,
}

/// Timestamps `0, 1, 2, ...`, each moved by up to `±OUT_OF_ORDER / 2`: out of order, but
/// never behind the watermark.
fn readings() -> Vec<Reading> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..ITEMS as i64)
        .map(|i| Reading {
            ts: i + rng.i64(-OUT_OF_ORDER / 2..=OUT_OF_ORDER / 2),
            value: rng.f64(),
        })
        .collect()
}

/// `(start, sum, count)` per window, in firing order.
type Sums = Vec<(i64, f64, u64)>;

fn ours(data: &[Reading]) -> Sums {
    let windows = stream::iter(data.iter().copied())
        .event_time_window(
            Tumbling::event_time(SIZE).out_of_orderness(OUT_OF_ORDER),
            |r| r.ts,
        )
        .unwrap()
        .fold_windows((0.0f64, 0u64), |(sum, n), r| (sum + r.value, n + 1));
    futures::executor::block_on(
        windows
            .filter_map(|e| async move {
                match e {
                    WindowEvent::Fired(w) => Some((w.start, w.value.0, w.value.1)),
                    _ => None,
                }
            })
            .collect(),
    )
}

/// The same windows by hand: open windows in a `BTreeMap`, flushed when the watermark
/// passes their end.
fn plain_loop(data: &[Reading]) -> Sums {
    let mut open: BTreeMap<i64, (f64, u64)> = BTreeMap::new();
    let mut out = Vec::new();
    let mut max_ts = i64::MIN;
    for r in data {
        let start = r.ts - r.ts.rem_euclid(SIZE);
        let acc = open.entry(start).or_insert((0.0, 0));
        acc.0 += r.value;
        acc.1 += 1;
        max_ts = max_ts.max(r.ts);
        let watermark = max_ts - OUT_OF_ORDER - 1;
        while let Some(entry) = open.first_entry() {
            if *entry.key() + SIZE - 1 > watermark {
                break;
            }
            let (start, (sum, n)) = entry.remove_entry();
            out.push((start, sum, n));
        }
    }
    out.extend(open.into_iter().map(|(start, (sum, n))| (start, sum, n)));
    out
}

fn bench_tumbling(c: &mut Criterion) {
    let data = readings();
    let expected = plain_loop(&data);
    let got = ours(&data);
    assert_eq!(got.len(), expected.len());
    for (a, b) in got.iter().zip(&expected) {
        assert_eq!((a.0, a.2), (b.0, b.2));
        assert!((a.1 - b.1).abs() < 1e-6);
    }

    let mut g = c.benchmark_group(GROUP);
    g.sample_size(20);
    g.throughput(Throughput::Elements(ITEMS as u64));
    g.bench_function("ours_fold", |b| {
        b.iter(|| black_box(ours(black_box(&data))))
    });
    g.bench_function("plain_loop", |b| {
        b.iter(|| black_box(plain_loop(black_box(&data))))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_tumbling(&mut c);
    c.final_summary();
    common::print_ratios(GROUP, &[("ours_fold", "plain_loop")]);
}
