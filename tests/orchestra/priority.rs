//! Priorities order the ready queue; FIFO among equals.

use sweet_async::orchestra::Orchestra;
use sweet_async::prelude::*;

use crate::{Boom, Probe, ms};

#[tokio::test(start_paused = true)]
async fn higher_priority_first_fifo_among_equals() {
    let probe = Probe::default();
    let mut o: Orchestra<&str, Boom> = Orchestra::builder().sequential().build().unwrap();
    let tasks = [
        ("low-1", TaskPriority::Low),
        ("normal-1", TaskPriority::Normal),
        ("high-1", TaskPriority::High),
        ("background", TaskPriority::Background),
        ("critical", TaskPriority::Critical),
        ("normal-2", TaskPriority::Normal),
        ("low-2", TaskPriority::Low),
        ("high-2", TaskPriority::High),
    ];
    for (id, p) in tasks {
        let job = probe.task_with(AsyncTask::to().name(id).priority(p), id, ms(1), Ok(id));
        o.register_task(id, job).unwrap();
    }
    o.start_all().unwrap();
    assert!(o.join_all().await.unwrap().is_success());
    assert_eq!(
        probe.starts(),
        [
            "critical",
            "high-1",
            "high-2",
            "normal-1",
            "normal-2",
            "low-1",
            "low-2",
            "background"
        ]
    );
    assert_eq!(probe.max_concurrent(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_task_made_ready_later_still_jumps_the_queue_by_priority() {
    // `gate` holds the only slot; when it ends, `urgent` (ready only then) and the
    // waiting `bulk-*` tasks compete: urgent wins despite becoming ready last.
    let probe = Probe::default();
    let mut o: Orchestra<&str, Boom> = Orchestra::builder()
        .max_concurrent_tasks(1)
        .build()
        .unwrap();
    o.register_task("gate", probe.task("gate", ms(10))).unwrap();
    for id in ["bulk-1", "bulk-2"] {
        let job = probe.task_with(
            AsyncTask::to().priority(TaskPriority::Low),
            id,
            ms(1),
            Ok(id),
        );
        o.register_task(id, job).unwrap();
    }
    let urgent = probe.task_with(
        AsyncTask::to().priority(TaskPriority::Critical),
        "urgent",
        ms(1),
        Ok("urgent"),
    );
    o.register_task("urgent", urgent).unwrap();
    o.add_dependency("urgent", "gate").unwrap();
    // gate is Normal, bulk-* are Low: gate runs first.
    o.start_all().unwrap();
    assert!(o.join_all().await.unwrap().is_success());
    assert_eq!(probe.starts(), ["gate", "urgent", "bulk-1", "bulk-2"]);
}
