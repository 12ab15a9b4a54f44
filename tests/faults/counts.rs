//! Counts that travel with the stream: `Summary::skipped` and `cancelled` are right
//! whatever polls the source (the terminal itself, a parallel operator's driver task, a
//! blocking pool thread, or a task the user spawned behind a channel).

use std::time::Duration;

use futures::StreamExt;
use sweet_async::operators::DataflowExt;
use sweet_async::prelude::*;
use sweet_async::stream::{ErrorPolicy, EventError, SenderEvent};
use tokio_util::sync::CancellationToken;

const ROWS: u32 = 2000;

/// `ROWS` items, every other one bad: `ROWS / 2` skipped under `ErrorPolicy::Skip`.
fn half_bad() -> impl futures::Stream<Item = Result<SenderEvent<u32>, EventError>> + Send {
    let input = (0..ROWS).map(|i| if i % 2 == 0 { Ok(i) } else { Err("bad row") });
    AsyncTask::emits::<u32>()
        .on_error(ErrorPolicy::Skip)
        .sender(futures::stream::iter(input))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_read_directly() {
    let summary = half_bad().await_final_event(|s, _| s).await;
    assert_eq!((summary.items_out, summary.skipped), (1000, 1000));
    assert_eq!(summary.items_in, u64::from(ROWS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_through_par_map() {
    for _ in 0..20 {
        let (items, summary) = half_bad()
            .par_map(4, |e| async move {
                tokio::task::yield_now().await;
                e
            })
            .unwrap()
            .collect_vec()
            .await;
        assert_eq!(items.len(), 1000);
        assert_eq!((summary.items_out, summary.skipped), (1000, 1000));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_through_par_map_blocking() {
    for _ in 0..20 {
        let (items, summary) = half_bad()
            .par_map_blocking(4, |e| e.map(|e| e.into_data() * 2))
            .unwrap()
            .collect_vec()
            .await;
        assert_eq!(items.len(), 1000);
        assert_eq!(summary.skipped, 1000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_by_a_spawned_reader_behind_a_channel() {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let reader = tokio::spawn(async move {
        let mut events = std::pin::pin!(half_bad());
        while let Some(e) = events.next().await {
            if tx.send(e).await.is_err() {
                break;
            }
        }
    });
    let summary = tokio_stream::wrappers::ReceiverStream::new(rx)
        .receiver(
            ReceiverStrategy::Serial,
            |e, _: Collector<(), ()>| async move { Ok::<_, std::io::Error>(e.into_data()) },
        )
        .await_final_event(|s, _| s)
        .await;
    reader.await.unwrap();
    assert_eq!((summary.items_out, summary.skipped), (1000, 1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_by_a_spawned_reader_behind_a_channel() {
    let token = CancellationToken::new();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let t = token.clone();
    let reader = tokio::spawn(async move {
        let source = AsyncTask::emits::<u32>()
            .cancellation_token(t.clone())
            .sender(futures::stream::iter(0..u32::MAX));
        let mut events = std::pin::pin!(source);
        while let Some(e) = events.next().await {
            if e.as_ref().is_ok_and(|e| *e.data() == 10) {
                t.cancel();
            }
            if tx.send(e).await.is_err() {
                break;
            }
        }
    });
    let summary = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_stream::wrappers::ReceiverStream::new(rx)
            .receiver(
                ReceiverStrategy::parallel(4).unwrap(),
                |e, _: Collector<(), ()>| async move { Ok::<_, std::io::Error>(e.into_data()) },
            )
            .await_final_event(|s, _| s),
    )
    .await
    .unwrap();
    reader.await.unwrap();
    assert!(summary.cancelled);
    assert_eq!(summary.items_out, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pipelines_on_one_thread_keep_their_own_counts() {
    let a = half_bad().await_final_event(|s, _| s);
    let b = AsyncTask::emits::<u32>()
        .sender(futures::stream::iter(0..10))
        .await_final_event(|s, _| s);
    let (a, b) = futures::join!(a, b);
    assert_eq!(a.skipped, 1000);
    assert_eq!((b.skipped, b.items_out), (0, 10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_behind_a_channel_reach_a_collector_that_unwraps_the_events() {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let reader = tokio::spawn(async move {
        let mut events = std::pin::pin!(half_bad());
        while let Some(e) = events.next().await {
            if tx.send(e).await.is_err() {
                break;
            }
        }
    });
    // The events are taken apart inside the collector's poll: the link travels there.
    let (values, summary) = tokio_stream::wrappers::ReceiverStream::new(rx)
        .map(|e| e.map(SenderEvent::into_data))
        .collect_vec()
        .await;
    reader.await.unwrap();
    assert_eq!(values.len(), 1000);
    assert_eq!((summary.items_out, summary.skipped), (1000, 1000));
}

#[test]
fn a_parallel_receiver_drained_after_its_runtime_shut_down_names_each_event_and_the_cause() {
    use sweet_async::stream::{EventErrorKind, source::of};
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let g = std::sync::Arc::clone(&gate);
    let mut stage = Box::pin(AsyncTask::emits::<u32>().sender(of(0..100)).receiver(
        ReceiverStrategy::parallel(8).unwrap(),
        move |e, _: Collector<(), ()>| {
            let g = std::sync::Arc::clone(&g);
            async move {
                g.notified().await; // never notified: work stays in flight
                Ok::<_, std::io::Error>(e.into_data())
            }
        },
    ));
    // Start the work on the first runtime: 8 events in flight on its worker tasks.
    first.block_on(async {
        let polled = futures::poll!(stage.next());
        assert!(polled.is_pending());
    });
    first.shutdown_background();
    // Drained elsewhere: every event fails, with its own key and the real cause.
    let items: Vec<_> = futures::executor::block_on(stage.collect());
    drop(gate);
    let mut ids = Vec::new();
    for item in items {
        match item {
            sweet_async::collect::Received::Failed(e) => {
                match e.kind() {
                    EventErrorKind::WorkerStopped { reason } => {
                        assert!(reason.contains("runtime"), "{reason}");
                    }
                    other => panic!("{other:?}"),
                }
                ids.push(e.id().sequence_number());
            }
            other => panic!("{other:?}"),
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..100).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_behind_a_channel_reach_the_terminal_through_par_map_blocking() {
    for _ in 0..5 {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let reader = tokio::spawn(async move {
            let mut events = std::pin::pin!(half_bad());
            while let Some(e) = events.next().await {
                if tx.send(e).await.is_err() {
                    break;
                }
            }
        });
        // `f` takes the events apart on the batch threads: the link travels there.
        let (values, summary) = tokio_stream::wrappers::ReceiverStream::new(rx)
            .par_map_blocking(4, |e| e.map(SenderEvent::into_data))
            .unwrap()
            .collect_vec()
            .await;
        reader.await.unwrap();
        assert_eq!(values.len(), 1000);
        assert_eq!(summary.skipped, 1000);
    }
}
