use std::time::Duration;

use sweet_async::prelude::*;
use sweet_async::task::metrics;

use crate::Boom;

#[tokio::test]
async fn metrics_are_off_by_default() {
    let r = AsyncTask::to::<u8>()
        .run(|| async { Ok::<_, Boom>(1) })
        .await;
    assert!(r.metrics().is_none());
}

#[tokio::test]
async fn poll_count_and_io_are_recorded_on_the_result() {
    let r = AsyncTask::to::<u8>()
        .with_metrics()
        .run(|| async {
            metrics::record_read(4096, Duration::from_micros(10));
            tokio::task::yield_now().await;
            metrics::record_read(1024, Duration::from_micros(30));
            metrics::record_write(100, Duration::from_micros(5));
            Ok::<_, Boom>(1)
        })
        .await;
    let m = r.metrics().unwrap();
    assert_eq!(m.cpu().poll_count(), 2);
    assert_eq!(m.io().bytes_read(), 5120);
    assert_eq!(m.io().read_operations(), 2);
    assert_eq!(m.io().read_latency(), Duration::from_micros(20));
    assert_eq!(m.io().bytes_written(), 100);
    assert_eq!(m.io().write_operations(), 1);
}

#[tokio::test]
async fn io_outside_a_metered_task_is_not_counted() {
    metrics::record_read(1, Duration::ZERO);
    let r = AsyncTask::to::<u8>()
        .with_metrics()
        .run(|| async {
            // Work of an inner task without metrics counts towards the outer one.
            let inner = AsyncTask::to::<u8>()
                .run(|| async {
                    metrics::record_write(10, Duration::ZERO);
                    Ok::<_, Boom>(1)
                })
                .await;
            inner.into_result().map_err(|_| Boom("inner"))
        })
        .await;
    assert_eq!(r.metrics().unwrap().io().bytes_read(), 0);
    assert_eq!(r.metrics().unwrap().io().bytes_written(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handle_shows_live_metrics() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rx = std::sync::Mutex::new(Some(rx));
    let handle = AsyncTask::to::<u8>()
        .with_metrics()
        .run(move || {
            let rx = rx.lock().unwrap().take();
            async move {
                metrics::record_read(10, Duration::ZERO);
                if let Some(rx) = rx {
                    let _ = rx.await;
                }
                Ok::<_, Boom>(1)
            }
        })
        .spawn()
        .unwrap();
    while handle.metrics().unwrap().io().bytes_read() < 10 {
        tokio::task::yield_now().await;
    }
    // Live: the read is visible while the task still waits.
    assert!(!handle.is_finished() || handle.metrics().unwrap().cpu().poll_count() >= 1);
    tx.send(()).unwrap();
    let r = handle.await;
    // One poll when the send lands before the first poll reaches `rx.await`, else two.
    assert!(r.metrics().unwrap().cpu().poll_count() >= 1);
    assert_eq!(r.metrics().unwrap().io().bytes_read(), 10);
}
