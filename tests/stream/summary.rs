//! What the final summary says: rows and chunks apart, collected errors, late elements of
//! window pipelines.

use futures::StreamExt;
use sweet_async::operators::window::Tumbling;
use sweet_async::prelude::*;
use sweet_async::stream::source::of;

/// The summary's line up to its duration, which varies from run to run.
fn counts(summary: &Summary) -> String {
    let line = summary.to_string();
    let (counts, _timing) = line.rsplit_once(" in ").unwrap();
    counts.to_owned()
}

#[tokio::test]
async fn a_chunked_pipeline_counts_rows_and_chunks_apart() {
    let summary = AsyncTask::emits::<u32>()
        .sender(of(0..2500).into_chunks(1000.rows()))
        .receiver(
            ReceiverStrategy::Serial,
            |chunk, _: Collector<(), ()>| async move { Ok::<_, BoxError>(chunk.data.len()) },
        )
        .await_final_event(|summary, _| summary)
        .await;
    assert_eq!(
        (
            summary.items_in,
            summary.items_out,
            summary.chunks,
            summary.rows_in
        ),
        (3, 3, 3, 2500)
    );
    assert_eq!(summary.row_unit, "rows");
    assert_eq!(
        counts(&summary),
        "3 in (3 chunks, 2500 rows), 3 out, 0 failed, 0 skipped, 0 values and 0 errors passed to \
         the collector"
    );
    assert!(summary.to_string().contains(" rows/s, "));
    assert!(summary.to_string().ends_with(" chunks/s)"));
}

#[tokio::test]
async fn a_plain_pipeline_counts_items_as_rows() {
    let summary = AsyncTask::emits::<u32>()
        .sender(of(0..10))
        .await_final_event(|summary, _| summary)
        .await;
    assert_eq!(
        (summary.items_in, summary.chunks, summary.rows_in),
        (10, 0, 10)
    );
    assert!(summary.to_string().ends_with(" items/s)"));
}

#[tokio::test]
async fn collected_errors_are_in_the_summary_line() {
    let summary = AsyncTask::emits::<u32>()
        .sender(of(0..7))
        .receiver(
            ReceiverStrategy::Serial,
            |e, c: Collector<u32, u32>| async move {
                if e.data % 2 == 1 {
                    c.collect_error(e.data, format!("odd {}", e.data));
                } else {
                    c.collect(e.data, e.data);
                }
                Ok::<_, BoxError>(())
            },
        )
        .await_final_event(|summary, collected| {
            assert_eq!(collected.errors().len(), 3);
            summary
        })
        .await;
    assert_eq!((summary.errors, summary.errors_collected), (0, 3));
    assert_eq!(
        counts(&summary),
        "7 in, 7 out, 0 failed, 0 skipped, 4 values and 3 errors passed to the collector"
    );
}

#[tokio::test]
async fn a_window_pipeline_ends_in_a_final_summary_that_counts_late_items()
-> Result<(), ConfigError> {
    // Event time in ms; [0, 10) fires once 12 is seen, so 3 and 4 come too late.
    let readings = [1_i64, 5, 12, 3, 15, 4, 25];
    let (sums, late, summary) = AsyncTask::emits::<i64>()
        .name("sensor")
        .sender(of(readings))
        .filter_map(|event| async move { event.ok().map(|e| e.data) })
        .event_time_window(Tumbling::event_time(10), |ts| *ts)?
        .fold_windows(0, |sum, ts| sum + ts)
        .await_final_event(|summary, mut collected| {
            let late = collected.take_late();
            let sums: Vec<(i64, i64)> = collected
                .outputs()
                .iter()
                .map(|w| (w.start, w.value))
                .collect();
            (sums, late, summary)
        })
        .await;
    assert_eq!(sums, [(0, 6), (10, 27), (20, 25)]);
    assert_eq!(late, [3, 4]);
    assert_eq!(
        (
            summary.items_in,
            summary.items_out,
            summary.late,
            summary.errors
        ),
        (5, 3, 2, 0)
    );
    assert!(!summary.is_clean());
    assert_eq!(
        counts(&summary),
        "5 in, 3 out, 0 failed, 0 skipped, 2 late, 0 values and 0 errors passed to the collector"
    );
    Ok(())
}

#[tokio::test]
async fn a_failing_window_stream_ends_with_an_error() -> Result<(), ConfigError> {
    let summary = futures::stream::iter([1_i64, 2, 3])
        .event_time_window(Tumbling::event_time(10), |ts| {
            assert!(*ts < 3, "timestamp out of range");
            *ts
        })?
        .await_final_event(|summary, collected| {
            let err = &collected.errors()[0].error;
            assert!(err.is_panic());
            assert!(err.to_string().contains("timestamp out of range"));
            summary
        })
        .await;
    assert_eq!((summary.items_out, summary.errors), (0, 1));
    Ok(())
}

#[tokio::test]
async fn a_chunked_csv_pipeline_with_a_bad_row_says_what_the_collector_got() {
    #[derive(serde::Deserialize)]
    struct Trade {
        symbol: String,
        price: f64,
        quantity: u32,
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trades.csv");
    let mut text = String::from("symbol,price,quantity\n");
    for i in 0..5000 {
        if i == 2500 {
            text.push_str("ACME,1.0\n"); // a short row: line 2502
        }
        text.push_str(&format!("S{},{i}.5,{}\n", i % 7, i % 10));
    }
    std::fs::write(&path, text).unwrap();
    let (summary, collected) = AsyncTask::emits::<Trade>()
        .sender(sweet_async::stream::source::csv_file::<Trade>(&path).into_chunks(1000.rows()))
        .receiver(
            ReceiverStrategy::parallel(4).unwrap(),
            |chunk, collector: Collector<usize, f64>| async move {
                for (i, t) in chunk.data().iter().enumerate() {
                    let line = chunk.data.position(i).map_or(0, |p| p.line()) as usize;
                    assert!(t.symbol.starts_with('S'));
                    collector.collect(line, t.price * f64::from(t.quantity));
                }
                Ok::<_, std::io::Error>(())
            },
        )
        .await_final_event(|summary, collected| (summary, collected))
        .await;
    // The bad row ends the chunk before it: 2500 + 2500 rows in 3 + 3 chunks.
    assert_eq!(
        counts(&summary),
        "7 in (6 chunks, 5001 rows), 6 out, 1 failed, 0 skipped, 5000 values and 0 errors \
         passed to the collector"
    );
    // The failed row is in the collection with its position; every good row is keyed by
    // its own line (2..=2501 and 2503..=5002).
    assert_eq!(collected.errors().len(), 1);
    let error = collected.errors()[0].error.to_string();
    assert!(error.contains("trades.csv:2502 (byte "), "{error}");
    let mut lines: Vec<usize> = collected.keyed().iter().map(|(line, _)| *line).collect();
    lines.sort_unstable();
    let expected: Vec<usize> = (2..=2501).chain(2503..=5002).collect();
    assert_eq!(lines, expected);
}
