//! Each failure strategy on a failing middle node: which dependents ran, which were
//! skipped, which were cancelled.
//!
//! ```text
//! extract ──> transform (fails at 10 ms) ──> load ──> report
//!    └──────> audit (runs 0..50 ms) ───────> cleanup
//! ```

use sweet_async::orchestra::{FailureStrategy, Orchestra, OrchestraReport, TaskOutcome};
use sweet_async::prelude::*;

use crate::{Boom, Probe, ms};

async fn run(strategy: FailureStrategy) -> (OrchestraReport<&'static str, Boom>, Probe) {
    let probe = Probe::default();
    let mut o: Orchestra<&str, Boom> = Orchestra::builder()
        .failure_strategy(strategy)
        .build()
        .unwrap();
    o.register_task("extract", probe.task("extract", ms(5)))
        .unwrap();
    o.register_task("transform", probe.failing("transform", ms(10)))
        .unwrap();
    o.register_task("load", probe.task("load", ms(5))).unwrap();
    o.register_task("report", probe.task("report", ms(5)))
        .unwrap();
    o.register_task("audit", probe.task("audit", ms(50)))
        .unwrap();
    o.register_task("cleanup", probe.task("cleanup", ms(5)))
        .unwrap();
    o.add_dependency("transform", "extract").unwrap();
    o.add_dependency("load", "transform").unwrap();
    o.add_dependency("report", "load").unwrap();
    o.add_dependency("audit", "extract").unwrap();
    o.add_dependency("cleanup", "audit").unwrap();
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    assert_eq!(report.len(), 6, "every task is reported: {report:?}");
    let s = o.stats().snapshot();
    assert_eq!(s.completed + s.failed + s.cancelled + s.skipped, 6);
    (report, probe)
}

#[tokio::test(start_paused = true)]
async fn continue_skip_dependents_skips_only_the_failed_branch() {
    let (report, probe) = run(FailureStrategy::ContinueSkipDependents).await;
    assert_eq!(report.failed(), ["transform"]);
    assert_eq!(report.skipped(), ["load", "report"]);
    assert_eq!(report.succeeded(), ["extract", "audit", "cleanup"]);
    assert!(report.cancelled().is_empty());
    match report.get("report").unwrap() {
        TaskOutcome::Skipped { because } => assert_eq!(*because, "transform"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        report
            .get("transform")
            .unwrap()
            .error()
            .unwrap()
            .user_error(),
        Some(&Boom("transform"))
    );
    assert!(!probe.starts().contains(&"load"));
}

#[tokio::test(start_paused = true)]
async fn fail_fast_cancels_the_rest() {
    let (report, probe) = run(FailureStrategy::FailFast).await;
    assert_eq!(report.failed(), ["transform"]);
    assert!(report.skipped().is_empty());
    // audit was running: cancelled while running; the others never started.
    let mut cancelled = report.cancelled();
    cancelled.sort_unstable();
    assert_eq!(cancelled, ["audit", "cleanup", "load", "report"]);
    assert!(matches!(
        report.get("audit").unwrap().error(),
        Some(TaskError::Cancelled {
            level: CancellationLevel::Graceful
        })
    ));
    assert!(matches!(
        report.get("cleanup").unwrap(),
        TaskOutcome::Cancelled { .. }
    ));
    assert_eq!(probe.starts(), ["extract", "transform", "audit"]);
    assert_eq!(report.succeeded(), ["extract"]);
}

#[tokio::test(start_paused = true)]
async fn continue_all_runs_the_dependents_anyway() {
    let (report, probe) = run(FailureStrategy::ContinueAll).await;
    assert_eq!(report.failed(), ["transform"]);
    assert!(report.skipped().is_empty() && report.cancelled().is_empty());
    let mut ok = report.succeeded();
    ok.sort_unstable();
    assert_eq!(ok, ["audit", "cleanup", "extract", "load", "report"]);
    probe.assert_before("transform", "load");
    probe.assert_before("load", "report");
}
