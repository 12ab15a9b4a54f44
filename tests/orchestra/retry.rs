//! Retries run by the orchestra: a task waiting for its backoff holds no slot.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sweet_async::orchestra::Orchestra;
use sweet_async::prelude::*;
use sweet_async::task::RetryStrategy;
use tokio::time::Instant;

use crate::{Boom, Probe, ms};

#[tokio::test(start_paused = true)]
async fn a_backoff_does_not_hold_a_slot() {
    let probe = Probe::default();
    let t0 = Instant::now();
    let mut o: Orchestra<&str, Boom> = Orchestra::builder()
        .max_concurrent_tasks(1)
        .build()
        .unwrap();
    // `flaky` (high priority, so it runs first) fails once, then waits 10 s to retry.
    let calls = Arc::new(AtomicU32::new(0));
    let p = probe.clone();
    let c = Arc::clone(&calls);
    let flaky = AsyncTask::to()
        .name("flaky")
        .priority(TaskPriority::High)
        .retry_strategy(RetryStrategy::Fixed(Duration::from_secs(10)))
        .retry(2)
        .run(move || {
            let (p, c) = (p.clone(), Arc::clone(&c));
            async move {
                p.enter("flaky");
                tokio::time::sleep(ms(1)).await;
                p.exit("flaky");
                if c.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(Boom("first attempt"))
                } else {
                    Ok("flaky")
                }
            }
        });
    o.register_task("flaky", flaky).unwrap();
    // `steady` needs 3 s of the only slot.
    o.register_task("steady", probe.task("steady", Duration::from_secs(3)))
        .unwrap();
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    assert!(report.is_success(), "{report:?}");
    // steady ran during flaky's backoff: flaky, steady, flaky.
    assert_eq!(probe.starts(), ["flaky", "steady", "flaky"]);
    assert_eq!(probe.max_concurrent(), 1);
    let flaky = report.get("flaky").unwrap().result().unwrap();
    assert_eq!(flaky.attempts(), 2);
    // Whole run: 1 ms attempt + 10 s backoff + 1 ms attempt; steady fit inside.
    assert_eq!(t0.elapsed(), Duration::from_secs(10) + ms(2));
    assert_eq!(flaky.execution_time(), Duration::from_secs(10) + ms(2));
    assert_eq!(o.stats().snapshot().retried, 1);
}

#[tokio::test(start_paused = true)]
async fn retries_exhausted_then_recovery_fallback() {
    let mut o: Orchestra<u32, Boom> = Orchestra::builder()
        .retry_policy(
            sweet_async::task::RetryPolicy::new(RetryStrategy::Fixed(ms(5))).with_max_retries(2),
        )
        .build()
        .unwrap();
    o.register_fn("always-fails", || async { Err(Boom("down")) })
        .unwrap();
    let recovered = AsyncTask::to()
        .recover_with(|_err| async { Ok(99) })
        .run(|| async { Err(Boom("down")) });
    o.register_task("recovered", recovered).unwrap();
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    match report.get("always-fails").unwrap().error() {
        Some(TaskError::RetriesExhausted { attempts, last }) => {
            assert_eq!(*attempts, 3);
            assert_eq!(last.user_error(), Some(&Boom("down")));
        }
        other => panic!("{other:?}"),
    }
    let r = report.get("recovered").unwrap().result().unwrap();
    assert_eq!(r.value(), Some(&99));
    assert!(r.was_recovered());
    // The orchestra's default retry policy does not override the task's own (none set
    // here, so the default applied to both).
    assert_eq!(r.attempts(), 3);
    assert_eq!(o.stats().snapshot().retried, 4);
}

#[tokio::test(start_paused = true)]
async fn default_timeout_applies_per_attempt() {
    let mut o: Orchestra<u32, Boom> = Orchestra::builder()
        .timeout(ms(100))
        .no_retry()
        .build()
        .unwrap();
    o.register_fn("slow", || async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(1)
    })
    .unwrap();
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    assert!(report.get("slow").unwrap().error().unwrap().is_timeout());
}
