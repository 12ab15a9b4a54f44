//! Builder validation: zero concurrency, conflicts, invalid task settings, no runtime.

use std::time::Duration;

use sweet_async::orchestra::{
    FailureStrategy, Orchestra, OrchestraError, OrchestratorBuilder, Runtime, RuntimeBuilder,
};
use sweet_async::prelude::*;

use crate::Boom;

type O = Orchestra<u8, Boom>;

#[test]
fn build_outside_a_runtime_is_an_error() {
    let err = OrchestratorBuilder::new()
        .build::<u8, Boom, &str>()
        .unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Invalid {
            setting: "runtime",
            ..
        }
    ));
}

#[tokio::test]
async fn invalid_settings_are_config_errors() {
    let zero: Result<O, _> = OrchestratorBuilder::new().max_concurrent_tasks(0).build();
    assert_eq!(
        zero.unwrap_err(),
        ConfigError::Zero {
            setting: "max concurrent tasks"
        }
    );
    let conflict: Result<O, _> = OrchestratorBuilder::new()
        .sequential()
        .max_concurrent_tasks(8)
        .build();
    assert!(matches!(conflict, Err(ConfigError::Conflict { .. })));
    let conflict: Result<O, _> = OrchestratorBuilder::new()
        .no_retry()
        .retry_failed_tasks(2)
        .build();
    assert!(matches!(conflict, Err(ConfigError::Conflict { .. })));
    let zero_timeout: Result<O, _> = OrchestratorBuilder::new().timeout(Duration::ZERO).build();
    assert!(matches!(
        zero_timeout,
        Err(ConfigError::ZeroDuration { .. })
    ));
    let too_many: Result<O, _> = OrchestratorBuilder::new().retry_failed_tasks(1000).build();
    assert!(matches!(too_many, Err(ConfigError::OutOfRange { .. })));

    let ok: O = OrchestratorBuilder::new()
        .failure_strategy(FailureStrategy::FailFast)
        .with_runtime(&Runtime::current().unwrap())
        .with_tracing()
        .build()
        .unwrap();
    assert_eq!(ok.failure_strategy(), FailureStrategy::FailFast);
    assert_eq!(
        ok.max_concurrent_tasks(),
        sweet_async::orchestra::DEFAULT_MAX_CONCURRENT_TASKS
    );
}

#[tokio::test]
async fn an_invalid_task_is_refused_at_registration() {
    let mut o: O = Orchestra::new().unwrap();
    let bad = AsyncTask::to::<u8>()
        .timeout(Duration::ZERO)
        .run(|| async { Ok::<_, Boom>(1) });
    assert!(matches!(
        o.register_task("bad", bad),
        Err(OrchestraError::Config(ConfigError::ZeroDuration { .. }))
    ));
    assert_eq!(o.get_task_status("bad"), None);
}

#[test]
fn runtime_settings_are_validated() {
    for (b, setting) in [
        (RuntimeBuilder::new().worker_threads(0), "worker threads"),
        (RuntimeBuilder::new().worker_threads(1025), "worker threads"),
        (RuntimeBuilder::new().stack_size(64 * 1024), "stack size"),
        (
            RuntimeBuilder::new().stack_size(16 * 1024 * 1024),
            "stack size",
        ),
    ] {
        match b.build() {
            Err(ConfigError::OutOfRange { setting: s, .. }) => assert_eq!(s, setting),
            other => panic!("{other:?}"),
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let conflict = RuntimeBuilder::new()
        .handle(rt.handle().clone())
        .worker_threads(2)
        .build();
    assert!(matches!(conflict, Err(ConfigError::Conflict { .. })));
    let ok = RuntimeBuilder::new()
        .worker_threads(2)
        .stack_size(128 * 1024)
        .thread_name("edge")
        .build()
        .unwrap();
    assert!(ok.is_owned());
    let ok = RuntimeBuilder::new()
        .stack_size(8 * 1024 * 1024)
        .build()
        .unwrap();
    assert!(ok.is_owned());
}
