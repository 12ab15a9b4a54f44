//! A panicking receiver or producer becomes a typed error; nothing hangs.

use std::time::Duration;

use futures::StreamExt;
use sweet_async::prelude::*;
use sweet_async::stream::source::of;
use sweet_async::stream::{EventErrorKind, Sender, SourceError};

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
