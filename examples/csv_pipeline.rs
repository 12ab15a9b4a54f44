//! A CSV pipeline end to end: a trades file streamed through the CSV source in chunks, a
//! parallel receiver aggregating per symbol, collectors for notable trades and bad rows,
//! and the final summary with throughput.
//!
//! Run: `cargo run --release --example csv_pipeline` (generates 3 million trades under
//! `target/csv_pipeline/` the first time), or give a file of your own:
//! `cargo run --release --example csv_pipeline -- path/to/trades.csv`.
//! `--rows N` changes the size of the generated file. Peak memory does not grow with the
//! file: the source reads a batch at a time, the receiver pulls a chunk only when a
//! worker is free, and only aggregates and notable trades are kept.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Deserialize;
use sweet_async::prelude::*;
use sweet_async::stream::Position;
use sweet_async::stream::source::csv_file;

/// One row of the file.
#[derive(Debug, Clone, Deserialize)]
struct Trade {
    trade_id: u64,
    #[allow(dead_code)] // parsed as part of the record, not used by this report
    timestamp: String,
    symbol: String,
    side: String,
    price: f64,
    quantity: u32,
    venue: String,
}

/// Running aggregates of one symbol.
#[derive(Debug, Default, Clone, Copy)]
struct SymbolStats {
    trades: u64,
    volume: u64,
    notional: f64,
    bought: u64,
    sold: u64,
}

impl SymbolStats {
    fn add(&mut self, t: &Trade) {
        self.trades += 1;
        self.volume += u64::from(t.quantity);
        self.notional += t.price * f64::from(t.quantity);
        if t.side == "BUY" {
            self.bought += u64::from(t.quantity);
        } else {
            self.sold += u64::from(t.quantity);
        }
    }

    fn merge(&mut self, other: &SymbolStats) {
        self.trades += other.trades;
        self.volume += other.volume;
        self.notional += other.notional;
        self.bought += other.bought;
        self.sold += other.sold;
    }
}

/// A trade worth a closer look: the largest block size on a venue.
const BLOCK_QUANTITY: u32 = 4_999;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (path, rows) = parse_args()?;
    let path = match path {
        Some(p) => p,
        None => generate(rows)?,
    };
    let bytes = std::fs::metadata(&path)?.len();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "streaming {} ({:.1} MB) with {workers} workers",
        path.display(),
        bytes as f64 / 1e6
    );

    let totals: Arc<Mutex<HashMap<String, SymbolStats>>> = Arc::default();
    let shared = totals.clone();
    let started = Instant::now();
    let (summary, blocks, bad_rows) = AsyncTask::emits::<Trade>()
        .name("trades")
        .on_error(ErrorPolicy::Collect) // bad rows travel on with their file and line
        .sender(csv_file::<Trade>(&path).into_chunks(1000.rows()))
        .receiver(
            ReceiverStrategy::parallel(workers)?,
            move |chunk, collector: Collector<u64, Trade>| {
                let totals = shared.clone();
                async move {
                    let mut local: HashMap<String, SymbolStats> = HashMap::new();
                    for (position, trade) in chunk.data.iter_located() {
                        if trade.price <= 0.0 {
                            // Named by the row's own line, not the chunk's first.
                            let at = position.unwrap_or(Position::new(0, 0));
                            collector.collect_error_at(trade.trade_id, at, "non-positive price");
                            continue;
                        }
                        local.entry(trade.symbol.clone()).or_default().add(trade);
                        if trade.quantity == BLOCK_QUANTITY {
                            collector.collect(trade.trade_id, trade.clone());
                        }
                    }
                    let mut totals = totals.lock().map_err(|_| "aggregates poisoned")?;
                    for (symbol, stats) in local {
                        totals.entry(symbol).or_default().merge(&stats);
                    }
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                }
            },
        )
        .await_final_event(|summary, collected| {
            let (_, _, blocks, errors) = collected.into_parts();
            (summary, blocks, errors)
        })
        .await;
    let elapsed = started.elapsed();

    let totals = totals.lock().map_err(|_| "aggregates poisoned")?;
    let mut symbols: Vec<_> = totals.iter().collect();
    symbols.sort_by(|a, b| a.0.cmp(b.0));
    println!(
        "\n{:<8} {:>10} {:>14} {:>10} {:>8}",
        "symbol", "trades", "volume", "vwap", "buy %"
    );
    for (symbol, s) in &symbols {
        println!(
            "{symbol:<8} {:>10} {:>14} {:>10.2} {:>7.1}%",
            s.trades,
            s.volume,
            s.notional / s.volume.max(1) as f64,
            100.0 * s.bought as f64 / (s.bought + s.sold).max(1) as f64,
        );
    }
    let rows_ok: u64 = symbols.iter().map(|(_, s)| s.trades).sum();
    println!("\nblock trades ({BLOCK_QUANTITY} shares): {}", blocks.len());
    if let Some((id, t)) = blocks.first() {
        println!(
            "  first: #{id} {} {} @ {:.2} on {}",
            t.symbol, t.side, t.price, t.venue
        );
    }
    println!("bad rows: {}", bad_rows.len());
    for e in bad_rows.iter().take(3) {
        let line = e.error.position().map_or(0, |p| p.line());
        match (e.error.source_error(), &e.key) {
            // A source error names its file, line and byte itself.
            (Some(source), _) => println!("  {source}"),
            (None, Some(trade_id)) => {
                println!("  line {line}, trade #{trade_id}: {}", e.error.kind())
            }
            (None, None) => println!("  line {line}: {}", e.error.kind()),
        }
    }
    println!("\nsummary: {summary}");
    println!(
        "rows: {} read, {rows_ok} aggregated in {:.2?} ({:.1} MB/s)",
        summary.rows_in,
        elapsed,
        bytes as f64 / 1e6 / elapsed.as_secs_f64()
    );
    Ok(())
}

