//! The query source: rows in order, mapping errors naming the query and row, fatal
//! query errors, and a million rows streamed while the server waits for the consumer.

use std::time::Duration;

use futures::StreamExt;
use sweet_async::connectors::postgres::{PgError, from_database};
use sweet_async::prelude::*;
use sweet_async::stream::{EventErrorKind, SourceError};

use crate::{drop_tables, exec, pool_or_skip, scalar, unique};

#[tokio::test]
async fn rows_come_in_query_order_chunked_with_their_row_numbers() {
    let pool = pool_or_skip!();
    let table = unique("pg_query_rows");
    exec(
        &pool,
        &format!(
            "CREATE TABLE {table} (id int PRIMARY KEY, name text NOT NULL);
             INSERT INTO {table} SELECT i, 'n' || i FROM generate_series(1, 2500) i;"
        ),
    )
    .await;
    let sql = format!("SELECT id, name FROM {table} WHERE id > $1 ORDER BY id DESC");
    let events: Vec<_> = AsyncTask::emits::<(i32, String)>()
        .sender(
            from_database(pool.clone(), sql.as_str())
                .bind(100i32)
                .rows_as::<(i32, String)>()
                .into_chunks(1000.rows()),
        )
        .collect()
        .await;
    let chunks: Vec<_> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        chunks.iter().map(|c| c.data.len()).collect::<Vec<_>>(),
        [1000, 1000, 400]
    );
    // Each chunk's position is its first row's 1-based number; the name is the query.
    assert_eq!(
        chunks
            .iter()
            .map(|c| c.position().unwrap().line())
            .collect::<Vec<_>>(),
        [1, 1001, 2001]
    );
    assert_eq!(chunks[0].source_name(), Some(sql.as_str()));
    let rows: Vec<(i32, String)> = chunks.into_iter().flat_map(|c| c.data).collect();
    let expected: Vec<(i32, String)> = (101..=2500).rev().map(|i| (i, format!("n{i}"))).collect();
    assert_eq!(rows, expected);
    drop_tables(&pool, &[&table]).await;
}

#[tokio::test]
async fn a_row_that_fails_to_map_is_an_error_naming_the_query_and_row() {
    let pool = pool_or_skip!();
    let sql =
        "SELECT i, CASE WHEN i % 3 = 0 THEN NULL ELSE i * 10 END FROM generate_series(1, 7) i";
    let events: Vec<_> = AsyncTask::emits::<(i32, i32)>()
        .name("scores")
        .sender(
            from_database(pool.clone(), sql)
                .name("scores query")
                .map_row(|row| -> Result<(i32, i32), tokio_postgres::Error> {
                    Ok((row.try_get(0)?, row.try_get(1)?))
                }),
        )
        .collect()
        .await;
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for event in events {
        match event {
            Ok(e) => ok.push(e.data),
            Err(err) => {
                let EventErrorKind::Source(SourceError::Item(inner)) = err.kind() else {
                    panic!("unexpected {err:?}");
                };
                let pg = inner.downcast_ref::<PgError>().unwrap();
                assert!(matches!(pg, PgError::Row { query, .. } if &**query == "scores query"));
                assert!(err.to_string().contains("`scores query`: row "), "{err}");
                failed.push(pg.row().unwrap());
            }
        }
    }
    assert_eq!(ok, [(1, 10), (2, 20), (4, 40), (5, 50), (7, 70)]);
    assert_eq!(failed, [3, 6]);
}

