use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sweet_async::prelude::*;
use sweet_async::task::{MAX_RETRIES, RetryStrategy};

use crate::Boom;

#[test]
fn zero_timeout_is_a_config_error() {
    let b = AsyncTask::<Boom>::to::<u8>()
        .timeout(Duration::ZERO)
        .retry(2);
    assert_eq!(
        b.validate(),
        Err(ConfigError::ZeroDuration { setting: "timeout" })
    );
    assert!(b.build().is_err());
}

#[test]
fn retry_count_over_the_limit_is_a_config_error() {
    let err = AsyncTask::<Boom>::to::<u8>()
        .retry(MAX_RETRIES + 1)
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::OutOfRange {
            setting: "retry count",
            value: u64::from(MAX_RETRIES) + 1,
            min: 0,
            max: u64::from(MAX_RETRIES)
        }
    );
    assert!(
        AsyncTask::<Boom>::to::<u8>()
            .retry(MAX_RETRIES)
            .build()
            .is_ok()
    );
}

#[test]
fn invalid_strategy_and_grace_are_config_errors() {
    let b = AsyncTask::<Boom>::to::<u8>().retry_strategy(RetryStrategy::Exponential {
        base: Duration::from_millis(10),
        factor: 0.5,
        max: Duration::from_secs(1),
    });
    assert!(b.validate().is_err());
    let b = AsyncTask::<Boom>::to::<u8>().grace_period(Duration::ZERO);
    assert_eq!(
        b.validate(),
        Err(ConfigError::ZeroDuration {
            setting: "grace period"
        })
    );
}

#[test]
fn the_first_invalid_setting_is_reported() {
    let b = AsyncTask::<Boom>::to::<u8>()
        .timeout(Duration::ZERO)
        .retry(1000);
    assert_eq!(
        b.validate(),
        Err(ConfigError::ZeroDuration { setting: "timeout" })
    );
}

#[tokio::test]
async fn running_a_misconfigured_task_never_calls_the_work() {
    let called = Arc::new(AtomicBool::new(false));
    let c = Arc::clone(&called);
    let r = AsyncTask::<Boom>::to::<u8>()
        .timeout(Duration::ZERO)
        .recover_with(|_| async { Ok(0) })
        .run(move || {
            c.store(true, Ordering::SeqCst);
            async { Ok::<_, Boom>(1) }
        })
        .await;
    assert!(matches!(
        r.error(),
        Some(TaskError::Config(ConfigError::ZeroDuration { .. }))
    ));
    assert!(!called.load(Ordering::SeqCst));
    assert_eq!(r.attempts(), 0);
    let spawned = AsyncTask::<Boom>::to::<u8>()
        .retry(MAX_RETRIES + 1)
        .spawn(|| async { Ok::<_, Boom>(1) });
    assert!(matches!(spawned, Err(TaskError::Config(_))));
}

#[test]
fn builders_are_reusable_and_immutable() {
    let base = AsyncTask::<Boom>::to::<u8>()
        .name("base")
        .timeout(5.seconds());
    let longer = base.clone().timeout(10.seconds());
    assert_eq!(base.get_timeout(), Some(Duration::from_secs(5)));
    assert_eq!(longer.get_timeout(), Some(Duration::from_secs(10)));
    assert_eq!(base.get_priority(), TaskPriority::Normal);
    let urgent = base.priority(TaskPriority::Critical);
    assert_eq!(urgent.get_priority(), TaskPriority::Critical);
}
