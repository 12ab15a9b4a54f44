//! An ETL on a real database: `from_database(pool, "SELECT * FROM
//! raw_events").into_chunks(1000.rows())` streams the table in chunks of 1000 rows, each
//! chunk is enriched (amount in currency units, hour bucket, large-purchase flag), and a
//! batched binary `COPY` writes the result into `enriched_events`, one transaction per
//! batch. Prints the summary and the rows per second.
//!
//! Run against any PostgreSQL (the `.ci/servers` one, or yours):
//!
//! ```text
//! SWEET_ASYNC_PG_URL=postgres://user@127.0.0.1:5432/db \
//!     cargo run --release --features postgres --example postgres_etl [-- --rows N]
//! ```
//!
//! The first run creates and fills `raw_events` with 1 million generated rows (`--rows N`
//! uses `raw_events_N` instead). Memory stays flat whatever the size: the query's rows
//! are read as the pipeline consumes them, and the sink holds at most two batches.

use std::time::Instant;

use futures::StreamExt;

use sweet_async::connectors::postgres::{PgSink, from_database};
use sweet_async::prelude::*;
use tokio_postgres::Row;

/// One row of `raw_events`.
#[derive(Debug)]
struct RawEvent {
    id: i64,
    user_id: i32,
    kind: String,
    amount_cents: i64,
    created_at: std::time::SystemTime,
}

impl RawEvent {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(RawEvent {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            kind: row.try_get("kind")?,
            amount_cents: row.try_get("amount_cents")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// A row of `enriched_events`: id, user, kind, amount, hour since the epoch, large.
type Enriched = (i64, i32, String, f64, i64, bool);

fn enrich(e: RawEvent) -> Enriched {
    let amount = e.amount_cents as f64 / 100.0;
    let hour = e
        .created_at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| (d.as_secs() / 3600) as i64);
    let large = e.kind == "purchase" && amount >= 500.0;
    (e.id, e.user_id, e.kind, amount, hour, large)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("SWEET_ASYNC_PG_URL") else {
        eprintln!("set SWEET_ASYNC_PG_URL to a PostgreSQL URL, e.g. postgres://user@127.0.0.1/db");
        std::process::exit(2);
    };
    let rows: i64 = match std::env::args().skip_while(|a| a != "--rows").nth(1) {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    let raw = if rows == 1_000_000 {
        "raw_events".to_owned()
    } else {
        format!("raw_events_{rows}")
    };
    let mut config = deadpool_postgres::Config::new();
    config.url = Some(url);
    let pool = config.create_pool(
        Some(deadpool_postgres::Runtime::Tokio1),
        tokio_postgres::NoTls,
    )?;

    prepare(&pool, &raw, rows).await?;

    let started = Instant::now();
    let sql = format!("SELECT * FROM {raw}");
    let chunks = AsyncTask::emits::<RawEvent>()
        .name("etl-pipeline")
        .sender(
            from_database(pool.clone(), sql)
                .map_row(RawEvent::from_row)
                .into_chunks(1000.rows()),
        )
        .map(|chunk| {
            chunk.map(|e| e.map_data(|rows| rows.into_iter().map(enrich).collect::<Vec<_>>()))
        });
    let summary = PgSink::copy(
        pool.clone(),
        "enriched_events",
        ["id", "user_id", "kind", "amount", "hour", "large"],
    )
    .batch_rows(5000.rows())
    .write(chunks, |chunk| chunk.map(|e| e.data))
    .await?;
    let elapsed = started.elapsed();

    let client = pool.get().await?;
    let written: i64 = client
        .query_one("SELECT count(*) FROM enriched_events", &[])
        .await?
        .get(0);
    println!("{summary}");
    println!(
        "{written} of {rows} rows enriched in {elapsed:.2?}: {:.0} rows/s",
        written as f64 / elapsed.as_secs_f64()
    );
    if written != rows || !summary.is_clean() {
        return Err("not every row was written".into());
    }
    Ok(())
}

/// Creates and fills `raw` with `rows` generated events if it is absent, and empties
/// `enriched_events`.
async fn prepare(
    pool: &deadpool_postgres::Pool,
    raw: &str,
    rows: i64,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = pool.get().await?;
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&raw])
        .await?
        .get(0);
    if !exists {
        println!("creating {raw} with {rows} rows ...");
        client
            .batch_execute(&format!(
                "CREATE TABLE {raw} (id bigint PRIMARY KEY, user_id int NOT NULL, kind text NOT NULL,
                                     amount_cents bigint NOT NULL, created_at timestamptz NOT NULL);
                 INSERT INTO {raw}
                   SELECT i, ((i * 7919) % 100000)::int,
                          (ARRAY['view', 'click', 'purchase', 'refund'])[1 + i % 4],
                          (i * 104729) % 100000,
                          timestamptz '2024-01-01' + i * interval '1 second'
                   FROM generate_series(1::bigint, {rows}) i;
                 ANALYZE {raw};"
            ))
            .await?;
    }
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS enriched_events (id bigint, user_id int, kind text,
                 amount double precision, hour bigint, large boolean);
             TRUNCATE enriched_events;",
        )
        .await?;
    Ok(())
}
