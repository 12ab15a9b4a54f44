//! Nexmark q0-q5, q7, q8 (`examples/nexmark`) over pre-generated events: each query as a
//! hand-written single-pass loop (the limit), inline in one task, and on 1 and 2 keyed
//! partitions, in one run. Prints per query: events/s (criterion's median wall time),
//! events per CPU-second (median process CPU time of a run, every thread counted), the
//! ratio to the loop, 2 partitions against 1, and the peak memory a run adds; then the
//! live-generator figure and the memory of the windowed queries at 10x the events. The
//! ratios are printed twice: from criterion's samples (each variant measured in its own
//! stretch of time) and from interleaved rounds (every variant once per round, so a change
//! in the machine's load weighs on all alike: the figures to read on a shared machine).
//!
//! Run: `cargo bench --bench nexmark` (`NEXMARK_EVENTS=1000000` for more events, default
//! 200 000; criterion's filter selects groups, e.g. `cargo bench --bench nexmark -- q5`).

// A bench that cannot build its input has nothing to measure: failing loudly is right.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    unreachable_pub,
    dead_code
)]

#[path = "../examples/nexmark/events.rs"]
mod events;
#[path = "../examples/nexmark/queries.rs"]
mod queries;
#[path = "../examples/nexmark/reference.rs"]
mod reference;

mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use futures::stream;
use nexmark::event::Event;
use queries::{Mode, Output};

const VARIANTS: [&str; 4] = ["loop", "inline", "partitions_1", "partitions_2"];

/// CPU seconds of each run, by `(query, variant)`.
type CpuTimes = HashMap<(String, String), Vec<f64>>;
static CPU: Mutex<Option<CpuTimes>> = Mutex::new(None);

#[inline(never)]
fn run(rt: &tokio::runtime::Runtime, q: &str, variant: &str, events: &'static [Event]) -> Output {
    let source = stream::iter(events.iter());
    match variant {
        "loop" => reference::query(q, events.iter()).unwrap(),
        "inline" => rt
            .block_on(queries::query(q, source, Mode::Inline))
            .unwrap(),
        "partitions_1" => rt
            .block_on(queries::query(q, source, Mode::Partitions(1)))
            .unwrap(),
        _ => rt
            .block_on(queries::query(q, source, Mode::Partitions(2)))
            .unwrap(),
    }
}

/// Runs `iters` times over the in-memory events (read by reference); records the process
/// CPU time of each run and returns the wall time.
fn measure(
    rt: &tokio::runtime::Runtime,
    q: &str,
    variant: &str,
    events: &'static [Event],
    iters: u64,
) -> Duration {
    let mut wall = Duration::ZERO;
    for _ in 0..iters {
        let cpu = ProcessTime::now();
        let start = Instant::now();
        black_box(run(rt, q, variant, events));
        wall += start.elapsed();
        let secs = cpu.elapsed().as_secs_f64();
        let mut guard = CPU.lock().unwrap();
        guard
            .get_or_insert_with(HashMap::new)
            .entry((q.to_owned(), variant.to_owned()))
            .or_default()
            .push(secs);
    }
    wall
}

fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied()
}

fn status_kib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// In a child process (`NEXMARK_CHILD=q5:200000`): runs the query inline on the live
/// generator and prints `events/s events/CPU-s peak-RSS-KiB rows`.
fn child(spec: &str) {
    let (q, n) = spec.split_once(':').unwrap();
    let n: usize = n.parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cpu = ProcessTime::now();
    let start = Instant::now();
    let source = stream::iter(events::generator().take(n));
    let rows = rt
        .block_on(queries::query(q, source, Mode::Inline))
        .unwrap()
        .len();
    println!(
        "{} {} {} {rows}",
        n as f64 / start.elapsed().as_secs_f64(),
        n as f64 / cpu.elapsed().as_secs_f64(),
        status_kib("VmHWM:").unwrap_or(f64::NAN),
    );
}

