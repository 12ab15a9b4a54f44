//! The sink: rows written by COPY and by INSERT (upserts), items acknowledged after the
//! commit, a failed batch rejecting its items, typed errors for bad settings and rows.

use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use sweet_async::ack::{AckSink, Acked, Acks, Outcome};
use sweet_async::connectors::postgres::{OnBatchError, PgError, PgSink, work_queue};
use sweet_async::prelude::*;

use crate::{column, drop_tables, exec, pool_or_skip, queue_table, scalar, unique};

const WAIT: Duration = Duration::from_secs(60);

/// A source's tracker that logs settlements as `"<outcome> <start>..<end>"`.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl AckSink for Log {
    fn settle(&self, _partition: u32, range: Range<u64>, outcome: Outcome<'_>) {
        let what = match outcome {
            Outcome::Acked => "ack",
            Outcome::Rejected(_) => "reject",
            _ => "release",
        };
        self.0
            .lock()
            .unwrap()
            .push(format!("{what} {}..{}", range.start, range.end));
    }
}

/// Items `0..n`, each owing delivery `i` to `log`.
fn owed(log: &Arc<Log>, n: u64) -> Vec<Acked<i64>> {
    let sink: Arc<dyn AckSink> = log.clone();
    (0..n)
        .map(|i| Acked::new(i as i64, Acks::new(sink.clone(), 0, i..i + 1)))
        .collect()
}

#[tokio::test]
async fn copy_writes_every_row_and_acknowledges_after_each_commit() {
    let pool = pool_or_skip!();
    let table = unique("pg_sink_copy");
    exec(
        &pool,
        &format!("CREATE TABLE {table} (id bigint, label text, score double precision)"),
    )
    .await;
    let log = Arc::new(Log::default());
    let items = futures::stream::iter(owed(&log, 2500));
    let summary = tokio::time::timeout(
        WAIT,
        PgSink::copy(pool.clone(), table.as_str(), ["id", "label", "score"])
            .batch_rows(1000.rows())
            .write(items, |item| {
                let id = item.value;
                Ok::<_, std::io::Error>([(id, format!("row {id}"), id as f64 / 2.0)])
            }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        (summary.items_in, summary.items_out, summary.errors),
        (2500, 2500, 0)
    );
    assert_eq!(summary.acks.acked, 2500);
    let ids = column(&pool, &format!("SELECT id FROM {table} ORDER BY id")).await;
    assert_eq!(ids, (0..2500).collect::<Vec<_>>());
    let check =
        format!("SELECT count(*) FROM {table} WHERE label = 'row ' || id AND score = id / 2.0");
    assert_eq!(scalar(&pool, &check).await, 2500);
    // One acknowledgement per committed batch, in order, covering every item once.
    let log = log.0.lock().unwrap().clone();
    assert!(log.iter().all(|l| l.starts_with("ack ")), "{log:?}");
    let mut next = 0u64;
    for entry in &log {
        let (start, end) = entry[4..].split_once("..").unwrap();
        assert_eq!(start.parse::<u64>().unwrap(), next);
        next = end.parse().unwrap();
    }
    assert_eq!(next, 2500);
    drop_tables(&pool, &[&table]).await;
}

#[tokio::test]
async fn insert_with_on_conflict_upserts() {
    let pool = pool_or_skip!();
    let table = unique("pg_sink_upsert");
    exec(
        &pool,
        &format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, n bigint NOT NULL);
             INSERT INTO {table} SELECT i, 0 FROM generate_series(1, 10) i;"
        ),
    )
    .await;
    // 3000 rows of 2 columns: several statements per batch of 2500.
    let items = futures::stream::iter((5..3005i64).map(|id| Acked::new(id, Acks::none())));
    let summary = PgSink::insert(pool.clone(), table.as_str(), ["id", "n"])
        .on_conflict("(id) DO UPDATE SET n = EXCLUDED.n")
        .batch_rows(2500.rows())
        .write(items, |item| {
            Ok::<_, std::io::Error>([(item.value, item.value * 2)])
        })
        .await
        .unwrap();
    assert_eq!(summary.items_out, 3000);
    assert_eq!(
        scalar(&pool, &format!("SELECT count(*) FROM {table}")).await,
        3004
    );
    let wrong =
        format!("SELECT count(*) FROM {table} WHERE n <> CASE WHEN id < 5 THEN 0 ELSE id * 2 END");
    assert_eq!(scalar(&pool, &wrong).await, 0);
    drop_tables(&pool, &[&table]).await;
}

