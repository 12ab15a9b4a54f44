//! Emitting tasks against their peers, in one run:
//!
//! - the CSV source against the `csv` crate's synchronous reader on the same file, like
//!   against like: typed records (`csv_file::<Trade>` vs `deserialize::<Trade>`) and raw
//!   records (`csv_records` vs `read_byte_record`); goal: at least 0.8x the records/s,
//!   i.e. a time ratio of at most 1.25;
//! - `emits -> receiver(Serial) -> await_final_event` of 1M small items against
//!   `futures::stream::iter(..).then(..).collect()`; goal: at most 1.1x its time; one
//!   event per item (the per-event cost) and `into_chunks(1000)` (the recommended shape);
//!
//! each with a plain loop as the floor. Run: `cargo bench --bench stream`; the ratios
//! print at the end.

// A bench that cannot build its runtime or write its data file has nothing to measure:
// failing loudly is right.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::hint::black_box;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput};
use futures::StreamExt;
use serde::Deserialize;
use sweet_async::prelude::*;
use sweet_async::stream::SenderEvent;
use sweet_async::stream::source::{RawRecord, csv_file, csv_records, of};

mod common;

/// Rows of the generated CSV file.
const ROWS: usize = 200_000;
/// Items of the in-memory pipeline bench.
const ITEMS: u64 = 1_000_000;

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // fields are read by serde only: the work measured is the parse
struct Trade {
    trade_id: u64,
    timestamp: String,
    symbol: String,
    side: String,
    price: f64,
    quantity: u32,
    venue: String,
}

