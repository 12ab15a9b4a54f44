//! A panicking receiver or producer becomes a typed error; nothing hangs.

use std::time::Duration;

use futures::StreamExt;
use sweet_async::collect::Received;
use sweet_async::prelude::*;
use sweet_async::stream::source::of;
use sweet_async::stream::{EventErrorKind, Sender, SenderEvent, SourceError};

async fn with_panics(strategy: ReceiverStrategy) {
    let (summary, collected) = tokio::time::timeout(Duration::from_secs(30), pipeline(strategy))
        .await
        .expect("a panicking receiver must not hang the pipeline");
    check(summary, collected);
}

type Result3 = (Summary, sweet_async::collect::Collected<(), (), u32>);

async fn pipeline(strategy: ReceiverStrategy) -> Result3 {
    AsyncTask::emits::<u32>()
        .sender(of(0..20))
        .receiver(strategy, |event, _: Collector<(), ()>| async move {
            let n = event.into_data();
            if n % 7 == 3 {
                panic!("bad record {n}");
            }
            Ok::<_, std::io::Error>(n)
        })
        .await_final_event(|summary, collected| (summary, collected))
        .await
}

fn check(summary: Summary, collected: sweet_async::collect::Collected<(), (), u32>) {
    assert_eq!(
        (summary.items_in, summary.items_out, summary.errors),
        (20, 17, 3)
    );
    let mut messages: Vec<(u64, String)> = collected
        .errors()
        .iter()
        .map(|e| match e.error.kind() {
            EventErrorKind::Panicked { message } => {
                (e.error.id().sequence_number(), message.clone())
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    messages.sort();
    assert_eq!(
        messages,
        [
            (3, "bad record 3".to_owned()),
            (10, "bad record 10".to_owned()),
            (17, "bad record 17".to_owned())
        ]
    );
    assert!(collected.errors().iter().all(|e| e.error.is_panic()));
}

#[tokio::test]
async fn serial_receiver_panics_are_typed_errors() {
    with_panics(ReceiverStrategy::Serial).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_receiver_panics_are_typed_errors() {
    with_panics(ReceiverStrategy::parallel(4).unwrap()).await;
}

#[test]
fn parallel_receiver_without_runtime_runs_locally_and_catches_panics() {
    let (summary, collected) =
        futures::executor::block_on(pipeline(ReceiverStrategy::parallel(3).unwrap()));
    check(summary, collected);
}

#[tokio::test]
async fn a_panic_while_building_the_future_fails_only_that_event() {
    let summary = AsyncTask::emits::<u32>()
        .sender(of(0..4))
        .receiver(ReceiverStrategy::Serial, |event, _: Collector<(), ()>| {
            let n = event.into_data();
            assert_ne!(n, 2, "synchronous part of the receiver panicked");
            async move { Ok::<_, std::io::Error>(n) }
        })
        .await_final_event(|summary, _| summary)
        .await;
    assert_eq!(
        (summary.items_in, summary.items_out, summary.errors),
        (4, 3, 1)
    );
}

#[tokio::test]
async fn a_panicking_producer_ends_the_stream_with_a_typed_error() {
    let items: Vec<_> = AsyncTask::emits::<u8>()
        .sender(|tx: Sender<u8>| async move {
            tx.send(1).await.unwrap();
            let connected = tx.is_closed();
            if !connected {
                panic!("producer lost its connection");
            }
            Ok::<(), std::io::Error>(())
        })
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert_eq!(*items[0].as_ref().unwrap().data(), 1);
    match items[1].as_ref().unwrap_err().source_error() {
        Some(SourceError::Panicked { message }) => {
            assert_eq!(message, "producer lost its connection")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_future_that_waited_is_still_named_when_it_fails_or_panics() {
    let (summary, collected) = AsyncTask::emits::<u32>()
        .sender(of(0..6))
        .receiver(ReceiverStrategy::Serial, |event, _: Collector<(), ()>| {
            let n = event.data;
            async move {
                tokio::task::yield_now().await; // polled again later
                match n {
                    2 => panic!("late panic {n}"),
                    4 => Err(std::io::Error::other(format!("late error {n}"))),
                    _ => Ok(n),
                }
            }
        })
        .await_final_event(|summary, collected| (summary, collected))
        .await;
    assert_eq!(
        (summary.items_in, summary.items_out, summary.errors),
        (6, 4, 2)
    );
    assert_eq!(collected.outputs(), &[0, 1, 3, 5]);
    let failed: Vec<(u64, bool, String)> = collected
        .errors()
        .iter()
        .map(|e| {
            let error = &e.error;
            (
                error.id().sequence_number(),
                error.is_panic(),
                error.to_string(),
            )
        })
        .collect();
    assert_eq!(failed.len(), 2);
    assert_eq!((failed[0].0, failed[0].1), (2, true));
    assert!(failed[0].2.contains("late panic 2"), "{}", failed[0].2);
    assert_eq!((failed[1].0, failed[1].1), (4, false));
    assert!(failed[1].2.contains("late error 4"), "{}", failed[1].2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_while_building_a_parallel_future_fails_only_that_event() {
    let (summary, collected) = AsyncTask::emits::<u32>()
        .sender(of(0..8))
        .receiver(
            ReceiverStrategy::parallel(3).unwrap(),
            |event, _: Collector<(), ()>| {
                let n = event.into_data();
                assert_ne!(n, 5, "synchronous part panicked");
                async move { Ok::<_, std::io::Error>(n) }
            },
        )
        .await_final_event(|summary, collected| (summary, collected))
        .await;
    assert_eq!(
        (summary.items_in, summary.items_out, summary.errors),
        (8, 7, 1)
    );
    let error = &collected.errors()[0].error;
    assert_eq!(error.id().sequence_number(), 5);
    assert!(error.is_panic());
}

#[tokio::test]
async fn a_panicking_upstream_ends_the_receiver_with_one_typed_error() {
    let upstream = futures::stream::iter(0..5u32).map(|n| {
        assert_ne!(n, 2, "upstream broke");
        SenderEvent::new(n)
    });
    let items: Vec<_> = upstream
        .receiver(
            ReceiverStrategy::Serial,
            |event, _: Collector<(), ()>| async move { Ok::<_, std::io::Error>(event.data * 10) },
        )
        .collect()
        .await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(matches!(items[0], Received::Output(0)));
    assert!(matches!(items[1], Received::Output(10)));
    match &items[2] {
        Received::Failed(e) => {
            assert!(e.is_panic());
            assert!(e.to_string().contains("upstream broke"), "{e}");
        }
        other => panic!("unexpected {other:?}"),
    }
}
