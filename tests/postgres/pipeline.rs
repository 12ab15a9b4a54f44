//! Work queue → operators → sink, with the order of commits checked by the server: a
//! trigger on the queue table refuses to delete a row whose output is not committed in
//! the sink's table yet, so an acknowledgement that came too early would fail the queue's
//! commit (counted in `failed_batches`) and leave the row in the queue.

use std::time::Duration;

use futures::StreamExt;
use sweet_async::connectors::postgres::{PgSink, work_queue};
use sweet_async::operators::window::{Fold, KeepAcks, Tumbling, WindowEvent};
use sweet_async::prelude::*;

use crate::{drop_tables, exec, pool_or_skip, queue_table, scalar, unique};

const WAIT: Duration = Duration::from_secs(60);

/// Makes deleting a row of `queue` fail unless `covered` (a condition on `OLD`) holds.
async fn guard_deletes(pool: &deadpool_postgres::Pool, queue: &str, covered: &str) {
    exec(
        pool,
        &format!(
            "CREATE FUNCTION {queue}_guard() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NOT ({covered}) THEN
                 RAISE EXCEPTION 'row % deleted before its output was committed', OLD.id;
               END IF;
               RETURN OLD;
             END $$;
             CREATE TRIGGER {queue}_guard BEFORE DELETE ON {queue}
               FOR EACH ROW EXECUTE FUNCTION {queue}_guard();"
        ),
    )
    .await;
}

#[tokio::test]
async fn through_chunks_no_row_is_deleted_before_its_output_is_committed() {
    const N: i64 = 1000;
    let pool = pool_or_skip!();
    let queue = unique("pg_pipe_chunks_q");
    let out = unique("pg_pipe_chunks_out");
    queue_table(&pool, &queue, N).await;
    exec(&pool, &format!("CREATE TABLE {out} (id bigint, body text)")).await;
    guard_deletes(
        &pool,
        &queue,
        &format!("EXISTS (SELECT 1 FROM {out} WHERE id = OLD.id)"),
    )
    .await;
    let jobs = work_queue(pool.clone(), queue.as_str())
        .columns("id, body")
        .batch_size(40.rows())
        .open_batches(3)
        .stop_when_empty(true)
        .rows_as::<(i64, String)>();
    let handle = jobs.handle();
    let events = AsyncTask::emits::<(i64, String)>().sender(jobs.into_chunks(25.rows()));
    let summary = tokio::time::timeout(
        WAIT,
        PgSink::copy(pool.clone(), out.as_str(), ["id", "body"])
            .batch_rows(60.rows())
            .write(events, |chunk| {
                chunk.map(|c| {
                    c.data
                        .into_iter()
                        .map(|(id, body)| (id, body.to_uppercase()))
                        .collect::<Vec<_>>()
                })
            }),
    )
    .await
    .unwrap()
    .unwrap();
    let stats = tokio::time::timeout(WAIT, handle.settled())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.acks.acked, N as u64);
    assert_eq!((stats.acked, stats.failed_batches), (N as u64, 0));
    assert_eq!(
        scalar(&pool, &format!("SELECT count(*) FROM {queue}")).await,
        0
    );
    let written = format!("SELECT count(DISTINCT id) FROM {out} WHERE body = 'JOB ' || id");
    assert_eq!(scalar(&pool, &written).await, N);
    drop_tables(&pool, &[&queue, &out]).await;
    exec(&pool, &format!("DROP FUNCTION {queue}_guard()")).await;
}