#[tokio::test]
async fn a_tuple_of_another_width_is_an_error_per_row() {
    let pool = pool_or_skip!();
    let events: Vec<_> = AsyncTask::emits::<(i32,)>()
        .sender(from_database(pool, "SELECT 1::int4, 2::int4").rows_as::<(i32,)>())
        .collect()
        .await;
    assert_eq!(events.len(), 1);
    let err = events[0].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("row 1: the row has 2 columns, the type reads 1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_failing_query_ends_the_stream_with_an_error_naming_it() {
    let pool = pool_or_skip!();
    let missing = unique("pg_no_such_table");
    let sql = format!("SELECT * FROM {missing}");
    let events: Vec<_> = AsyncTask::emits::<tokio_postgres::Row>()
        .sender(from_database(pool, sql.as_str()))
        .collect()
        .await;
    assert_eq!(events.len(), 1);
    let err = events[0].as_ref().unwrap_err();
    let EventErrorKind::Source(SourceError::SenderFailed(inner)) = err.kind() else {
        panic!("unexpected {err:?}");
    };
    let pg = inner.downcast_ref::<PgError>().unwrap();
    assert!(matches!(pg, PgError::Query { query, .. } if **query == *sql));
    let text = err.to_string();
    assert!(
        text.contains(&sql) && text.contains("does not exist"),
        "{text}"
    );
}

/// A million rows of ~200 bytes each (200 MB) through `into_chunks(1000)`. The rows are
/// numbered by a sequence the server advances as it produces them, so another connection
/// sees how far the server got: while the consumer pauses, the server stops producing
/// (it waits for the client to read), and the rows produced but not consumed stay far
/// below the result's size. Nothing but the socket's buffers and one read of the driver
/// sits between the server and the consumer.
#[tokio::test]
async fn a_million_rows_stream_in_chunks_while_the_server_waits_for_the_consumer() {
    const ROWS: i64 = 1_000_000;
    const ROW_BYTES: i64 = 200;
    // The most bytes produced but not yet consumed: socket buffers (the kernel lets a
    // loopback connection buffer some tens of MB) and the driver's read, not the 200 MB
    // result.
    const MAX_AHEAD_BYTES: i64 = 64 << 20;
    let pool = pool_or_skip!();
    let seq = unique("pg_query_seq");
    exec(&pool, &format!("CREATE SEQUENCE {seq}")).await;
    let sql = format!(
        "SELECT nextval('{seq}'), repeat('x', {ROW_BYTES}) FROM generate_series(1, {ROWS})"
    );
    let mut chunks = Box::pin(
        AsyncTask::emits::<(i64, String)>()
            .sender(
                from_database(pool.clone(), sql)
                    .rows_as::<(i64, String)>()
                    .into_chunks(1000.rows()),
            )
            .map(Result::unwrap),
    );
    let produced = |seq: String, pool: deadpool_postgres::Pool| async move {
        scalar(&pool, &format!("SELECT last_value FROM {seq}")).await
    };
    let mut consumed = 0i64;
    let mut pauses = 0;
    tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(chunk) = chunks.next().await {
            assert_eq!(chunk.data.len(), 1000);
            for (n, pad) in &chunk.data {
                consumed += 1;
                assert_eq!(*n, consumed);
                assert_eq!(pad.len(), ROW_BYTES as usize);
            }
            if consumed % 250_000 == 10_000 {
                // Pause: the server must stall, well ahead of the consumer but bounded.
                // Pause: the server must stall (two equal samples 200 ms apart, within
                // 10 s), ahead of the consumer by a bounded amount.
                let mut last = produced(seq.clone(), pool.clone()).await;
                let mut stalled = false;
                for _ in 0..50 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let now = produced(seq.clone(), pool.clone()).await;
                    if now == last {
                        stalled = true;
                        break;
                    }
                    last = now;
                }
                assert!(
                    stalled,
                    "the server kept producing while the consumer paused"
                );
                assert!(last < ROWS, "the whole result was read ahead");
                let ahead = (last - consumed) * ROW_BYTES;
                assert!(
                    ahead <= MAX_AHEAD_BYTES,
                    "{ahead} bytes ahead of the consumer"
                );
                pauses += 1;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!((consumed, pauses), (ROWS, 4));
    exec(&pool, &format!("DROP SEQUENCE {seq}")).await;
}

#[tokio::test]
async fn a_stream_dropped_early_closes_its_connection() {
    let pool = pool_or_skip!();
    let app = unique("pg_query_drop");
    let url = format!("{}?application_name={app}", crate::url().unwrap());
    let own = crate::pool_on(&url, 1);
    let mut events = Box::pin(
        AsyncTask::emits::<(i64,)>().sender(
            from_database(
                own.clone(),
                "SELECT i::int8 FROM generate_series(1, 50000000) i",
            )
            .rows_as::<(i64,)>(),
        ),
    );
    assert_eq!(events.next().await.unwrap().unwrap().data, (1,));
    let running = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}' AND state = 'active'"
    );
    assert_eq!(scalar(&pool, &running).await, 1);
    drop(events);
    // The server sees the connection close and stops the query.
    let gone = tokio::time::timeout(Duration::from_secs(10), async {
        while scalar(&pool, &running).await != 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the query still runs on the server");
    assert_eq!(own.status().size, 0, "the connection went back to the pool");
}

#[tokio::test]
async fn a_query_runs_on_a_shared_client_too() {
    let Some(url) = crate::url() else {
        return;
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let client = std::sync::Arc::new(client);
    for _ in 0..2 {
        let (events, summary) = AsyncTask::emits::<(i32,)>()
            .sender(
                from_database(client.clone(), "SELECT i FROM generate_series(1, $1) i")
                    .bind(5i32)
                    .rows_as::<(i32,)>(),
            )
            .collect_vec()
            .await;
        let values: Vec<i32> = events.into_iter().map(|e| e.unwrap().data.0).collect();
        assert_eq!(values, [1, 2, 3, 4, 5]);
        assert_eq!(summary.items_out, 5);
    }
    drop(client);
    connection.await.unwrap().unwrap();
}
