//! Nexmark, the field's standard streaming benchmark (an online auction: persons, auctions
//! and bids), run with this crate's joins, windows and keyed partitions.
//!
//! Runs one query (or all) over events from RisingWave's `nexmark` generator (fixed base
//! time, so every run sees the same events) and prints the rows, events per second, events
//! per CPU-second and peak memory; `--check` compares the result with a hand-written
//! single-pass loop of the same query. No server needed.
//!
//! ```text
//! cargo run --release --example nexmark -- --query q5 --events 1000000 --partitions 2 --check
//! cargo run --release --example nexmark -- --query all --events 200000
//! cargo run --release --example nexmark -- --query q7 --events 1000000 --live   # generate while running
//! ```
//!
//! Options: `--query q0|q1|q2|q3|q4|q5|q7|q8|all` (default `all`), `--events N` (default
//! 1 000 000), `--partitions N` (0 = inline in one task, the default; N >= 1 = N keyed
//! partitions, each on its own task), `--live` (the generator feeds the query as it runs
//! instead of pre-generating the events into memory), `--check`.

mod events;
mod queries;
mod reference;

use std::error::Error;
use std::time::Instant;

use futures::stream;
use queries::Mode;

struct Args {
    query: String,
    events: usize,
    partitions: usize,
    live: bool,
    check: bool,
}

fn parse() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        query: "all".to_owned(),
        events: 1_000_000,
        partitions: 0,
        live: false,
        check: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--query" => args.query = it.next().ok_or("--query needs a value")?,
            "--events" => args.events = it.next().ok_or("--events needs a value")?.parse()?,
            "--partitions" => {
                args.partitions = it.next().ok_or("--partitions needs a value")?.parse()?;
            }
            "--live" => args.live = true,
            "--check" => args.check = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(args)
}

/// Peak resident memory of this process, in MiB (`VmHWM`), where `/proc` has it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let queries: Vec<&str> = if args.query == "all" {
        queries::QUERIES.to_vec()
    } else {
        vec![args.query.as_str()]
    };
    let mode = match args.partitions {
        0 => Mode::Inline,
        n => Mode::Partitions(n),
    };
    let data = (!args.live).then(|| events::in_memory(args.events));
    println!(
        "nexmark: {} events ({}), {:?}",
        args.events,
        if args.live {
            "live generator"
        } else {
            "pre-generated"
        },
        mode
    );
    for q in queries {
        let cpu = ProcessTime::now();
        let wall = Instant::now();
        let out = match &data {
            Some(events) => {
                // The events are read by reference, as from an in-memory table.
                let out = runtime.block_on(queries::query(q, stream::iter(events.iter()), mode))?;
                (out, wall.elapsed(), cpu.elapsed())
            }
            None => {
                let source = stream::iter(events::generator().take(args.events));
                let out = runtime.block_on(queries::query(q, source, mode))?;
                (out, wall.elapsed(), cpu.elapsed())
            }
        };
        let (out, wall, cpu) = out;
        let n = args.events as f64;
        println!(
            "{q}: {:>8} rows  {:>6.2} M events/s  {:>6.2} M events/CPU-s  peak RSS {:.0} MiB",
            out.len(),
            n / wall.as_secs_f64() / 1e6,
            n / cpu.as_secs_f64() / 1e6,
            peak_rss_mib().unwrap_or(f64::NAN),
        );
        if args.check {
            let want = match data {
                Some(events) => reference::query(q, events.iter()),
                None => reference::query(q, events::generator().take(args.events)),
            }
            .ok_or("unknown query")?;
            if want.sorted() != out.sorted() {
                return Err(format!("{q}: the result differs from the reference loop").into());
            }
            println!("{q}: equals the reference loop");
        }
    }
    let anomalies = queries::ANOMALIES.load(std::sync::atomic::Ordering::Relaxed);
    if anomalies > 0 {
        return Err(format!("{anomalies} late, evicted or failed items").into());
    }
    Ok(())
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
