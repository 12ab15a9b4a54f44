//! The work queue: acknowledged rows are deleted or marked done, rejected rows come back
//! with their attempts counted, poison rows are parked, released and expired rows come
//! back as they were, and consumers share a queue without taking a row twice.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use sweet_async::connectors::postgres::{OnAck, QueueStats, WorkQueue, work_queue};
use sweet_async::prelude::*;
use sweet_async::stream::ErrorPolicy;

use crate::{column, drop_tables, pool_or_skip, queue_table, scalar, unique};

const WAIT: Duration = Duration::from_secs(60);

/// Runs `queue` to its end through a serial receiver that fails the ids in `fail`;
/// returns the summary and the queue's counts once its batches are committed.
async fn run<M>(queue: WorkQueue<M>, fail: &[i64]) -> (Summary, QueueStats)
where
    M: sweet_async::connectors::postgres::MapRow<Output = (i64, String)> + Send + 'static,
{
    let handle = queue.handle();
    let fail = fail.to_vec();
    let summary = tokio::time::timeout(
        WAIT,
        AsyncTask::emits::<(i64, String)>()
            .sender(queue)
            .receiver(
                ReceiverStrategy::Serial,
                move |job, _: Collector<(), ()>| {
                    let bad = fail.contains(&job.data.0);
                    async move { if bad { Err("boom") } else { Ok(()) } }
                },
            )
            .await_final_event(|summary, _| summary),
    )
    .await
    .unwrap();
    let stats = tokio::time::timeout(WAIT, handle.settled())
        .await
        .unwrap()
        .unwrap();
    (summary, stats)
}

#[tokio::test]
async fn acknowledged_rows_are_deleted() {
    let pool = pool_or_skip!();
    let table = unique("pg_queue_delete");
    queue_table(&pool, &table, 25).await;
    let queue = work_queue(pool.clone(), table.as_str())
        .columns("id, body")
        .batch_size(10.rows())
        .stop_when_empty(true)
        .rows_as::<(i64, String)>();
    let (summary, stats) = run(queue, &[]).await;
    assert_eq!((summary.items_out, summary.acks.acked), (25, 25));
    assert_eq!((stats.rows, stats.batches, stats.acked), (25, 3, 25));
    assert_eq!(stats.open_batches, 0);
    assert_eq!(
        scalar(&pool, &format!("SELECT count(*) FROM {table}")).await,
        0
    );
    drop_tables(&pool, &[&table]).await;
}

#[tokio::test]
async fn acknowledged_rows_can_be_marked_done_instead() {
    let pool = pool_or_skip!();
    let table = unique("pg_queue_done");
    queue_table(&pool, &table, 12).await;
    let queue = || {
        work_queue(pool.clone(), table.as_str())
            .columns("id, body")
            .on_ack(OnAck::mark_done("done_at"))
            .batch_size(5.rows())
            .stop_when_empty(true)
            .rows_as::<(i64, String)>()
    };
    let (_, stats) = run(queue(), &[]).await;
    assert_eq!(stats.acked, 12);
    let done = format!("SELECT count(*) FROM {table} WHERE done_at IS NOT NULL");
    assert_eq!(scalar(&pool, &done).await, 12);
    // Done rows are not taken again.
    let (summary, stats) = run(queue(), &[]).await;
    assert_eq!((summary.items_in, stats.rows), (0, 0));
    drop_tables(&pool, &[&table]).await;
}

#[tokio::test]
async fn a_rejected_row_stays_with_its_attempts_and_error() {
    let pool = pool_or_skip!();
    let table = unique("pg_queue_reject");
    queue_table(&pool, &table, 6).await;
    let queue = work_queue(pool.clone(), table.as_str())
        .columns("id, body")
        .count_attempts("attempts")
        .record_error("last_error")
        .retry_after("run_at", Duration::from_secs(3600))
        .stop_when_empty(true)
        .rows_as::<(i64, String)>();
    let (summary, stats) = run(queue, &[3]).await;
    assert_eq!((summary.acks.acked, summary.acks.rejected), (5, 1));
    assert_eq!((stats.acked, stats.rejected, stats.parked), (5, 1, 0));
    assert_eq!(column(&pool, &format!("SELECT id FROM {table}")).await, [3]);
    let client = pool.get().await.unwrap();
    let row = client
        .query_one(
            &format!(
                "SELECT attempts, last_error, run_at > now() + interval '50 minutes' FROM {table}"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i32>(0), row.get::<_, bool>(2)), (1, true));
    let error: String = row.get(1);
    assert!(error.contains("receiver failed: boom"), "{error}");
    drop_tables(&pool, &[&table]).await;
}

