//! Dropping stops everything; a graceful cancel returns a partial result marked cancelled.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::FutureExt;
use sweet_async::prelude::*;
use sweet_async::stream::Sender;
use sweet_async::stream::source::of;
use tokio_util::sync::CancellationToken;

use crate::DropFlag;

async fn wait_until_zero(live: &AtomicUsize) {
    for _ in 0..1000 {
        if live.load(Ordering::SeqCst) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("{} values still alive", live.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_final_future_stops_producer_and_workers() {
    let live = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (l1, l2, s) = (live.clone(), live.clone(), started.clone());
    let fut = AsyncTask::emits::<u64>()
        .buffer(4.items())
        .sender(move |tx: Sender<u64>| async move {
            let _flag = DropFlag::new(&l1);
            let mut i = 0;
            while tx.send(i).await.is_ok() {
                i += 1;
            }
        })
        .receiver(
            ReceiverStrategy::parallel(3).unwrap(),
            move |_event, _: Collector<(), ()>| {
                let flag = DropFlag::new(&l2);
                s.fetch_add(1, Ordering::SeqCst);
                async move {
                    let _flag = flag;
                    std::future::pending::<Result<(), std::io::Error>>().await
                }
            },
        )
        .await_final_event(|summary, _| summary);
    let mut fut = Box::pin(fut);
    // Run it until the three workers are stuck in flight.
    for _ in 0..100 {
        assert!((&mut fut).now_or_never().is_none());
        if started.load(Ordering::SeqCst) == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(
        started.load(Ordering::SeqCst),
        3,
        "exactly `workers` in flight"
    );
    assert_eq!(live.load(Ordering::SeqCst), 4); // the producer + 3 workers
    drop(fut);
    wait_until_zero(&live).await;
}

#[tokio::test]
async fn dropping_an_emitting_stream_drops_its_producer() {
    let live = Arc::new(AtomicUsize::new(0));
    let l = live.clone();
    let mut stream = Box::pin(
        AsyncTask::emits::<u8>().sender(move |tx: Sender<u8>| async move {
            let _flag = DropFlag::new(&l);
            loop {
                if tx.send(1).await.is_err() {
                    break;
                }
            }
        }),
    );
    futures::StreamExt::next(&mut stream).await;
    assert_eq!(live.load(Ordering::SeqCst), 1);
    drop(stream);
    assert_eq!(live.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn graceful_cancel_lets_in_flight_items_finish_and_marks_the_result() {
    let token = CancellationToken::new();
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (t, s, f) = (token.clone(), started.clone(), finished.clone());
    let (summary, collected) = AsyncTask::emits::<u64>()
        .buffer(8.items())
        .cancellation_token(token.clone())
        .sender(of(0u64..)) // endless
        .receiver(
            ReceiverStrategy::parallel(4).unwrap(),
            move |event, c: Collector<u64, u64>| {
                let (token, started, finished) = (t.clone(), s.clone(), f.clone());
                async move {
                    let n = event.into_data();
                    if started.fetch_add(1, Ordering::SeqCst) + 1 == 50 {
                        token.cancel();
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    c.collect(n, n * 2);
                    finished.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(n)
                }
            },
        )
        .await_final_event(|summary, collected| (summary, collected))
        .await;
    assert!(summary.cancelled);
    let started = started.load(Ordering::SeqCst) as u64;
    assert!((50..=54).contains(&started), "{started}");
    // Every item that started finished and is in the result.
    assert_eq!(finished.load(Ordering::SeqCst) as u64, started);
    assert_eq!(summary.items_out, started);
    assert_eq!(summary.items_in, started);
    assert_eq!(collected.keyed().len() as u64, started);
}

#[tokio::test]
async fn cancel_while_the_source_is_idle_wakes_and_ends_the_stream() {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        t.cancel();
    });
    let summary = AsyncTask::emits::<u8>()
        .cancellation_token(token)
        .sender(futures::stream::pending::<u8>())
        .await_final_event(|summary, _| summary);
    let summary = tokio::time::timeout(Duration::from_secs(10), summary)
        .await
        .unwrap();
    assert!(summary.cancelled);
    assert_eq!(summary.items_in, 0);
}
