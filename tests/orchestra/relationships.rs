//! TaskRelationships: hierarchy, dependencies, readiness, removal; cycle refusal checked
//! against a brute-force reachability model.

use std::collections::{BTreeSet, HashSet};

use proptest::prelude::*;
use sweet_async::orchestra::{OrchestraError, TaskRelationships};
use sweet_async::task::TaskId;

#[test]
fn hierarchy_and_dependencies() {
    let mut r = TaskRelationships::new();
    let (root, db, api, worker) = (TaskId::new(), TaskId::new(), TaskId::new(), TaskId::new());
    for child in [db, api, worker] {
        r.add_child(root, child).unwrap();
    }
    r.add_dependency(api, db).unwrap();
    r.add_dependency(worker, api).unwrap();
    assert_eq!(
        r.get_children(&root).copied().collect::<Vec<_>>(),
        [db, api, worker]
    );
    assert_eq!(r.get_parent(&api), Some(&root));
    assert_eq!(r.get_parent(&root), None);
    assert_eq!(
        r.get_dependencies(&worker).copied().collect::<Vec<_>>(),
        [api]
    );
    assert_eq!(r.get_dependents(&db).copied().collect::<Vec<_>>(), [api]);
    assert!(matches!(
        r.add_child(TaskId::new(), api),
        Err(OrchestraError::AlreadyHasParent { .. })
    ));
    assert!(matches!(
        r.add_child(api, root),
        Err(OrchestraError::Cycle { .. })
    ));

    let mut done = HashSet::new();
    assert!(r.is_ready_to_execute(&db, &done));
    assert!(!r.is_ready_to_execute(&api, &done));
    done.insert(db);
    assert!(r.is_ready_to_execute(&api, &done));
    assert_eq!(r.topological_order(), [root, db, api, worker]);

    assert!(r.remove_task(&api));
    assert!(!r.remove_task(&api));
    assert_eq!(r.get_dependencies(&worker).count(), 0);
    assert_eq!(
        r.get_children(&root).copied().collect::<Vec<_>>(),
        [db, worker]
    );
    assert_eq!(r.len(), 3);
    // A freed slot is reused without leaking old relations.
    let fresh = TaskId::new();
    r.add_task(fresh);
    assert_eq!(r.get_dependents(&fresh).count(), 0);
    assert_eq!(r.get_parent(&fresh), None);
}

/// `to` reachable from `from` following "depends on" edges (brute force).
fn depends_transitively(edges: &BTreeSet<(u8, u8)>, from: u8, to: u8) -> bool {
    let mut seen = HashSet::new();
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        if seen.insert(n) {
            stack.extend(edges.iter().filter(|(t, _)| *t == n).map(|(_, d)| *d));
        }
    }
    false
}

proptest! {
    #[test]
    fn cycles_refused_exactly_when_the_model_says(
        ops in proptest::collection::vec((0u8..12, 0u8..12), 1..80),
    ) {
        let mut r = TaskRelationships::<u8>::new();
        let mut model: BTreeSet<(u8, u8)> = BTreeSet::new();
        for (task, dep) in ops {
            let would_cycle = depends_transitively(&model, dep, task);
            match r.add_dependency(task, dep) {
                Ok(()) => {
                    prop_assert!(!would_cycle);
                    model.insert((task, dep));
                }
                Err(OrchestraError::Cycle { path }) => {
                    prop_assert!(would_cycle);
                    // The path is a real cycle closed by the new edge.
                    prop_assert_eq!(path.first(), path.last());
                    prop_assert_eq!(&path[0], &task.to_string());
                    prop_assert_eq!(&path[1], &dep.to_string());
                    for w in path[1..].windows(2) {
                        let (a, b): (u8, u8) = (w[0].parse().unwrap(), w[1].parse().unwrap());
                        prop_assert!(model.contains(&(a, b)), "{a} -> {b} not an edge");
                    }
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
        // Readiness matches the model for an arbitrary completed set.
        let done: HashSet<u8> = (0..12).filter(|n| n % 3 == 0).collect();
        let ready: Vec<u8> = r.get_ready_tasks(&done);
        for id in r.ids() {
            let expect = !done.contains(id)
                && model.iter().filter(|(t, _)| t == id).all(|(_, d)| done.contains(d));
            prop_assert_eq!(ready.contains(id), expect, "{}", id);
        }
        // A topological order puts every dependency first.
        let order = r.topological_order();
        prop_assert_eq!(order.len(), r.len());
        let pos = |x: u8| order.iter().position(|&y| y == x).unwrap();
        for (t, d) in &model {
            prop_assert!(pos(*d) < pos(*t));
        }
    }
}
