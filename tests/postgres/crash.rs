//! A consumer process killed mid-stream (SIGKILL) loses nothing: the server rolls back
//! its open batch, a second consumer takes those rows again, and the only duplicates in
//! the sink are the rows of the batch it had written but not yet committed in the queue.
//!
//! The consumer is this test binary run again with `CHILD_VAR` set, so that
//! [`crash_child_consumer`] acts as the consumer; without the variable it returns at once.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sweet_async::connectors::postgres::{PgSink, QueueStats, work_queue};
use sweet_async::prelude::*;

use crate::{URL_VAR, column, drop_tables, exec, pool_on, queue_table, scalar, unique, url};

const CHILD_VAR: &str = "SWEET_ASYNC_PG_CRASH_CHILD";
const N: i64 = 2000;
/// Rows per queue batch; with one open batch, the most rows in flight.
const BATCH: usize = 50;

/// The consumer: queue → chunks of 25 → (slowed by `pause` per chunk) → COPY sink.
async fn consume(
    pool: deadpool_postgres::Pool,
    queue: &str,
    out: &str,
    pause: Duration,
) -> (Summary, QueueStats) {
    let jobs = work_queue(pool.clone(), queue)
        .columns("id, body")
        .batch_size(BATCH.rows())
        .open_batches(1)
        .stop_when_empty(true)
        .rows_as::<(i64, String)>();
    let handle = jobs.handle();
    let events = AsyncTask::emits::<(i64, String)>()
        .sender(jobs.into_chunks(25.rows()))
        .then(move |chunk| async move {
            tokio::time::sleep(pause).await;
            chunk
        });
    let summary = PgSink::copy(pool, out, ["id", "body"])
        .batch_rows(BATCH.rows())
        .write(events, |chunk| chunk.map(|c| c.data))
        .await
        .unwrap();
    (summary, handle.settled().await.unwrap())
}

/// The child process's consumer (does nothing unless `CHILD_VAR` is set).
#[tokio::test]
async fn crash_child_consumer() {
    let Ok(spec) = std::env::var(CHILD_VAR) else {
        return;
    };
    let (queue, out) = spec.split_once(',').unwrap();
    let url = url().unwrap();
    consume(pool_on(&url, 4), queue, out, Duration::from_millis(15)).await;
}

#[tokio::test]
async fn a_consumer_killed_mid_stream_loses_nothing_and_duplicates_at_most_one_batch() {
    let Some(url) = url() else {
        return;
    };
    let pool = pool_on(&url, 8);
    let queue = unique("pg_crash_q");
    let out = unique("pg_crash_out");
    queue_table(&pool, &queue, N).await;
    exec(&pool, &format!("CREATE TABLE {out} (id bigint, body text)")).await;

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash::crash_child_consumer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, format!("{queue},{out}"))
        .env(URL_VAR, &url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has written part of the input.
    let started = Instant::now();
    let count = format!("SELECT count(*) FROM {out}");
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the consumer ended before it was killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the consumer wrote nothing"
        );
        if scalar(&pool, &count).await >= 500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no rollback from the client
    let status = child.wait().unwrap();
    assert!(!status.success());
    let written_by_child = scalar(&pool, &count).await;
    let left = scalar(&pool, &format!("SELECT count(*) FROM {queue}")).await;
    assert!(
        left > 0 && written_by_child < N,
        "killed too late: {left} rows left"
    );

    // The server notices the dead connection and rolls its batch back; a second consumer
    // takes what is left.
    let (summary, stats) = tokio::time::timeout(
        Duration::from_secs(60),
        consume(pool.clone(), &queue, &out, Duration::ZERO),
    )
    .await
    .unwrap();
    assert_eq!(stats.acked, left as u64);
    assert_eq!(summary.acks.acked, left as u64);
    assert_eq!(
        scalar(&pool, &format!("SELECT count(*) FROM {queue}")).await,
        0
    );

    let ids = column(&pool, &format!("SELECT id FROM {out}")).await;
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct, (1..=N).collect(), "an input row has no output");
    let duplicates = ids.len() - distinct.len();
    eprintln!(
        "crash: child wrote {written_by_child} rows, {left} rows were left, {duplicates} duplicates"
    );
    assert!(duplicates <= BATCH, "{duplicates} duplicates");
    drop_tables(&pool, &[&queue, &out]).await;
}