#[tokio::test]
async fn a_poison_row_is_retried_then_parked_after_its_maximum_of_attempts() {
    let pool = pool_or_skip!();
    let table = unique("pg_queue_park");
    queue_table(&pool, &table, 4).await;
    // One open batch: each batch is taken after the previous one committed, so the
    // rejected row is taken again by the next batch, until it is parked.
    let queue = || {
        work_queue(pool.clone(), table.as_str())
            .columns("id, body")
            .count_attempts("attempts")
            .max_attempts(3, "failed_at")
            .open_batches(1)
            .stop_when_empty(true)
            .rows_as::<(i64, String)>()
    };
    let (summary, stats) = run(queue(), &[2]).await;
    assert_eq!((summary.acks.acked, summary.acks.rejected), (3, 3));
    assert_eq!(
        (
            stats.batches,
            stats.rows,
            stats.acked,
            stats.rejected,
            stats.parked
        ),
        (3, 6, 3, 3, 1)
    );
    let client = pool.get().await.unwrap();
    let row = client
        .query_one(
            &format!("SELECT id, attempts, failed_at IS NOT NULL FROM {table}"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i32>(1),
            row.get::<_, bool>(2)
        ),
        (2, 3, true)
    );
    // A parked row is not taken again.
    let (summary, stats) = run(queue(), &[]).await;
    assert_eq!((summary.items_in, stats.rows), (0, 0));
    drop_tables(&pool, &[&table]).await;
}

#[tokio::test]
async fn a_row_that_fails_to_map_is_rejected_naming_its_delivery() {
    let pool = pool_or_skip!();
    let table = unique("pg_queue_map");
    queue_table(&pool, &table, 5).await;
    let queue = work_queue(pool.clone(), table.as_str())
        .count_attempts("attempts")
        .record_error("last_error")
        .retry_after("run_at", Duration::from_secs(3600))
        .stop_when_empty(true)
        .map_row(|row| {
            let id: i64 = row.try_get("id")?;
            if id == 4 {
                return Err("unreadable job".into());
            }
            Ok::<_, sweet_async::error::BoxError>((id, row.try_get("body")?))
        });
    let (summary, stats) = run(queue, &[]).await;
    assert_eq!((summary.items_out, summary.errors), (4, 1));
    assert_eq!((stats.acked, stats.rejected), (4, 1));
    let client = pool.get().await.unwrap();
    let row = client
        .query_one(
            &format!("SELECT id, attempts, last_error FROM {table}"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i32>(1)), (4, 1));
    let error: String = row.get(2);
    assert!(
        error.contains(&format!("`{table}`: row 4: unreadable job")),
        "{error}"
    );
    drop_tables(&pool, &[&table]).await;
}

#[tokio::test]
async fn rows_dropped_unsettled_come_back_as_they_were() {
    let pool = pool_or_skip!();
    let table = unique("pg_queue_release");
    queue_table(&pool, &table, 20).await;
    let queue = work_queue(pool.clone(), table.as_str())
        .columns("id, body")
        .count_attempts("attempts")
        .batch_size(10.rows())
        .stop_when_empty(true)
        .rows_as::<(i64, String)>();
    let handle = queue.handle();
    let mut events = Box::pin(AsyncTask::emits::<(i64, String)>().sender(queue));
    let mut first = Vec::new();
    for _ in 0..3 {
        let mut event = events.next().await.unwrap().unwrap();
        first.push(event.data.0);
        if event.data.0 == 2 {
            event.acknowledge();
        }
    }
    assert_eq!(first, [1, 2, 3]);
    drop(events); // rows 1, 3 (taken) and 4..=10 (not yet emitted) are released
    let stats = tokio::time::timeout(WAIT, handle.settled())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stats.acked, stats.rejected), (1, 0));
    assert!(stats.released >= 9, "{stats:?}");
    let left = column(&pool, &format!("SELECT id FROM {table} ORDER BY id")).await;
    assert_eq!(left, (1..=20).filter(|&i| i != 2).collect::<Vec<_>>());
    let attempts = format!("SELECT sum(attempts) FROM {table}");
    assert_eq!(scalar(&pool, &attempts).await, 0);
    drop_tables(&pool, &[&table]).await;
}

