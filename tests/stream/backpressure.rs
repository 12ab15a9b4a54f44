//! Bounds: an endless producer never gets more than `capacity + workers` items ahead of
//! a slow consumer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use sweet_async::prelude::*;
use sweet_async::stream::Sender;

fn record_max(max: &AtomicUsize, value: usize) {
    max.fetch_max(value, Ordering::SeqCst);
}

async fn run_bound(capacity: usize, strategy: ReceiverStrategy) -> usize {
    let produced = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let max_ahead = Arc::new(AtomicUsize::new(0));
    let (p, f, m) = (produced.clone(), finished.clone(), max_ahead.clone());
    let outputs: Vec<_> = AsyncTask::emits::<u64>()
        .buffer(capacity.items())
        .sender(move |tx: Sender<u64>| async move {
            // Endless and fast.
            let mut i = 0;
            while tx.send(i).await.is_ok() {
                p.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
        })
        .receiver(strategy, move |event, _: Collector<(), ()>| {
            let (produced, finished, max) = (produced.clone(), f.clone(), m.clone());
            async move {
                let ahead = produced.load(Ordering::SeqCst) - finished.load(Ordering::SeqCst);
                record_max(&max, ahead);
                tokio::time::sleep(Duration::from_millis(10)).await; // slow consumer
                finished.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(event.into_data())
            }
        })
        .take(300)
        .collect()
        .await;
    assert_eq!(outputs.len(), 300);
    max_ahead.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn parallel_receiver_never_lets_the_producer_run_ahead() {
    let workers = 4;
    let max = run_bound(8, ReceiverStrategy::parallel(workers).unwrap()).await;
    assert!(max <= 8 + workers, "producer was {max} items ahead");
    assert!(max >= 8, "the buffer should fill up ({max})");
}

#[tokio::test(start_paused = true)]
async fn serial_receiver_never_lets_the_producer_run_ahead() {
    let max = run_bound(3, ReceiverStrategy::Serial).await;
    assert!(max <= 3 + 1, "producer was {max} items ahead");
}

#[tokio::test(start_paused = true)]
async fn a_plain_stream_source_is_pulled_only_when_a_worker_is_free() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let p = pulled.clone();
    let endless = futures::stream::iter(0u64..).inspect(move |_| {
        p.fetch_add(1, Ordering::SeqCst);
    });
    let (d, m) = (done.clone(), max.clone());
    let out: Vec<_> = AsyncTask::emits::<u64>()
        .sender(endless)
        .receiver(
            ReceiverStrategy::parallel(2).unwrap(),
            move |e, _: Collector<(), ()>| {
                let (pulled, done, max) = (pulled.clone(), d.clone(), m.clone());
                async move {
                    record_max(
                        &max,
                        pulled.load(Ordering::SeqCst) - done.load(Ordering::SeqCst),
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    done.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(e.into_data())
                }
            },
        )
        .take(100)
        .collect()
        .await;
    assert_eq!(out.len(), 100);
    assert!(
        max.load(Ordering::SeqCst) <= 2,
        "{}",
        max.load(Ordering::SeqCst)
    );
}