#[tokio::test]
async fn through_an_event_time_window_no_row_is_deleted_before_its_window_is_committed() {
    const N: i64 = 600;
    let pool = pool_or_skip!();
    let queue = unique("pg_pipe_window_q");
    let out = unique("pg_pipe_window_out");
    queue_table(&pool, &queue, N).await;
    exec(
        &pool,
        &format!("CREATE TABLE {out} (win_start bigint, rows bigint, id_sum bigint)"),
    )
    .await;
    // A row's window is [id - id % 50, +50): its row in `out` must exist to delete it.
    guard_deletes(
        &pool,
        &queue,
        &format!("EXISTS (SELECT 1 FROM {out} WHERE win_start = OLD.id - OLD.id % 50)"),
    )
    .await;
    let jobs = work_queue(pool.clone(), queue.as_str())
        .columns("id, body")
        .batch_size(30.rows())
        .open_batches(4)
        .stop_when_empty(true)
        .rows_as::<(i64, String)>();
    let handle = jobs.handle();
    let windows = AsyncTask::emits::<(i64, String)>()
        .sender(jobs)
        .filter_map(|e| async move { e.ok() })
        .event_time_window(Tumbling::event_time(50), |e| e.data.0)
        .unwrap()
        .aggregate_windows(KeepAcks::new(Fold::new(
            (0i64, 0i64),
            |(n, sum), e: sweet_async::stream::SenderEvent<(i64, String)>| (n + 1, sum + e.data.0),
        )));
    let summary = tokio::time::timeout(
        WAIT,
        PgSink::copy(pool.clone(), out.as_str(), ["win_start", "rows", "id_sum"]).write(
            windows,
            |w| match w {
                WindowEvent::Fired(w) => {
                    let (n, sum) = w.value.value;
                    Ok(Some((w.start, n, sum)))
                }
                other => Err(format!("unexpected {other:?}")),
            },
        ),
    )
    .await
    .unwrap()
    .unwrap();
    let stats = tokio::time::timeout(WAIT, handle.settled())
        .await
        .unwrap()
        .unwrap();
    // Windows [0, 50) .. [600, 650): 13 of them; every row acknowledged through one.
    assert_eq!(summary.items_out, 13);
    assert_eq!(summary.acks.acked, N as u64);
    assert_eq!((stats.acked, stats.failed_batches), (N as u64, 0));
    assert_eq!(
        scalar(&pool, &format!("SELECT count(*) FROM {queue}")).await,
        0
    );
    assert_eq!(
        scalar(&pool, &format!("SELECT sum(rows)::int8 FROM {out}")).await,
        N
    );
    assert_eq!(
        scalar(&pool, &format!("SELECT sum(id_sum)::int8 FROM {out}")).await,
        N * (N + 1) / 2
    );
    drop_tables(&pool, &[&queue, &out]).await;
    exec(&pool, &format!("DROP FUNCTION {queue}_guard()")).await;
}

/// The guard itself works: rows acknowledged without any output make the queue's
/// commit fail, and the rows stay.
#[tokio::test]
async fn the_guard_catches_an_acknowledgement_without_output() {
    let pool = pool_or_skip!();
    let queue = unique("pg_pipe_guard_q");
    let out = unique("pg_pipe_guard_out");
    queue_table(&pool, &queue, 5).await;
    exec(&pool, &format!("CREATE TABLE {out} (id bigint)")).await;
    guard_deletes(
        &pool,
        &queue,
        &format!("EXISTS (SELECT 1 FROM {out} WHERE id = OLD.id)"),
    )
    .await;
    let jobs = work_queue(pool.clone(), queue.as_str())
        .columns("id, body")
        .stop_when_empty(true)
        .rows_as::<(i64, String)>();
    let handle = jobs.handle();
    let (events, _) = AsyncTask::emits::<(i64, String)>()
        .sender(jobs)
        .collect_vec()
        .await;
    assert_eq!(events.len(), 5);
    for event in events {
        event.unwrap().acknowledge(); // nothing was written
    }
    let err = tokio::time::timeout(WAIT, handle.settled())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("deleted before its output was committed"),
        "{err}"
    );
    assert_eq!(handle.stats().failed_batches, 1);
    assert_eq!(
        scalar(&pool, &format!("SELECT count(*) FROM {queue}")).await,
        5
    );
    drop_tables(&pool, &[&queue, &out]).await;
    exec(&pool, &format!("DROP FUNCTION {queue}_guard()")).await;
}
