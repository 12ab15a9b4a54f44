//! One retry decision: a task awaited on its own, the same task run by an orchestra, and
//! `retry_each` make the same attempts, wait the same delays and give up at the same
//! point as a reference model of the policy, for any policy and failure count (paused
//! time, so the waits are exact).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::{StreamExt, stream};
use proptest::prelude::*;
use sweet_async::orchestra::Orchestra;
use sweet_async::prelude::*;
use sweet_async::task::{RetryPolicy, RetryStrategy};
use tokio::time::Instant;

use crate::Boom;

/// What a run ends with: the attempts made, whether the last one succeeded, and how long
/// the run took on the paused clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    attempts: u32,
    succeeded: bool,
    took: Duration,
}

/// The reference model: attempts take no time; after failed attempt `i` (1-based) the
/// run waits `delay(i)` if a retry is left and the wait fits the time budget.
fn model(strategy: RetryStrategy, retries: u32, budget: Option<Duration>, fails: u32) -> Run {
    let mut elapsed = Duration::ZERO;
    let mut attempts = 1;
    loop {
        if attempts > fails {
            return Run {
                attempts,
                succeeded: true,
                took: elapsed,
            };
        }
        let delay = strategy.delay(attempts);
        let fits = budget.is_none_or(|b| elapsed + delay <= b);
        if attempts > retries || !fits {
            return Run {
                attempts,
                succeeded: false,
                took: elapsed,
            };
        }
        elapsed += delay;
        attempts += 1;
    }
}

/// Work whose first `fails` calls fail.
fn flaky(fails: u32) -> impl FnMut() -> futures::future::Ready<Result<u32, Boom>> + Send {
    let calls = Arc::new(AtomicU32::new(0));
    move || {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        futures::future::ready(if n < fails { Err(Boom("down")) } else { Ok(n) })
    }
}

fn policy(strategy: RetryStrategy, retries: u32, budget: Option<Duration>) -> RetryPolicy {
    let p = RetryPolicy::new(strategy).with_max_retries(retries);
    match budget {
        Some(b) => p.with_max_elapsed(b),
        None => p,
    }
}

async fn as_task(p: RetryPolicy, fails: u32) -> Run {
    let start = Instant::now();
    let r = AsyncTask::to::<u32>()
        .retry_policy(p)
        .run(flaky(fails))
        .await;
    Run {
        attempts: r.attempts(),
        succeeded: r.is_success(),
        took: start.elapsed(),
    }
}

async fn in_orchestra(p: RetryPolicy, fails: u32) -> Run {
    let start = Instant::now();
    let mut o: Orchestra<u32, Boom, u8> = Orchestra::builder().build().unwrap();
    let task = AsyncTask::to::<u32>().retry_policy(p).run(flaky(fails));
    o.register_task(0, task).unwrap();
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    let result = report.get(&0).unwrap().result().unwrap();
    Run {
        attempts: result.attempts(),
        succeeded: result.is_success(),
        took: start.elapsed(),
    }
}

async fn in_retry_each(p: RetryPolicy, fails: u32) -> Run {
    let start = Instant::now();
    let mut work = flaky(fails);
    let out: Vec<_> = stream::iter([0u8])
        .retry_each(p, move |_| work())
        .unwrap()
        .collect()
        .await;
    let (attempts, succeeded) = match out.as_slice() {
        [Ok(n)] => (n + 1, true),
        [Err(e)] => (e.attempts(), false),
        other => panic!("one item in, one out: {other:?}"),
    };
    Run {
        attempts,
        succeeded,
        took: start.elapsed(),
    }
}

fn strategies() -> impl Strategy<Value = RetryStrategy> {
    prop_oneof![
        Just(RetryStrategy::Immediate),
        (1u64..50).prop_map(|ms| RetryStrategy::Fixed(Duration::from_millis(ms))),
        (1u64..20, 1u64..200).prop_map(|(base, max)| RetryStrategy::Linear {
            base: Duration::from_millis(base),
            max: Duration::from_millis(base + max),
        }),
        (1u64..20).prop_map(|base| RetryStrategy::Exponential {
            base: Duration::from_millis(base),
            factor: 2.0,
            max: Duration::from_millis(500),
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_runner_follows_the_policy(
        strategy in strategies(),
        retries in 0u32..5,
        budget_ms in proptest::option::of(1u64..300),
        fails in 0u32..7,
    ) {
        let budget = budget_ms.map(Duration::from_millis);
        let expected = model(strategy, retries, budget, fails);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let p = policy(strategy, retries, budget);
        let runs = rt.block_on(async {
            [
                as_task(p.clone(), fails).await,
                in_orchestra(p.clone(), fails).await,
                in_retry_each(p, fails).await,
            ]
        });
        for (runner, run) in ["task", "orchestra", "retry_each"].into_iter().zip(runs) {
            prop_assert_eq!(run, expected, "{}", runner);
        }
    }
}

/// A wait that ends exactly at the budget still fits; one that would end past it does not.
#[tokio::test(start_paused = true)]
async fn a_wait_that_ends_on_the_budget_fits() {
    let p = policy(
        RetryStrategy::Fixed(Duration::from_millis(10)),
        3,
        Some(Duration::from_millis(20)),
    );
    let expected = Run {
        attempts: 3,
        succeeded: false,
        took: Duration::from_millis(20),
    };
    assert_eq!(as_task(p.clone(), 5).await, expected);
    assert_eq!(in_orchestra(p.clone(), 5).await, expected);
    assert_eq!(in_retry_each(p, 5).await, expected);
}