/// `[path] [--rows N]`.
fn parse_args() -> Result<(Option<PathBuf>, usize), Box<dyn std::error::Error>> {
    let mut path = None;
    let mut rows = 3_000_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--rows" {
            rows = args.next().ok_or("--rows needs a number")?.parse()?;
        } else {
            path = Some(PathBuf::from(arg));
        }
    }
    Ok((path, rows))
}

/// Writes `rows` deterministic trades (plus a few malformed rows, as real exports have)
/// under `target/csv_pipeline/`, once.
fn generate(rows: usize) -> std::io::Result<PathBuf> {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned());
    let dir = Path::new(&target).join("csv_pipeline");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("trades-{rows}.csv"));
    if path.exists() {
        return Ok(path);
    }
    println!("generating {rows} trades into {} ...", path.display());
    let tmp = path.with_extension("partial");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut market = [
        ("ACME", 120.0),
        ("BETA", 45.5),
        ("GAMMA", 310.0),
        ("DELTA", 12.25),
        ("OMEGA", 88.0),
        ("SIGMA", 230.0),
        ("KAPPA", 64.0),
        ("ZETA", 150.0),
    ];
    let venues = ["XNYS", "XNAS", "BATS", "ARCA", "IEXG"];
    writeln!(out, "trade_id,timestamp,symbol,side,price,quantity,venue")?;
    for i in 0..rows {
        if i % 500_000 == 250_000 {
            // A truncated row and one with an unparsable price.
            writeln!(out, "{i},1700000000.000,ACME,BUY")?;
            writeln!(out, "{i},1700000000.000,ACME,BUY,n/a,100,XNYS")?;
            continue;
        }
        let Some((symbol, price)) = market.get_mut(rng.usize(0..8)) else {
            continue;
        };
        *price = (*price * (1.0 + (rng.f64() - 0.5) * 0.002)).max(0.01);
        writeln!(
            out,
            "{i},{}.{:03},{},{},{:.2},{},{}",
            1_700_000_000 + i / 100,
            rng.u32(0..1000),
            symbol,
            if rng.bool() { "BUY" } else { "SELL" },
            price,
            rng.u32(1..=BLOCK_QUANTITY),
            rng.choice(venues).unwrap_or("XNYS"),
        )?;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