/// Runs [`child`] in a fresh process, so its peak memory is the query's alone.
fn live(q: &str, n: usize) -> Option<(f64, f64, f64, usize)> {
    let out = std::process::Command::new(std::env::current_exe().ok()?)
        .env("NEXMARK_CHILD", format!("{q}:{n}"))
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut it = text.split_whitespace();
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

/// With `NEXMARK_PROFILE=q0:inline` (any query and variant): runs that variant once, for
/// a profiler (`valgrind --tool=callgrind --toggle-collect='*nexmark::run*'`), and exits.
fn profile(spec: &str, rt: &tokio::runtime::Runtime, data: &'static [Event]) {
    let (q, variant) = spec.split_once(':').unwrap();
    let rows = black_box(run(rt, q, variant, data)).len();
    println!("{q} {variant}: {rows} rows");
}

fn main() {
    if let Ok(spec) = std::env::var("NEXMARK_CHILD") {
        child(&spec);
        return;
    }
    let n: usize = std::env::var("NEXMARK_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data = events::in_memory(n);
    if let Ok(spec) = std::env::var("NEXMARK_PROFILE") {
        profile(&spec, &rt, data);
        return;
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    for q in queries::QUERIES {
        let mut g = c.benchmark_group(format!("nexmark_{q}"));
        g.throughput(Throughput::Elements(n as u64));
        for variant in VARIANTS {
            g.bench_function(variant, |b| {
                b.iter_custom(|iters| measure(&rt, q, variant, data, iters))
            });
        }
        g.finish();
    }
    c.final_summary();

    let mut cpu = CPU.lock().unwrap().take().unwrap_or_default();
    println!("\n== nexmark: {n} pre-generated events, medians");
    println!(
        "{:<4} {:<13} {:>10} {:>14} {:>9}",
        "q", "variant", "M ev/s", "M ev/CPU-s", "vs loop"
    );
    for q in queries::QUERIES {
        let group = format!("nexmark_{q}");
        let loop_cpu = cpu
            .get_mut(&(q.to_owned(), "loop".to_owned()))
            .and_then(|v| median(v));
        let mut per_variant = HashMap::new();
        for variant in VARIANTS {
            let Some(wall_ns) = common::median_ns(&group, variant) else {
                continue;
            };
            let Some(cpu_s) = cpu
                .get_mut(&(q.to_owned(), variant.to_owned()))
                .and_then(|v| median(v))
            else {
                continue;
            };
            per_variant.insert(variant, cpu_s);
            let ratio = loop_cpu.map_or(f64::NAN, |l| l / cpu_s);
            println!(
                "{:<4} {:<13} {:>10.2} {:>14.2} {:>9.2}",
                q,
                variant,
                n as f64 / wall_ns * 1e3,
                n as f64 / cpu_s / 1e6,
                ratio,
            );
        }
        if let (Some(p1), Some(p2)) = (
            per_variant.get("partitions_1"),
            per_variant.get("partitions_2"),
        ) {
            println!(
                "{q}: events per CPU-second, 2 partitions / 1 partition = {:.2}",
                p1 / p2
            );
        }
    }

    interleaved(&rt, data);

    println!(
        "\n== live generator (events generated while the query runs), inline, one process per \
         run: throughput with the generator's cost, and peak memory (VmHWM) at n and 10 n"
    );
    for q in queries::QUERIES {
        for events in [n, n * 10] {
            if events > n && matches!(q, "q0" | "q1" | "q2") {
                continue; // no state: nothing to show at 10 n
            }
            match live(q, events) {
                Some((eps, eps_cpu, kib, rows)) => println!(
                    "{q}: {events:>8} events  {:>6.2} M ev/s  {:>6.2} M ev/CPU-s  peak RSS {:>6.1} MiB  ({rows} rows)",
                    eps / 1e6,
                    eps_cpu / 1e6,
                    kib / 1024.0,
                ),
                None => println!("{q}: {events} events: the child run failed"),
            }
        }
    }
}

/// Rounds of [`interleaved`].
const ROUNDS: usize = 15;

/// The ratios to the loop again, from [`ROUNDS`] rounds that run every variant once in
/// turn, so that the load of the (shared) machine weighs on all variants alike: per variant
/// the median events per CPU-second, and the median and spread (lowest and highest) of the
/// per-round ratio to the loop, and of 2 partitions to 1.
fn interleaved(rt: &tokio::runtime::Runtime, events: &'static [Event]) {
    let n = events.len() as f64;
    println!("\n== interleaved: {ROUNDS} rounds of every variant in turn, CPU time");
    println!(
        "{:<4} {:<13} {:>12} {:>9} {:>15}",
        "q", "variant", "M ev/CPU-s", "vs loop", "spread"
    );
    for q in queries::QUERIES {
        let mut cpu: HashMap<&str, Vec<f64>> = HashMap::new();
        for _ in 0..ROUNDS {
            for variant in VARIANTS {
                let t = ProcessTime::now();
                black_box(run(rt, q, variant, events));
                cpu.entry(variant)
                    .or_default()
                    .push(t.elapsed().as_secs_f64());
            }
        }
        let rounds = |a: &str, b: &str| -> Vec<f64> {
            cpu[a].iter().zip(&cpu[b]).map(|(x, y)| x / y).collect()
        };
        for variant in VARIANTS {
            let mut ratios = rounds("loop", variant);
            let mut secs = cpu[variant].clone();
            let (lo, hi) = spread(&ratios);
            println!(
                "{:<4} {:<13} {:>12.2} {:>9.2} {:>7.2}-{:<7.2}",
                q,
                variant,
                n / median(&mut secs).unwrap_or(f64::NAN) / 1e6,
                median(&mut ratios).unwrap_or(f64::NAN),
                lo,
                hi,
            );
        }
        let mut two = rounds("partitions_1", "partitions_2");
        let (lo, hi) = spread(&two);
        println!(
            "{q}: 2 partitions / 1 partition = {:.2} ({lo:.2}-{hi:.2})",
            median(&mut two).unwrap_or(f64::NAN)
        );
    }
}

fn spread(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        })
}

/// CPU time of this whole process (all threads), from `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`.
struct ProcessTime(std::time::Duration);

impl ProcessTime {
    fn now() -> Self {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
        ProcessTime(std::time::Duration::new(
            u64::try_from(t.tv_sec).unwrap_or(0),
            u32::try_from(t.tv_nsec).unwrap_or(0),
        ))
    }

    fn elapsed(&self) -> std::time::Duration {
        Self::now().0.saturating_sub(self.0)
    }
}