#[tokio::test]
async fn rows_not_settled_within_the_ack_wait_go_back_to_the_queue() {
    let pool = pool_or_skip!();
    let table = unique("pg_queue_expire");
    queue_table(&pool, &table, 3).await;
    let queue = work_queue(pool.clone(), table.as_str())
        .columns("id, body")
        .ack_wait(Duration::from_millis(300))
        .stop_when_empty(true)
        .rows_as::<(i64, String)>();
    let handle = queue.handle();
    let (held, summary) = AsyncTask::emits::<(i64, String)>()
        .sender(queue)
        .collect_vec()
        .await;
    assert_eq!(held.len(), 3);
    let stats = tokio::time::timeout(WAIT, handle.settled())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stats.expired, stats.acked), (3, 0));
    // Another consumer takes them now; the late acknowledgements are ignored.
    let other = work_queue(pool.clone(), table.as_str())
        .columns("id, body")
        .stop_when_empty(true)
        .rows_as::<(i64, String)>();
    let (_, again) = run(other, &[]).await;
    assert_eq!(again.acked, 3);
    for event in held {
        event.unwrap().acknowledge();
    }
    assert_eq!(handle.stats().late, 3);
    assert!(summary.acks.is_empty());
    drop_tables(&pool, &[&table]).await;
}

#[tokio::test]
async fn two_consumers_share_the_queue_without_taking_a_row_twice() {
    const N: i64 = 2000;
    let pool = pool_or_skip!();
    let table = unique("pg_queue_share");
    queue_table(&pool, &table, N).await;
    let seen: Arc<Mutex<Vec<Vec<i64>>>> = Arc::new(Mutex::new(vec![Vec::new(), Vec::new()]));
    let mut consumers = Vec::new();
    for c in 0..2 {
        let queue = work_queue(pool.clone(), table.as_str())
            .columns("id, body")
            .batch_size(50.rows())
            .stop_when_empty(true)
            .rows_as::<(i64, String)>();
        let handle = queue.handle();
        let seen = seen.clone();
        consumers.push(tokio::spawn(async move {
            let summary = AsyncTask::emits::<(i64, String)>()
                .sender(queue.into_chunks(10.rows()))
                .receiver(
                    ReceiverStrategy::Serial,
                    move |chunk, _: Collector<(), ()>| {
                        let seen = seen.clone();
                        async move {
                            seen.lock().unwrap()[c].extend(chunk.data.iter().map(|(id, _)| *id));
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            Ok::<_, std::io::Error>(())
                        }
                    },
                )
                .await_final_event(|summary, _| summary)
                .await;
            (summary, handle.settled().await.unwrap())
        }));
    }
    let mut acked = 0;
    for consumer in consumers {
        let (summary, stats) = tokio::time::timeout(WAIT, consumer).await.unwrap().unwrap();
        assert_eq!(summary.acks.acked, stats.acked);
        acked += stats.acked;
    }
    let seen = seen.lock().unwrap().clone();
    assert!(
        !seen[0].is_empty() && !seen[1].is_empty(),
        "one consumer took everything"
    );
    let all: Vec<i64> = seen.iter().flatten().copied().collect();
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "a row was taken twice");
    assert_eq!(distinct, (1..=N).collect());
    assert_eq!(acked, N as u64);
    assert_eq!(
        scalar(&pool, &format!("SELECT count(*) FROM {table}")).await,
        0
    );
    drop_tables(&pool, &[&table]).await;
}

#[tokio::test]
async fn invalid_settings_fail_before_anything_is_read() {
    let pool = pool_or_skip!();
    let events: Vec<_> = AsyncTask::emits::<tokio_postgres::Row>()
        .on_error(ErrorPolicy::Collect)
        .sender(work_queue(pool, "jobs; DROP TABLE x"))
        .collect()
        .await;
    assert_eq!(events.len(), 1);
    let err = events[0].as_ref().unwrap_err().to_string();
    assert!(err.contains("invalid work queue table"), "{err}");
}

#[tokio::test]
async fn selected_columns_without_the_key_are_a_fatal_error() {
    let pool = pool_or_skip!();
    let table = unique("pg_queue_nokey");
    queue_table(&pool, &table, 3).await;
    let queue = work_queue(pool.clone(), table.as_str())
        .columns("body")
        .stop_when_empty(true)
        .rows_as::<(String,)>();
    let handle = queue.handle();
    let events: Vec<_> = AsyncTask::emits::<(String,)>()
        .sender(queue)
        .collect()
        .await;
    assert_eq!(events.len(), 1);
    let err = events[0].as_ref().unwrap_err().to_string();
    assert!(err.contains("do not include the key column `id`"), "{err}");
    let stats = tokio::time::timeout(WAIT, handle.settled())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stats.rows, 0);
    assert_eq!(
        scalar(&pool, &format!("SELECT count(*) FROM {table}")).await,
        3
    );
    drop_tables(&pool, &[&table]).await;
}
