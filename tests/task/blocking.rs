//! `run_blocking` with a timeout and retries: a thread cannot be stopped, so an attempt
//! that timed out keeps running; the next attempt waits for it instead of piling a second
//! copy of the work on top (issue 13).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sweet_async::prelude::*;
use sweet_async::task::RetryStrategy;

/// Counted by the work: calls made, copies running now, most copies ever running.
#[derive(Default)]
struct Counts {
    calls: AtomicUsize,
    running: AtomicUsize,
    most: AtomicUsize,
}

/// Every attempt times out while the first call is held on a gate the test opens only
/// after the task returned: with overlapping attempts, four copies would be running then.
/// No sleep decides the outcome: the task's timeouts fire whatever the machine's speed,
/// and the gate holds the work until the test lets it go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_blocking_attempts_never_overlap() {
    let counts = Arc::new(Counts::default());
    let (open, gate) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let work = {
        let counts = Arc::clone(&counts);
        move || {
            counts.calls.fetch_add(1, Ordering::SeqCst);
            let now = counts.running.fetch_add(1, Ordering::SeqCst) + 1;
            counts.most.fetch_max(now, Ordering::SeqCst);
            // Held until the test opens the gate (or drops its end).
            let _ = gate.lock().map(|g| g.recv());
            counts.running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(())
        }
    };
    let result = AsyncTask::to::<()>()
        .timeout(Duration::from_millis(5))
        .retry(3)
        .retry_strategy(RetryStrategy::Immediate)
        .run_blocking(work)
        .await;
    assert!(matches!(
        result.error(),
        Some(TaskError::RetriesExhausted { attempts: 4, .. })
    ));
    // Four attempts timed out, one copy of the work ran: the retries waited for it.
    assert_eq!(counts.calls.load(Ordering::SeqCst), 1);
    assert_eq!(counts.running.load(Ordering::SeqCst), 1);
    drop(open);
    // The abandoned thread returns once the gate is gone; nothing started after it.
    let counts_after = Arc::clone(&counts);
    tokio::task::spawn_blocking(move || {
        while counts_after.running.load(Ordering::SeqCst) != 0 {
            std::thread::yield_now();
        }
    })
    .await
    .unwrap();
    assert_eq!(counts.calls.load(Ordering::SeqCst), 1);
    assert_eq!(counts.most.load(Ordering::SeqCst), 1);
}