/// A work queue into a table whose check constraint refuses one row: the batch holding
/// it fails and rolls back, and the queue rows behind that batch are rejected (they
/// stay, attempts counted) while the rows of the committed batches are deleted.
#[tokio::test]
async fn a_failed_batch_rejects_its_source_rows_and_stops_the_sink() {
    let pool = pool_or_skip!();
    let queue = unique("pg_sink_fail_q");
    let out = unique("pg_sink_fail_out");
    queue_table(&pool, &queue, 30).await;
    exec(
        &pool,
        &format!("CREATE TABLE {out} (id bigint CHECK (id <> 17))"),
    )
    .await;
    let jobs = work_queue(pool.clone(), queue.as_str())
        .columns("id, body")
        .count_attempts("attempts")
        .batch_size(10.rows())
        .open_batches(1)
        .stop_when_empty(true)
        .rows_as::<(i64, String)>();
    let handle = jobs.handle();
    let events = AsyncTask::emits::<(i64, String)>().sender(jobs.into_chunks(10.rows()));
    let result = tokio::time::timeout(
        WAIT,
        PgSink::copy(pool.clone(), out.as_str(), ["id"])
            .batch_rows(10.rows())
            .write(events, |chunk| {
                chunk.map(|c| c.data.into_iter().map(|(id, _)| (id,)).collect::<Vec<_>>())
            }),
    )
    .await
    .unwrap();
    let err = result.unwrap_err();
    assert!(matches!(&err, PgError::Batch { table, rows: 10, .. } if **table == *out));
    let text = err.to_string();
    assert!(
        text.contains(&out) && text.contains("violates check constraint"),
        "{text}"
    );
    let stats = tokio::time::timeout(WAIT, handle.settled())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stats.acked, stats.rejected), (10, 10));
    // Rows 1..=10 were written and deleted; 11..=20 failed; 21..=30 never taken.
    assert_eq!(
        column(&pool, &format!("SELECT id FROM {out} ORDER BY id")).await,
        (1..=10).collect::<Vec<_>>()
    );
    let left = column(&pool, &format!("SELECT id FROM {queue} ORDER BY id")).await;
    assert_eq!(left, (11..=30).collect::<Vec<_>>());
    let retried = column(
        &pool,
        &format!("SELECT id FROM {queue} WHERE attempts = 1 ORDER BY id"),
    )
    .await;
    assert_eq!(retried, (11..=20).collect::<Vec<_>>());
    drop_tables(&pool, &[&queue, &out]).await;
}

#[tokio::test]
async fn under_continue_a_failed_batch_counts_its_items_as_errors() {
    let pool = pool_or_skip!();
    let out = unique("pg_sink_continue");
    exec(
        &pool,
        &format!("CREATE TABLE {out} (id bigint CHECK (id <> 17))"),
    )
    .await;
    let log = Arc::new(Log::default());
    // Chunks of 10 items, one batch each.
    let chunks = StreamExt::chunks(futures::stream::iter(owed(&log, 30)), 10);
    let summary = PgSink::copy(pool.clone(), out.as_str(), ["id"])
        .batch_rows(10.rows())
        .on_batch_error(OnBatchError::Continue)
        .write(chunks, |chunk| {
            Ok::<_, std::io::Error>(chunk.into_iter().map(|a| (a.value,)).collect::<Vec<_>>())
        })
        .await
        .unwrap();
    assert_eq!(
        (summary.items_in, summary.items_out, summary.errors),
        (3, 2, 1)
    );
    assert_eq!((summary.acks.acked, summary.acks.rejected), (20, 10));
    assert_eq!(
        *log.0.lock().unwrap(),
        ["ack 0..10", "reject 10..20", "ack 20..30"]
    );
    assert_eq!(
        scalar(&pool, &format!("SELECT count(*) FROM {out}")).await,
        20
    );
    drop_tables(&pool, &[&out]).await;
}

#[tokio::test]
async fn an_item_that_makes_no_row_is_rejected_and_a_row_of_another_width_is_an_error() {
    let pool = pool_or_skip!();
    let out = unique("pg_sink_width");
    exec(&pool, &format!("CREATE TABLE {out} (a bigint, b bigint)")).await;
    let log = Arc::new(Log::default());
    let summary = PgSink::copy(pool.clone(), out.as_str(), ["a", "b"])
        .write(futures::stream::iter(owed(&log, 3)), |item| {
            if item.value == 1 {
                Err("no row for 1")
            } else {
                Ok(vec![[item.value, item.value]])
            }
        })
        .await
        .unwrap();
    assert_eq!((summary.items_out, summary.errors), (2, 1));
    let log_now = log.0.lock().unwrap().clone();
    assert_eq!(log_now, ["reject 1..2", "ack 0..1", "ack 2..3"]);

    let err = PgSink::copy(pool.clone(), out.as_str(), ["a", "b"])
        .write(futures::stream::iter(owed(&log, 2)), |item| {
            Ok::<_, std::io::Error>([[item.value; 3]])
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            PgError::Arity {
                row: 1,
                expected: 2,
                got: 3,
                ..
            }
        ),
        "{err:?}"
    );
    let err = PgSink::copy(pool.clone(), "no such table", ["a"])
        .write(futures::stream::iter(owed(&log, 1)), |item| {
            Ok::<_, std::io::Error>([(item.value,)])
        })
        .await
        .unwrap_err();
    assert!(matches!(err, PgError::Config(_)), "{err:?}");
    drop_tables(&pool, &[&out]).await;
}

#[tokio::test]
async fn items_written_while_the_source_is_slow_are_not_held_for_a_full_batch() {
    let pool = pool_or_skip!();
    let out = unique("pg_sink_slow");
    exec(&pool, &format!("CREATE TABLE {out} (id bigint)")).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Acked<i64>>(4);
    let sink = PgSink::copy(pool.clone(), out.as_str(), ["id"])
        .batch_rows(1000.rows())
        .write(tokio_stream_like(rx), |item| {
            Ok::<_, std::io::Error>([(item.value,)])
        });
    let writer = tokio::spawn(sink);
    tx.send(Acked::new(7, Acks::none())).await.unwrap();
    // The stream has nothing more ready: the row is written without waiting for 999 more.
    let written = tokio::time::timeout(Duration::from_secs(10), async {
        while scalar(&pool, &format!("SELECT count(*) FROM {out}")).await == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(written.is_ok());
    drop(tx);
    let summary = writer.await.unwrap().unwrap();
    assert_eq!(summary.items_out, 1);
    drop_tables(&pool, &[&out]).await;
}

/// A receiver as a stream.
fn tokio_stream_like<T>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
