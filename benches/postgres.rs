//! The PostgreSQL query source against a hand-written `query_raw` loop, in one run, over
//! the same table of 1M rows of four columns (`id bigint, user_id int, amount double,
//! label text`), each row read into the same tuple:
//!
//! - `query_raw_loop`: `client.query_raw(..)` and `try_next()` until the end, the floor;
//! - `sweet_async_query_chunked`: `from_database(pool, sql).rows_as::<..>()
//!   .into_chunks(1000.rows())` through an emitting task (the recommended shape); goal:
//!   at least 0.9x the rows/s of the loop, i.e. a time ratio of at most 1.11;
//! - `sweet_async_query_per_row`: the same with one event per row (the per-event cost).
//!
//! After criterion, the loop and the chunked source run alternately (11 rounds each) and
//! the medians print too: a ratio that holds while the machine's load drifts.
//!
//! Needs a server: `SWEET_ASYNC_PG_URL=postgres://.. cargo bench --features postgres
//! --bench postgres` (creates the table `bench_pg_rows_1m` the first time). Without the
//! variable it prints that it was skipped. The ratios print at the end.

// A bench that cannot build its runtime or reach its table has nothing to measure:
// failing loudly is right.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use futures::{StreamExt, TryStreamExt};
use sweet_async::connectors::postgres::from_database;
use sweet_async::prelude::*;
use tokio_postgres::types::ToSql;

mod common;

const ROWS: i64 = 1_000_000;
const TABLE: &str = "bench_pg_rows_1m";
const SQL: &str = "SELECT id, user_id, amount, label FROM bench_pg_rows_1m";

type Row4 = (i64, i32, f64, String);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn pool(url: &str) -> deadpool_postgres::Pool {
    let mut config = deadpool_postgres::Config::new();
    config.url = Some(url.to_owned());
    config
        .create_pool(
            Some(deadpool_postgres::Runtime::Tokio1),
            tokio_postgres::NoTls,
        )
        .unwrap()
}

/// Creates and fills the table the first time.
async fn prepare(pool: &deadpool_postgres::Pool) {
    let client = pool.get().await.unwrap();
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&TABLE])
        .await
        .unwrap()
        .get(0);
    if !exists {
        client
            .batch_execute(&format!(
                "CREATE TABLE {TABLE} (id bigint, user_id int, amount double precision, label text);
                 INSERT INTO {TABLE}
                   SELECT i, (i % 100000)::int, i / 100.0, 'label ' || (i % 1000)
                   FROM generate_series(1::bigint, {ROWS}) i;
                 ANALYZE {TABLE};"
            ))
            .await
            .unwrap();
    }
}

async fn query_raw_loop(pool: &deadpool_postgres::Pool) {
    let client = pool.get().await.unwrap();
    let rows = client
        .query_raw(SQL, std::iter::empty::<&(dyn ToSql + Sync)>())
        .await
        .unwrap();
    let mut rows = std::pin::pin!(rows);
    let mut n = 0i64;
    while let Some(row) = rows.try_next().await.unwrap() {
        let r: Row4 = (
            row.try_get(0).unwrap(),
            row.try_get(1).unwrap(),
            row.try_get(2).unwrap(),
            row.try_get(3).unwrap(),
        );
        black_box(r);
        n += 1;
    }
    assert_eq!(n, ROWS);
}

async fn query_chunked(pool: &deadpool_postgres::Pool) {
    let mut chunks = std::pin::pin!(
        AsyncTask::emits::<Row4>().sender(
            from_database(pool.clone(), SQL)
                .rows_as::<Row4>()
                .into_chunks(1000.rows())
        )
    );
    let mut n = 0i64;
    while let Some(chunk) = chunks.next().await {
        n += black_box(chunk.unwrap()).data().len() as i64;
    }
    assert_eq!(n, ROWS);
}

async fn query_per_row(pool: &deadpool_postgres::Pool) {
    let mut rows = std::pin::pin!(
        AsyncTask::emits::<Row4>().sender(from_database(pool.clone(), SQL).rows_as::<Row4>())
    );
    let mut n = 0i64;
    while let Some(row) = rows.next().await {
        black_box(row.unwrap());
        n += 1;
    }
    assert_eq!(n, ROWS);
}

/// The loop and the chunked source run alternately `rounds` times: on a machine whose load
/// drifts (shared CI runners), both see the same conditions. Prints both medians and the
/// ratio.
fn interleaved(url: &str, rounds: usize) {
    let rt = runtime();
    let pool = pool(url);
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    rt.block_on(async {
        for _ in 0..rounds {
            let t = Instant::now();
            query_raw_loop(&pool).await;
            peer.push(t.elapsed());
            let t = Instant::now();
            query_chunked(&pool).await;
            ours.push(t.elapsed());
        }
    });
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (ours, peer) = (median(&mut ours), median(&mut peer));
    println!(
        "\n== pg_query interleaved ({rounds} rounds): sweet_async_query_chunked {ours:.2?}, \
         query_raw_loop {peer:.2?}, time ratio {:.3}",
        ours.as_secs_f64() / peer.as_secs_f64()
    );
}

fn bench_query(c: &mut Criterion, url: &str) {
    let rt = runtime();
    let pool = rt.block_on(async {
        let pool = pool(url);
        prepare(&pool).await;
        pool
    });

    let mut g = c.benchmark_group("pg_query");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(2));
    g.measurement_time(Duration::from_secs(15));
    g.bench_function("query_raw_loop", |b| {
        b.to_async(&rt).iter(|| query_raw_loop(&pool))
    });
    g.bench_function("sweet_async_query_chunked", |b| {
        b.to_async(&rt).iter(|| query_chunked(&pool))
    });
    g.bench_function("sweet_async_query_per_row", |b| {
        b.to_async(&rt).iter(|| query_per_row(&pool))
    });
    g.finish();
}

fn main() {
    let Ok(url) = std::env::var("SWEET_ASYNC_PG_URL") else {
        eprintln!("skipped: SWEET_ASYNC_PG_URL not set (the postgres bench needs a server)");
        return;
    };
    let mut c = Criterion::default().configure_from_args();
    bench_query(&mut c, &url);
    c.final_summary();
    common::print_ratios(
        "pg_query",
        &[
            ("sweet_async_query_chunked", "query_raw_loop"),
            ("sweet_async_query_per_row", "query_raw_loop"),
        ],
    );
    interleaved(&url, 11);
}
