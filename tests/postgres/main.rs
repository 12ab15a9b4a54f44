//! PostgreSQL connector against a real server (`SWEET_ASYNC_PG_URL`): the query source,
//! the work queue, the sink, pipelines through chunks and windows, and a consumer killed
//! mid-stream. Without the variable every test prints `skipped: SWEET_ASYNC_PG_URL not
//! set` and passes.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod crash;
mod pipeline;
mod query;
mod queue;
mod sink;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use deadpool_postgres::{Config, Pool, PoolConfig, Runtime};
use tokio_postgres::NoTls;

/// The variable holding the server's URL.
pub const URL_VAR: &str = "SWEET_ASYNC_PG_URL";

/// The server's URL, or `None` after saying the test is skipped.
pub fn url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: {URL_VAR} not set");
            None
        }
    }
}

/// A pool of up to `size` connections on `url`.
pub fn pool_on(url: &str, size: usize) -> Pool {
    let mut config = Config::new();
    config.url = Some(url.to_owned());
    config.pool = Some(PoolConfig::new(size));
    config.create_pool(Some(Runtime::Tokio1), NoTls).unwrap()
}

/// The server's pool for a test, or return (skipped) when there is no server.
#[macro_export]
macro_rules! pool_or_skip {
    () => {
        match $crate::url() {
            Some(url) => $crate::pool_on(&url, 8),
            None => return,
        }
    };
}

/// A name no other test (or run) uses: `prefix_<pid>_<time>_<n>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `sql` (several statements allowed).
pub async fn exec(pool: &Pool, sql: &str) {
    let client = pool.get().await.unwrap();
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

/// The first column of the first row of `sql`, as an `i64`.
pub async fn scalar(pool: &Pool, sql: &str) -> i64 {
    let client = pool.get().await.unwrap();
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .get(0)
}

/// The `i64`s of the first column of `sql`, in the order the server returns them.
pub async fn column(pool: &Pool, sql: &str) -> Vec<i64> {
    let client = pool.get().await.unwrap();
    client
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A work-queue table `name (id bigint primary key, body text, attempts, last_error,
/// run_at, failed_at, done_at)` holding ids `1..=n`.
pub async fn queue_table(pool: &Pool, name: &str, n: i64) {
    exec(
        pool,
        &format!(
            "CREATE TABLE {name} (id bigint PRIMARY KEY, body text NOT NULL, \
             attempts int NOT NULL DEFAULT 0, last_error text, run_at timestamptz, \
             failed_at timestamptz, done_at timestamptz);
             INSERT INTO {name} (id, body) SELECT i, 'job ' || i FROM generate_series(1, {n}) i;"
        ),
    )
    .await;
}

/// Drops the tables, ignoring any that are missing.
pub async fn drop_tables(pool: &Pool, names: &[&str]) {
    exec(
        pool,
        &format!("DROP TABLE IF EXISTS {} CASCADE", names.join(", ")),
    )
    .await;
}

/// The connector's streams, futures and handles can move between threads (a pipeline can
/// be spawned).
#[test]
fn public_types_are_send_and_sync_where_they_should_be() {
    use sweet_async::connectors::postgres::{
        Db, PgError, PgSink, PgWrite, QueryStream, QueueHandle, QueueStats, QueueStream, RawRows,
        RowsAs,
    };
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    type Item = sweet_async::ack::Acked<i64>;
    type Rows = fn(Item) -> Result<[(i64,); 1], std::io::Error>;
    send::<QueryStream<RawRows>>();
    send::<QueryStream<RowsAs<(i64, String)>>>();
    send::<QueueStream<RowsAs<(i64, String)>>>();
    send::<PgWrite<futures::stream::Iter<std::vec::IntoIter<Item>>, Rows, (i64,)>>();
    send_sync::<PgError>();
    send_sync::<PgSink>();
    send_sync::<QueueHandle>();
    send_sync::<QueueStats>();
    send_sync::<Db>();
}
