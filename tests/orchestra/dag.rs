//! DAGs run in a valid topological order, never above the limit (counted).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use sweet_async::orchestra::{Job, Orchestra, OrchestraError, OutcomeKind};
use sweet_async::prelude::*;

use crate::{Boom, Probe, ms};

#[tokio::test(start_paused = true)]
async fn diamond_runs_in_topological_order() {
    let probe = Probe::default();
    let mut o: Orchestra<&str, Boom> = Orchestra::builder()
        .max_concurrent_tasks(2)
        .build()
        .unwrap();
    o.register_task("a", probe.task("a", ms(10))).unwrap();
    o.register_task("b", probe.task("b", ms(30))).unwrap();
    o.register_task("c", probe.task("c", ms(20))).unwrap();
    o.register_task("d", probe.task("d", ms(10))).unwrap();
    o.add_dependency("b", "a").unwrap();
    o.add_dependency("c", "a").unwrap();
    o.add_dependency("d", "b").unwrap();
    o.add_dependency("d", "c").unwrap();
    assert_eq!(o.get_task_status("d"), Some(TaskStatus::Pending));
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();

    assert!(report.is_success(), "{report:?}");
    assert_eq!(report.len(), 4);
    for (task, dep) in [("b", "a"), ("c", "a"), ("d", "b"), ("d", "c")] {
        probe.assert_before(dep, task);
    }
    // b and c ran side by side: the limit was reached, never exceeded.
    assert_eq!(probe.max_concurrent(), 2);
    assert_eq!(report.order(), ["a", "c", "b", "d"]);
    assert_eq!(report.value("d"), Some(&"d"));
    assert_eq!(o.get_task_status("d"), Some(TaskStatus::Completed));
    assert_eq!(o.get_task_status("nope"), None);
    let stats = o.stats().snapshot();
    assert_eq!((stats.submitted, stats.completed, stats.running), (4, 4, 0));
    assert_eq!(stats.max, Some(ms(30)));
}

