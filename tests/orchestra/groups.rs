//! Groups: staged start and join, refusal of unstartable groups, cancel_group.

use std::time::Duration;

use sweet_async::orchestra::{Orchestra, OrchestraError, TaskOutcome};
use sweet_async::prelude::*;

use crate::{Boom, Probe, ms};

fn ml_pipeline(probe: &Probe, fail_model_b: bool) -> Orchestra<&'static str, Boom> {
    let mut o = Orchestra::builder()
        .max_concurrent_tasks(4)
        .build()
        .unwrap();
    o.register_task("data-prep", probe.task("data-prep", ms(10)))
        .unwrap();
    o.register_task("model-a", probe.task("model-a", ms(30)))
        .unwrap();
    let b = if fail_model_b {
        probe.failing("model-b", ms(20))
    } else {
        probe.task("model-b", ms(20))
    };
    o.register_task("model-b", b).unwrap();
    o.register_task("evaluate", probe.task("evaluate", ms(5)))
        .unwrap();
    for (group, members) in [
        ("data-preparation", &["data-prep"][..]),
        ("model-training", &["model-a", "model-b"][..]),
        ("model-evaluation", &["evaluate"][..]),
    ] {
        o.create_group(group).unwrap();
        for m in members {
            o.add_task_to_group(group, *m).unwrap();
        }
    }
    o.add_dependency("model-a", "data-prep").unwrap();
    o.add_dependency("model-b", "data-prep").unwrap();
    o.add_dependency("evaluate", "model-a").unwrap();
    o.add_dependency("evaluate", "model-b").unwrap();
    o
}

#[tokio::test(start_paused = true)]
async fn staged_groups_run_one_after_another() {
    let probe = Probe::default();
    let mut o = ml_pipeline(&probe, false);
    // Training before data preparation would wait forever: refused.
    assert_eq!(
        o.start_group("model-training").unwrap_err(),
        OrchestraError::DependencyNotStarted {
            task: "model-a".into(),
            dependency: "data-prep".into()
        }
    );
    assert!(matches!(
        o.join_group("model-training").await,
        Err(OrchestraError::NotStarted { .. })
    ));
    for group in ["data-preparation", "model-training", "model-evaluation"] {
        o.start_group(group).unwrap();
        let report = o.join_group(group).await.unwrap();
        assert!(report.is_success());
    }
    assert_eq!(
        probe.starts(),
        ["data-prep", "model-a", "model-b", "evaluate"]
    );
    let report = o.join_all().await.unwrap();
    assert_eq!(report.len(), 4);
    assert_eq!(report.value("evaluate"), Some(&"evaluate"));
    assert!(matches!(
        o.start_group("nope"),
        Err(OrchestraError::UnknownGroup { .. })
    ));
    assert!(matches!(
        o.create_group("model-training"),
        Err(OrchestraError::DuplicateGroup { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_failed_member_fails_the_group_join() {
    let probe = Probe::default();
    let mut o = ml_pipeline(&probe, true);
    o.start_group("data-preparation").unwrap();
    o.join_group("data-preparation").await.unwrap();
    o.start_group("model-training").unwrap();
    let err = o.join_group("model-training").await.unwrap_err();
    assert_eq!(
        err,
        OrchestraError::GroupFailed {
            group: "model-training".into(),
            failed: vec!["model-b".into()],
            skipped: vec![],
            cancelled: vec![],
        }
    );
    // Evaluation depends on the failed model: started, it is skipped at once.
    o.start_group("model-evaluation").unwrap();
    let err = o.join_group("model-evaluation").await.unwrap_err();
    assert!(
        matches!(err, OrchestraError::GroupFailed { ref skipped, .. } if skipped == &["evaluate".to_string()])
    );
    let report = o.join_all().await.unwrap();
    assert!(matches!(
        report.get("evaluate").unwrap(),
        TaskOutcome::Skipped { because: "model-b" }
    ));
}

#[tokio::test(start_paused = true)]
async fn cancel_group_stops_running_and_pending_members() {
    let probe = Probe::default();
    let mut o: Orchestra<&str, Boom> = Orchestra::builder()
        .max_concurrent_tasks(1)
        .build()
        .unwrap();
    o.register_task("long", probe.task("long", Duration::from_secs(3600)))
        .unwrap();
    o.register_task("queued", probe.task("queued", ms(1)))
        .unwrap();
    o.register_task("after", probe.task("after", ms(1)))
        .unwrap();
    o.register_task("other", probe.task("other", ms(1)))
        .unwrap();
    o.add_dependency("after", "long").unwrap();
    o.create_group("batch").unwrap();
    for id in ["long", "queued"] {
        o.add_task_to_group("batch", id).unwrap();
    }
    o.start_all().unwrap();
    tokio::time::sleep(ms(5)).await;
    assert_eq!(o.get_task_status("long"), Some(TaskStatus::Running));
    let report = o
        .cancel_group("batch", CancellationLevel::Kill)
        .await
        .unwrap();
    assert_eq!(report.cancelled, ["long", "queued"]);
    let all = o.join_all().await.unwrap();
    assert!(matches!(
        all.get("long").unwrap().error(),
        Some(TaskError::Cancelled {
            level: CancellationLevel::Kill
        })
    ));
    assert!(matches!(
        all.get("queued").unwrap(),
        TaskOutcome::Cancelled {
            level: CancellationLevel::Kill
        }
    ));
    assert!(matches!(
        all.get("after").unwrap(),
        TaskOutcome::Skipped { because: "long" }
    ));
    assert_eq!(all.value("other"), Some(&"other"));
    assert_eq!(o.get_task_status("long"), Some(TaskStatus::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_orchestra_stops_its_tasks() {
    let probe = Probe::default();
    let mut o: Orchestra<&str, Boom> = Orchestra::new().unwrap();
    o.register_task("forever", probe.task("forever", Duration::from_secs(3600)))
        .unwrap();
    o.start_all().unwrap();
    tokio::time::sleep(ms(5)).await;
    assert_eq!(probe.starts(), ["forever"]);
    drop(o);
    tokio::time::sleep(ms(5)).await;
    // The attempt was aborted: its drop guard recorded the end.
    assert_eq!(probe.log().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_plain_running_task_reports_the_level() {
    let mut o: Orchestra<u8, Boom> = Orchestra::new().unwrap();
    o.register_fn("plain", || async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(1)
    })
    .unwrap();
    o.create_group("g").unwrap();
    o.add_task_to_group("g", "plain").unwrap();
    o.start_group("g").unwrap();
    tokio::time::sleep(ms(1)).await;
    let report = o
        .cancel_group("g", CancellationLevel::Graceful)
        .await
        .unwrap();
    assert_eq!(report.cancelled, ["plain"]);
    let all = o.join_all().await.unwrap();
    assert!(matches!(
        all.get("plain").unwrap().error(),
        Some(TaskError::Cancelled {
            level: CancellationLevel::Graceful
        })
    ));
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send::<Orchestra<u8, Boom>>();
    send::<sweet_async::orchestra::Job<u8, Boom>>();
    send_sync::<sweet_async::orchestra::Runtime>();
    send_sync::<sweet_async::orchestra::ExecutionStats>();
    send_sync::<sweet_async::orchestra::TaskRelationships<&str>>();
    send_sync::<sweet_async::orchestra::OrchestraReport<u8, Boom>>();
    send_sync::<sweet_async::message::MessageBus<String>>();
    send_sync::<sweet_async::message::Mailbox<String>>();
}