/// A deterministic trades file under `target/`, written once.
fn trades_file() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
    let path = Path::new(&target).join(format!("bench-trades-{ROWS}.csv"));
    if path.exists() {
        return path;
    }
    let mut rng = fastrand::Rng::with_seed(42);
    let symbols = [
        "ACME", "BETA", "GAMMA", "DELTA", "OMEGA", "SIGMA", "KAPPA", "ZETA",
    ];
    let venues = ["XNYS", "XNAS", "BATS", "ARCA"];
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "trade_id,timestamp,symbol,side,price,quantity,venue").unwrap();
    for i in 0..ROWS {
        let secs = 1_700_000_000 + i as u64 / 50;
        writeln!(
            out,
            "{i},{secs}.{:03},{},{},{:.2},{},{}",
            rng.u32(0..1000),
            rng.choice(symbols).unwrap(),
            if rng.bool() { "BUY" } else { "SELL" },
            10.0 + rng.f64() * 490.0,
            rng.u32(1..5000),
            rng.choice(venues).unwrap(),
        )
        .unwrap();
    }
    out.flush().unwrap();
    path
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn bench_csv(c: &mut Criterion) {
    let path = trades_file();
    let rt = runtime();

    let mut g = c.benchmark_group("csv_typed");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(10);
    g.bench_function("plain_loop_lines", |b| {
        b.iter(|| {
            let f = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
            black_box(f.lines().count())
        })
    });
    g.bench_function("csv_sync_deserialize", |b| {
        b.iter(|| {
            let mut rdr = csv::Reader::from_path(&path).unwrap();
            let mut n = 0usize;
            for t in rdr.deserialize::<Trade>() {
                black_box(t.unwrap());
                n += 1;
            }
            assert_eq!(n, ROWS);
        })
    });
    g.bench_function("sweet_async_csv_file", |b| {
        b.to_async(&rt).iter(|| async {
            let mut events =
                std::pin::pin!(AsyncTask::emits::<Trade>().sender(csv_file::<Trade>(&path)));
            let mut n = 0usize;
            while let Some(e) = events.next().await {
                black_box(e.unwrap());
                n += 1;
            }
            assert_eq!(n, ROWS);
        })
    });
    g.bench_function("sweet_async_csv_file_chunked", |b| {
        b.to_async(&rt).iter(|| async {
            let mut events = std::pin::pin!(
                AsyncTask::emits::<Trade>()
                    .sender(csv_file::<Trade>(&path).into_chunks(1000.rows()))
            );
            let mut n = 0usize;
            while let Some(e) = events.next().await {
                n += black_box(e.unwrap()).data().len();
            }
            assert_eq!(n, ROWS);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("csv_raw");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(10);
    g.bench_function("csv_sync_read_byte_record", |b| {
        b.iter(|| {
            let mut rdr = csv::Reader::from_path(&path).unwrap();
            let mut record = csv::ByteRecord::new();
            let mut n = 0usize;
            while rdr.read_byte_record(&mut record).unwrap() {
                black_box(&record);
                n += 1;
            }
            assert_eq!(n, ROWS);
        })
    });
    g.bench_function("sweet_async_csv_records", |b| {
        b.to_async(&rt).iter(|| async {
            let mut events =
                std::pin::pin!(AsyncTask::emits::<RawRecord>().sender(csv_records(&path)));
            let mut n = 0usize;
            while let Some(e) = events.next().await {
                black_box(e.unwrap());
                n += 1;
            }
            assert_eq!(n, ROWS);
        })
    });
    g.bench_function("sweet_async_csv_records_chunked", |b| {
        b.to_async(&rt).iter(|| async {
            let mut events = std::pin::pin!(
                AsyncTask::emits::<RawRecord>().sender(csv_records(&path).into_chunks(1000.rows()))
            );
            let mut n = 0usize;
            while let Some(e) = events.next().await {
                n += black_box(e.unwrap()).data().len();
            }
            assert_eq!(n, ROWS);
        })
    });
    g.finish();
}

/// `emits -> receiver(Serial) -> await_final_event` of `ITEMS` numbers through `f`.
async fn serial_outputs<F, Fut>(f: F) -> Vec<u64>
where
    F: FnMut(SenderEvent<u64>, Collector<(), ()>) -> Fut,
    Fut: std::future::Future<Output = Result<u64, Infallible>> + Send + 'static,
{
    let v = AsyncTask::emits::<u64>()
        .sender(of(0..ITEMS))
        .receiver(ReceiverStrategy::Serial, f)
        .await_final_event(|_, collected| collected.into_outputs())
        .await;
    assert_eq!(v.len(), ITEMS as usize);
    v
}

fn bench_pipeline(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("emits_receiver_collect");
    g.throughput(Throughput::Elements(ITEMS));
    g.sample_size(20);
    g.bench_function("plain_loop", |b| {
        b.iter(|| {
            let v: Vec<u64> = (0..ITEMS).map(|x| black_box(x) + 1).collect();
            black_box(v)
        })
    });
    g.bench_function("futures_iter_then_collect", |b| {
        b.to_async(&rt).iter(|| async {
            let v: Vec<u64> = futures::stream::iter(0..ITEMS)
                .then(|x| async move { black_box(x) + 1 })
                .collect()
                .await;
            black_box(v)
        })
    });
    // Reference: the peer carrying this crate's event whole, built by hand.
    g.bench_function("futures_iter_then_collect_events", |b| {
        b.to_async(&rt).iter(|| async {
            let v: Vec<u64> = futures::stream::iter(0..ITEMS)
                .map(SenderEvent::new)
                .then(|event| async move { black_box(event.into_data()) + 1 })
                .collect()
                .await;
            black_box(v)
        })
    });
    // The receiver reads the payload field: its future holds only the payload.
    g.bench_function("sweet_async_receiver_serial", |b| {
        b.to_async(&rt)
            .iter(|| serial_outputs(|event, _| async move { Ok(black_box(event.data) + 1) }))
    });
    // The receiver moves the whole event into its future.
    g.bench_function("sweet_async_receiver_serial_into_data", |b| {
        b.to_async(&rt)
            .iter(|| serial_outputs(|event, _| async move { Ok(black_box(event.into_data()) + 1) }))
    });
    g.bench_function("sweet_async_receiver_serial_chunked", |b| {
        b.to_async(&rt).iter(|| async {
            let v = AsyncTask::emits::<u64>()
                .sender(of(0..ITEMS).into_chunks(1000.items()))
                .receiver(
                    ReceiverStrategy::Serial,
                    |chunk, c: Collector<(), u64>| async move {
                        c.collect_items(chunk.into_data().into_iter().map(|x| black_box(x) + 1));
                        Ok::<_, Infallible>(())
                    },
                )
                .await_final_event(|_, collected| collected.into_parts().1)
                .await;
            assert_eq!(v.len(), ITEMS as usize);
            black_box(v)
        })
    });
    g.bench_function("sweet_async_receiver_serial_collector", |b| {
        b.to_async(&rt).iter(|| async {
            let v = AsyncTask::emits::<u64>()
                .sender(of(0..ITEMS))
                .receiver(
                    ReceiverStrategy::Serial,
                    |event, c: Collector<(), u64>| async move {
                        c.collect_item(black_box(event.into_data()) + 1);
                        Ok::<_, Infallible>(())
                    },
                )
                .await_final_event(|_, collected| collected.into_parts().1)
                .await;
            black_box(v)
        })
    });
    g.finish();
}

/// An item of `8 + 8 * N` bytes, moved whole into the future by a method call, as a
/// receiver's `event.into_data()` moves an event.
struct Item<const N: usize> {
    data: u64,
    _rest: [u64; N],
}

impl<const N: usize> Item<N> {
    fn new(x: u64) -> Self {
        Item {
            data: x,
            _rest: [x; N],
        }
    }

    fn into_data(self) -> u64 {
        self.data
    }
}

async fn then_collect_items<const N: usize>() -> Vec<u64> {
    futures::stream::iter(0..ITEMS)
        .map(Item::<N>::new)
        .then(|item| async move { black_box(item.into_data()) + 1 })
        .collect()
        .await
}

/// What carrying an item of the size of an event costs `futures` itself: the peer of
/// `emits_receiver_collect` with bigger items, each moved whole into its future.
fn bench_item_size(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("futures_then_item_bytes");
    g.throughput(Throughput::Elements(ITEMS));
    g.sample_size(20);
    g.bench_function("8", |b| b.to_async(&rt).iter(then_collect_items::<0>));
    g.bench_function("24", |b| b.to_async(&rt).iter(then_collect_items::<2>));
    g.bench_function("48", |b| b.to_async(&rt).iter(then_collect_items::<5>));
    // The size of `SenderEvent<u64>`.
    g.bench_function("80", |b| b.to_async(&rt).iter(then_collect_items::<9>));
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_csv(&mut c);
    bench_pipeline(&mut c);
    bench_item_size(&mut c);
    c.final_summary();
    common::print_ratios(
        "csv_typed",
        &[
            ("sweet_async_csv_file", "csv_sync_deserialize"),
            ("sweet_async_csv_file_chunked", "csv_sync_deserialize"),
            ("csv_sync_deserialize", "plain_loop_lines"),
        ],
    );
    common::print_ratios(
        "csv_raw",
        &[
            ("sweet_async_csv_records", "csv_sync_read_byte_record"),
            (
                "sweet_async_csv_records_chunked",
                "csv_sync_read_byte_record",
            ),
        ],
    );
    common::print_ratios(
        "emits_receiver_collect",
        &[
            ("sweet_async_receiver_serial", "futures_iter_then_collect"),
            (
                "sweet_async_receiver_serial_into_data",
                "futures_iter_then_collect",
            ),
            (
                "sweet_async_receiver_serial_into_data",
                "futures_iter_then_collect_events",
            ),
            (
                "futures_iter_then_collect_events",
                "futures_iter_then_collect",
            ),
            (
                "sweet_async_receiver_serial_chunked",
                "futures_iter_then_collect",
            ),
            (
                "sweet_async_receiver_serial_collector",
                "futures_iter_then_collect",
            ),
            ("futures_iter_then_collect", "plain_loop"),
        ],
    );
    common::print_ratios(
        "futures_then_item_bytes",
        &[("24", "8"), ("48", "8"), ("80", "8")],
    );
}