#[tokio::test(start_paused = true)]
async fn wide_dag_never_exceeds_the_limit() {
    let probe = Probe::default();
    let mut o: Orchestra<&str, Boom> = Orchestra::builder()
        .max_concurrent_tasks(4)
        .build()
        .unwrap();
    let mids: Vec<&'static str> = (0..40)
        .map(|i| &*Box::leak(format!("mid-{i}").into_boxed_str()))
        .collect();
    o.register_task("root", probe.task("root", ms(5))).unwrap();
    o.register_task("sink", probe.task("sink", ms(5))).unwrap();
    for (i, id) in mids.iter().enumerate() {
        o.register_task(id, probe.task(id, ms(1 + (i as u64 * 7) % 13)))
            .unwrap();
        o.add_dependency(*id, "root").unwrap();
        o.add_dependency("sink", *id).unwrap();
    }
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    assert!(report.is_success());
    assert_eq!(report.len(), 42);
    assert_eq!(probe.max_concurrent(), 4);
    for id in &mids {
        probe.assert_before("root", id);
        probe.assert_before(id, "sink");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_dag_on_many_threads_never_exceeds_the_limit() {
    let running = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let mut o: Orchestra<usize, Boom, usize> = Orchestra::builder()
        .max_concurrent_tasks(3)
        .build()
        .unwrap();
    for i in 0..200usize {
        let (running, max) = (Arc::clone(&running), Arc::clone(&max));
        o.register_fn(i, move || {
            let (running, max) = (Arc::clone(&running), Arc::clone(&max));
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(now, Ordering::SeqCst);
                for _ in 0..(i % 5) {
                    tokio::task::yield_now().await;
                }
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(i)
            }
        })
        .unwrap();
        if i >= 10 {
            o.add_dependency(&i, &(i % 10)).unwrap();
        }
    }
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    assert!(report.is_success());
    assert_eq!(report.len(), 200);
    assert!(max.load(Ordering::SeqCst) <= 3);
    let pos = |i: usize| report.order().iter().position(|&x| x == i).unwrap();
    for i in 10..200 {
        assert!(pos(i % 10) < pos(i));
    }
}

#[tokio::test]
async fn a_cycle_is_refused_and_named() {
    let mut o: Orchestra<u8, Boom> = Orchestra::new().unwrap();
    for id in ["a", "b", "c"] {
        o.register_fn(id, || async { Ok(1) }).unwrap();
    }
    o.add_dependency("b", "a").unwrap();
    o.add_dependency("c", "b").unwrap();
    let err = o.add_dependency("a", "c").unwrap_err();
    assert_eq!(
        err,
        OrchestraError::Cycle {
            path: vec!["a".into(), "c".into(), "b".into(), "a".into()]
        }
    );
    assert_eq!(
        err.to_string(),
        "dependency cycle refused: a -> c -> b -> a"
    );
    let self_loop = o.add_dependency("a", "a").unwrap_err();
    assert_eq!(self_loop.to_string(), "dependency cycle refused: a -> a");
    // The graph is unchanged and still runs.
    o.start_all().unwrap();
    assert!(o.join_all().await.unwrap().is_success());
    assert!(matches!(
        o.add_dependency("a", "zzz"),
        Err(OrchestraError::UnknownTask { .. })
    ));
    assert!(matches!(
        o.register_fn("a", || async { Ok(2) }),
        Err(OrchestraError::DuplicateTask { .. })
    ));
}

#[tokio::test]
async fn a_panicking_task_is_a_failure_with_its_message() {
    let mut o: Orchestra<u8, Boom> = Orchestra::new().unwrap();
    o.register_fn("ok", || async { Ok(1) }).unwrap();
    o.register_fn("boom", || async {
        if true {
            panic!("index out of range in stage 3");
        }
        Ok(2)
    })
    .unwrap();
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    assert_eq!(report.kind("boom"), Some(OutcomeKind::Failed));
    match report.get("boom").unwrap().error() {
        Some(TaskError::Panicked { message }) => {
            assert_eq!(message, "index out of range in stage 3")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(report.value("ok"), Some(&1));
    assert_eq!(o.get_task_status("boom"), Some(TaskStatus::Failed));
}

#[tokio::test]
async fn execute_parallel_and_sequential_keep_input_order() {
    let o: Orchestra<usize, Boom> = Orchestra::builder()
        .max_concurrent_tasks(2)
        .build()
        .unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let jobs = |order: &Arc<std::sync::Mutex<Vec<usize>>>| {
        (0..5usize)
            .map(|i| {
                let order = Arc::clone(order);
                Job::from_fn(move || {
                    let order = Arc::clone(&order);
                    async move {
                        for _ in 0..(5 - i) {
                            tokio::task::yield_now().await;
                        }
                        order.lock().unwrap().push(i);
                        Ok(i * i)
                    }
                })
            })
            .collect::<Vec<_>>()
    };
    let out = o.execute_parallel(jobs(&order)).await.unwrap();
    let values: Vec<usize> = out.into_iter().filter_map(|o| o.into_value()).collect();
    assert_eq!(values, [0, 1, 4, 9, 16]);
    order.lock().unwrap().clear();
    let out = o.execute_sequential(jobs(&order)).await.unwrap();
    assert!(out.iter().all(|o| o.is_success()));
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4]);
    assert_eq!(o.stats().snapshot().completed, 10);
}

#[tokio::test]
async fn outcomes_are_handed_out_once_and_late_registration_runs() {
    let mut o: Orchestra<u8, Boom> = Orchestra::new().unwrap();
    o.register_fn("first", || async { Ok(1) }).unwrap();
    o.start_all().unwrap();
    assert_eq!(o.join_all().await.unwrap().len(), 1);
    o.register_fn("second", || async { Ok(2) }).unwrap();
    o.add_dependency("second", "first").unwrap();
    assert!(matches!(
        o.add_dependency("first", "second"),
        Err(OrchestraError::Cycle { .. }) | Err(OrchestraError::AlreadyStarted { .. })
    ));
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    assert_eq!(report.order(), ["second"]);
    assert_eq!(report.value("second"), Some(&2));
}

/// A random DAG (edges from lower to higher index), run with a random limit on paused
/// time: every task succeeds, each after all its dependencies, never above the limit.
fn run_random_dag(n: usize, edges: Vec<(usize, usize)>, limit: usize, delays: Vec<u64>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let probe = Probe::default();
        let names: Vec<&'static str> = (0..n)
            .map(|i| &*Box::leak(format!("t{i}").into_boxed_str()))
            .collect();
        let mut o: Orchestra<&str, Boom> = Orchestra::builder()
            .max_concurrent_tasks(limit)
            .build()
            .unwrap();
        for (i, id) in names.iter().enumerate() {
            o.register_task(id, probe.task(id, ms(delays[i % delays.len()])))
                .unwrap();
        }
        let mut deps = Vec::new();
        for (a, b) in edges {
            let (x, y) = (a % n, b % n);
            let (lo, hi) = (x.min(y), x.max(y));
            if lo != hi {
                o.add_dependency(names[hi], names[lo]).unwrap();
                deps.push((names[hi], names[lo]));
            }
        }
        o.start_all().unwrap();
        let report = o.join_all().await.unwrap();
        assert!(report.is_success());
        assert_eq!(report.len(), n);
        assert!(probe.max_concurrent() <= limit);
        for (task, dep) in deps {
            probe.assert_before(dep, task);
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_dags_respect_order_and_limit(
        n in 1usize..30,
        edges in proptest::collection::vec((0usize..30, 0usize..30), 0..60),
        limit in 1usize..6,
        delays in proptest::collection::vec(0u64..20, 1..8),
    ) {
        run_random_dag(n, edges, limit, delays);
    }
}

/// Bare closures take the settings-free path (no settings record, the attempt builds
/// the result): the result still carries everything a configured task's does, the
/// counters are published by the time `join_all` answers, and on a multi-thread runtime
/// the dependents of a wide layer all run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_closures_keep_full_results_and_counters() {
    let mut o: Orchestra<u32, Boom, u32> = Orchestra::new().unwrap();
    for i in 0..200u32 {
        o.register_fn(i, move || async move {
            if i == 150 { Err(Boom("no")) } else { Ok(i) }
        })
        .unwrap();
        if i >= 100 {
            o.add_dependency(&i, &(i - 100)).unwrap();
        }
    }
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    assert_eq!(report.len(), 200);
    let r = report.get(&7).unwrap().result().unwrap();
    assert_eq!((r.value(), r.attempts()), (Some(&7), 1));
    assert_eq!(r.priority(), TaskPriority::Normal);
    assert_eq!(r.label().name(), None);
    assert_eq!(
        r.task_id(),
        r.task_id(),
        "an id drawn lazily stays the same"
    );
    assert_ne!(
        r.task_id(),
        report.get(&8).unwrap().result().unwrap().task_id()
    );
    assert!(r.started_at() <= r.completed_at());
    assert!(matches!(
        report.get(&150).unwrap().error(),
        Some(TaskError::Failed(Boom("no")))
    ));
    let s = o.stats().snapshot();
    assert_eq!(
        (s.submitted, s.completed, s.failed, s.running),
        (200, 199, 1, 0)
    );
    assert!(s.p50.is_some() && s.max >= s.min);
}
