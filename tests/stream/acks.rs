//! Acknowledgements end to end: the receiver, chunks and windows settle what a source is
//! owed, never early, and the summary counts it.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use sweet_async::ack::{AckSink, Acks, Outcome, TakeAcks};
use sweet_async::collect::{Collector, OnFailure, Received};
use sweet_async::operators::window::{Fold, KeepAcks, Tumbling, WindowEvent};
use sweet_async::prelude::*;
use sweet_async::stream::source::located;
use sweet_async::stream::{Located, SourceError, SourceItem};

/// A source's tracker that logs every settlement as `"<outcome> <partition>:<range>"`.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl AckSink for Log {
    fn settle(&self, partition: u32, range: Range<u64>, outcome: Outcome<'_>) {
        let what = match outcome {
            Outcome::Acked => "ack",
            Outcome::Rejected(_) => "reject",
            Outcome::Released => "release",
            _ => "other",
        };
        self.0
            .lock()
            .unwrap()
            .push(format!("{what} {partition}:{}..{}", range.start, range.end));
    }
}

impl Log {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Items `0..n` of partition 0, each owing offset `i` to `log`.
fn owed(log: &Arc<Log>, n: u64) -> impl Iterator<Item = SourceItem<u64>> + use<> {
    let sink: Arc<dyn AckSink> = log.clone();
    (0..n).map(move |i| Ok(Located::bare(i).with_acks(Acks::new(sink.clone(), 0, i..i + 1))))
}

async fn run_receiver(strategy: ReceiverStrategy, policy: OnFailure) -> (Summary, Vec<String>) {
    let log = Arc::new(Log::default());
    let summary = AsyncTask::emits::<u64>()
        .sender(located(futures::stream::iter(owed(&log, 6))))
        .receiver(strategy, |e, _: Collector<(), ()>| async move {
            match e.data {
                2 => Err("bad"),
                4 => panic!("boom"),
                _ => Ok(()),
            }
        })
        .on_failure(policy)
        .await_final_event(|summary, _| summary)
        .await;
    let mut log = log.take();
    log.sort();
    (summary, log)
}

#[tokio::test]
async fn the_receiver_acks_ok_and_rejects_failures_serial_and_parallel() {
    for strategy in [
        ReceiverStrategy::Serial,
        ReceiverStrategy::parallel(3).unwrap(),
    ] {
        let (summary, log) = run_receiver(strategy, OnFailure::Reject).await;
        assert_eq!(
            log,
            [
                "ack 0:0..1",
                "ack 0:1..2",
                "ack 0:3..4",
                "ack 0:5..6",
                "reject 0:2..3",
                "reject 0:4..5"
            ],
            "{strategy:?}"
        );
        assert_eq!(
            (
                summary.acks.acked,
                summary.acks.rejected,
                summary.acks.released
            ),
            (4, 2, 0)
        );
        assert_eq!((summary.items_out, summary.errors), (4, 2));
        assert!(summary.to_string().contains("4 acknowledged, 2 rejected"));
    }
}

#[tokio::test]
async fn failures_can_be_acknowledged_by_policy() {
    let (summary, log) = run_receiver(ReceiverStrategy::Serial, OnFailure::Acknowledge).await;
    assert_eq!(log.iter().filter(|l| l.starts_with("ack")).count(), 6);
    assert_eq!((summary.acks.acked, summary.acks.rejected), (6, 0));
    assert_eq!(summary.errors, 2);
}

#[tokio::test]
async fn a_pending_event_is_not_acked_until_its_call_returns() {
    let log = Arc::new(Log::default());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rx = Arc::new(Mutex::new(Some(rx)));
    let mut stage = Box::pin(
        AsyncTask::emits::<u64>()
            .sender(located(futures::stream::iter(owed(&log, 1))))
            .receiver(ReceiverStrategy::Serial, move |_, _: Collector<(), ()>| {
                let rx = rx.lock().unwrap().take();
                async move {
                    if let Some(rx) = rx {
                        let _ = rx.await;
                    }
                    Ok::<_, std::io::Error>(())
                }
            }),
    );
    assert!(futures::poll!(stage.next()).is_pending());
    assert!(log.take().is_empty(), "acked before the call returned");
    tx.send(()).unwrap();
    assert!(matches!(stage.next().await, Some(Received::Output(()))));
    assert_eq!(log.take(), ["ack 0:0..1"]);
}

#[tokio::test]
async fn a_chunk_owes_its_rows_as_one_range_and_a_bad_row_is_rejected_at_once() {
    let log = Arc::new(Log::default());
    let sink: Arc<dyn AckSink> = log.clone();
    // Row 3 fails to parse: its source error is rejected where it happens.
    let items = (0..7u64).map(move |i| {
        let acks = Acks::new(sink.clone(), 0, i..i + 1);
        if i == 3 {
            Err(Located::bare(SourceError::Item("bad row".into())).with_acks(acks))
        } else {
            Ok(Located::bare(i).with_acks(acks))
        }
    });
    let summary = AsyncTask::emits::<u64>()
        .sender(located(futures::stream::iter(items)).into_chunks(2.rows()))
        .receiver(
            ReceiverStrategy::Serial,
            |chunk, _: Collector<(), ()>| async move { Ok::<_, std::io::Error>(chunk.data.len()) },
        )
        .await_final_event(|summary, _| summary)
        .await;
    assert_eq!(
        log.take(),
        [
            "ack 0:0..2",
            "ack 0:2..3",
            "reject 0:3..4",
            "ack 0:4..6",
            "ack 0:6..7"
        ]
    );
    assert_eq!((summary.acks.acked, summary.acks.rejected), (6, 1));
}

#[tokio::test]
async fn a_window_acks_nothing_before_its_output_was_written() {
    let log = Arc::new(Log::default());
    let events = AsyncTask::emits::<u64>()
        .sender(located(futures::stream::iter(owed(&log, 10))))
        .filter_map(|r| async move { r.ok() });
    let mut windows = Box::pin(
        events
            .event_time_window(Tumbling::event_time(4), |e| e.data as i64)
            .unwrap()
            .aggregate_windows(KeepAcks::new(Fold::new(0u64, |n, _| n + 1))),
    );
    let mut written = Vec::new();
    while let Some(item) = windows.next().await {
        let WindowEvent::Fired(mut window) = item else {
            panic!("unexpected {item:?}");
        };
        // Nothing this window holds was acknowledged before it was handed over.
        let acks = window.take_acks();
        let owed: Vec<_> = acks.ranges().collect();
        assert_eq!(log.take(), Vec::<String>::new());
        written.push((window.start, window.value.value, owed));
        acks.ack(); // "written"
        let (start, _, owed) = written.last().unwrap();
        let (_, range) = &owed[0];
        assert_eq!(
            log.take(),
            [format!("ack 0:{}..{}", range.start, range.end)],
            "{start}"
        );
    }
    assert_eq!(
        written,
        [
            (0, 4, vec![(0, 0..4)]),
            (4, 4, vec![(0, 4..8)]),
            (8, 2, vec![(0, 8..10)])
        ]
    );
}

#[tokio::test]
async fn obligations_dropped_unsettled_are_released_and_counted() {
    let log = Arc::new(Log::default());
    // The events are collected, not handled: whoever holds them owes the source.
    let (events, summary) = AsyncTask::emits::<u64>()
        .sender(located(futures::stream::iter(owed(&log, 3))))
        .collect_vec()
        .await;
    assert!(log.take().is_empty());
    assert!(summary.acks.is_empty());
    drop(events);
    assert_eq!(
        log.take(),
        ["release 0:0..1", "release 0:1..2", "release 0:2..3"]
    );
}
