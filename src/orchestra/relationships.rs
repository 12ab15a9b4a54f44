//! [`TaskRelationships`]: parent/child and dependency relations between tasks.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hash};

use rustc_hash::FxHashMap;

use crate::orchestra::OrchestraError;
use crate::orchestra::chunks::ChunkVec;
use crate::orchestra::slots::Slots;
use crate::task::TaskId;

/// What an id of a task in a graph must offer: cheap clone, hashing, and a printable form
/// for error messages. Implemented for every such type (`&'static str`, `String`,
/// `Arc<str>`, integers, [`TaskId`], ...).
pub trait TaskKey: Clone + Eq + Hash + fmt::Debug + fmt::Display + Send + Sync + 'static {}

impl<K> TaskKey for K where K: Clone + Eq + Hash + fmt::Debug + fmt::Display + Send + Sync + 'static {}

/// Parent/child and dependency relations between tasks, with cycles refused when an edge
/// is added.
///
/// It is a plain data structure: every method is synchronous and takes no lock, so it
/// can never block an async worker thread. To share one between tasks, wrap it in a
/// `tokio::sync::RwLock` (every operation is short: `O(degree)`, or `O(reachable tasks)`
/// for the cycle check).
///
/// Unknown ids are added on first use. Dependencies read "`task` depends on
/// `depends_on`": `depends_on` must finish first.
///
/// # Examples
///
/// ETL dependencies: a transform waiting for three extracts, two loads
/// waiting for the transform.
///
/// ```
/// use std::collections::HashSet;
/// use sweet_async::orchestra::TaskRelationships;
///
/// let mut etl = TaskRelationships::new();
/// for extract in ["users", "orders", "products"] {
///     etl.add_dependency("transform", extract)?;
/// }
/// etl.add_dependency("load-warehouse", "transform")?;
/// etl.add_dependency("load-analytics", "transform")?;
///
/// let mut done = HashSet::new();
/// assert_eq!(etl.get_ready_tasks(&done), ["users", "orders", "products"]);
/// done.extend(["users", "orders", "products"]);
/// assert_eq!(etl.get_ready_tasks(&done), ["transform"]);
///
/// // A load that the transform depends on would be a cycle: refused, and named.
/// let err = etl.add_dependency("transform", "load-warehouse").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "dependency cycle refused: transform -> load-warehouse -> transform"
/// );
/// # Ok::<(), sweet_async::orchestra::OrchestraError>(())
/// ```
#[derive(Clone)]
pub struct TaskRelationships<I = TaskId> {
    /// Id to slot; Fx hashing, as the graph is built and read with one lookup per call.
    // Keyed by the user's ids, which may come from outside (a request, a file, parsed
    // UUIDs): std's randomly keyed SipHash, so crafted ids cannot collide on purpose
    // (FxHash took 32.6 s for 100k crafted ids).
    index: HashMap<I, u32>,
    nodes: ChunkVec<Rel<I>>,
    free: Vec<u32>,
}

#[derive(Clone)]
struct Rel<I> {
    id: Option<I>,
    parent: Option<u32>,
    children: Vec<u32>,
    deps: Slots,
    dependents: Slots,
}

impl<I: TaskKey> Default for TaskRelationships<I> {
    fn default() -> Self {
        TaskRelationships::new()
    }
}

impl<I: TaskKey> TaskRelationships<I> {
    /// An empty graph.
    pub fn new() -> Self {
        TaskRelationships {
            index: HashMap::new(),
            nodes: ChunkVec::new(),
            free: Vec::new(),
        }
    }

    /// Adds `id` with no relations; returns `false` when it was already there.
    pub fn add_task(&mut self, id: I) -> bool {
        let before = self.index.len();
        self.insert(id);
        self.index.len() > before
    }

    /// The slot of `id`, added if new.
    pub(crate) fn insert(&mut self, id: I) -> u32 {
        match self.try_insert(id) {
            Ok(i) | Err(i) => i,
        }
    }

    /// Adds `id` in a new slot (`Ok`), or finds its existing slot (`Err`): one hash
    /// lookup either way.
    pub(crate) fn try_insert(&mut self, id: I) -> Result<u32, u32> {
        use std::collections::hash_map::Entry;
        let next = match self.free.last() {
            Some(&i) => i,
            None => u32::try_from(self.nodes.len()).unwrap_or(u32::MAX),
        };
        let key = match self.index.entry(id) {
            Entry::Occupied(e) => return Err(*e.get()),
            Entry::Vacant(e) => {
                let key = e.key().clone();
                e.insert(next);
                key
            }
        };
        let rel = Rel {
            id: Some(key),
            parent: None,
            children: Vec::new(),
            deps: Slots::default(),
            dependents: Slots::default(),
        };
        if self.free.pop().is_some() {
            if let Some(slot) = self.nodes.get_mut(next as usize) {
                *slot = rel;
            }
        } else {
            self.nodes.push(rel);
        }
        Ok(next)
    }

    /// The slot of `id`, if known.
    pub(crate) fn slot<Q>(&self, id: &Q) -> Option<u32>
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index.get(id).copied()
    }

    /// The id in slot `i`.
    pub(crate) fn id_at(&self, i: u32) -> Option<&I> {
        self.nodes.get(i as usize).and_then(|r| r.id.as_ref())
    }

    fn rel(&self, i: u32) -> Option<&Rel<I>> {
        self.nodes.get(i as usize).filter(|r| r.id.is_some())
    }

    fn rel_mut(&mut self, i: u32) -> Option<&mut Rel<I>> {
        self.nodes.get_mut(i as usize).filter(|r| r.id.is_some())
    }

    fn name(&self, i: u32) -> String {
        self.id_at(i).map(ToString::to_string).unwrap_or_default()
    }

    /// `true` when `id` is known.
    pub fn contains<Q>(&self, id: &Q) -> bool
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index.contains_key(id)
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// `true` when there is no task.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Every task, in the order they were added.
    pub fn ids(&self) -> impl Iterator<Item = &I> + '_ {
        self.nodes.iter().filter_map(|r| r.id.as_ref())
    }

    /// Makes `child` a child of `parent` (a hierarchy for grouping and cleanup, not an
    /// execution order).
    ///
    /// # Errors
    ///
    /// [`OrchestraError::AlreadyHasParent`] when `child` has another parent, and
    /// [`OrchestraError::Cycle`] when `child` is `parent` or one of its ancestors.
    pub fn add_child(&mut self, parent: I, child: I) -> Result<(), OrchestraError> {
        // Check before inserting, so a refused relation leaves no new task behind.
        if parent == child {
            let name = parent.to_string();
            return Err(OrchestraError::Cycle {
                path: vec![name.clone(), name],
            });
        }
        if let Some(existing) = self
            .slot(&child)
            .and_then(|c| self.rel(c))
            .and_then(|r| r.parent)
        {
            if self.slot(&parent) != Some(existing) {
                return Err(OrchestraError::AlreadyHasParent {
                    child: child.to_string(),
                    parent: self.name(existing),
                });
            }
        }
        let (p, c) = match (self.slot(&parent), self.slot(&child)) {
            (Some(p), Some(c)) => (p, c),
            _ => (self.insert(parent), self.insert(child)),
        };
        // Walk up from the parent: meeting the child means a loop in the hierarchy.
        let mut path = vec![p];
        let mut up = Some(p);
        while let Some(n) = up {
            if n == c {
                let mut names: Vec<String> = path.iter().rev().map(|&i| self.name(i)).collect();
                names.push(self.name(c));
                return Err(OrchestraError::Cycle { path: names });
            }
            up = self.rel(n).and_then(|r| r.parent);
            if let Some(u) = up {
                path.push(u);
            }
        }
        match self.rel(c).and_then(|r| r.parent) {
            Some(existing) if existing == p => return Ok(()),
            Some(existing) => {
                return Err(OrchestraError::AlreadyHasParent {
                    child: self.name(c),
                    parent: self.name(existing),
                });
            }
            None => {}
        }
        if let Some(r) = self.rel_mut(c) {
            r.parent = Some(p);
        }
        if let Some(r) = self.rel_mut(p) {
            r.children.push(c);
        }
        Ok(())
    }

    /// Records that `task` depends on `depends_on` (which must finish first).
    ///
    /// Adding an edge that exists already is a no-op.
    ///
    /// # Errors
    ///
    /// [`OrchestraError::Cycle`] naming the cycle when `depends_on` already depends,
    /// directly or not, on `task` (or is `task`). The graph is left unchanged.
    pub fn add_dependency(&mut self, task: I, depends_on: I) -> Result<(), OrchestraError> {
        match (self.slot(&task), self.slot(&depends_on)) {
            (Some(t), Some(d)) => self.link(t, d),
            _ if task == depends_on => {
                let name = task.to_string();
                Err(OrchestraError::Cycle {
                    path: vec![name.clone(), name],
                })
            }
            // A new task cannot close a cycle.
            _ => {
                let t = self.insert(task);
                let d = self.insert(depends_on);
                self.link(t, d)
            }
        }
    }

    /// Adds the edge `t` depends on `d` between known slots, refusing cycles.
    pub(crate) fn link(&mut self, t: u32, d: u32) -> Result<(), OrchestraError> {
        if self.rel(t).is_some_and(|r| r.deps.contains(&d)) {
            return Ok(());
        }
        if let Some(path) = self.path_along_dependents(t, d) {
            // `path` runs t -> .. -> d along "is depended on by" edges; read backwards it
            // is d -> .. -> t along "depends on", and the new edge closes it at d.
            let mut names: Vec<String> = vec![self.name(t)];
            names.extend(path.iter().rev().map(|&i| self.name(i)));
            return Err(OrchestraError::Cycle { path: names });
        }
        if let Some(r) = self.rel_mut(t) {
            r.deps.push(d);
        }
        if let Some(r) = self.rel_mut(d) {
            r.dependents.push(t);
        }
        Ok(())
    }

    /// A path `from -> .. -> to` following dependents, if one exists (breadth-first, so the
    /// cycle reported is a shortest one). A task with no dependents (the usual case while
    /// a graph is built top-down) answers at once.
    fn path_along_dependents(&self, from: u32, to: u32) -> Option<Vec<u32>> {
        if from == to {
            return Some(vec![from]);
        }
        if self.rel(from).is_none_or(|r| r.dependents.is_empty()) {
            return None;
        }
        let mut came_from: FxHashMap<u32, u32> = FxHashMap::default();
        let mut queue = VecDeque::from([from]);
        while let Some(n) = queue.pop_front() {
            for &next in self.rel(n).map(|r| &r.dependents[..]).unwrap_or(&[]) {
                if next == from || came_from.contains_key(&next) {
                    continue;
                }
                came_from.insert(next, n);
                if next == to {
                    let mut path = vec![to];
                    let mut at = to;
                    while let Some(&prev) = came_from.get(&at) {
                        path.push(prev);
                        at = prev;
                    }
                    path.reverse();
                    return Some(path);
                }
                queue.push_back(next);
            }
        }
        None
    }

    fn ids_of<'a>(&'a self, slots: &'a [u32]) -> impl Iterator<Item = &'a I> + 'a {
        slots.iter().filter_map(|&i| self.id_at(i))
    }

    fn related<Q>(&self, id: &Q, pick: fn(&Rel<I>) -> &[u32]) -> impl Iterator<Item = &I> + '_
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slots = self
            .slot(id)
            .and_then(|i| self.rel(i))
            .map(pick)
            .unwrap_or(&[]);
        self.ids_of(slots)
    }

    /// The children of `parent`, in the order they were added.
    pub fn get_children<Q>(&self, parent: &Q) -> impl Iterator<Item = &I> + '_
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.related(parent, |r| &r.children)
    }

    /// The parent of `child`, if it has one.
    pub fn get_parent<Q>(&self, child: &Q) -> Option<&I>
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let p = self.slot(child).and_then(|i| self.rel(i))?.parent?;
        self.id_at(p)
    }

    /// The tasks `task` depends on, in the order they were added.
    pub fn get_dependencies<Q>(&self, task: &Q) -> impl Iterator<Item = &I> + '_
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.related(task, |r| &r.deps)
    }

    /// The tasks that depend on `task`, in the order they were added.
    pub fn get_dependents<Q>(&self, task: &Q) -> impl Iterator<Item = &I> + '_
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.related(task, |r| &r.dependents)
    }

    /// Slots that depend on `d`, in the order the edges were added.
    pub(crate) fn dependents_of(&self, d: u32) -> Option<&Slots> {
        self.rel(d).map(|r| &r.dependents)
    }

    /// Slots `task` depends on.
    pub(crate) fn deps_of(&self, t: u32) -> &[u32] {
        self.rel(t).map(|r| &r.deps[..]).unwrap_or(&[])
    }

    /// `true` when `task` is known, not in `completed`, and every dependency is.
    pub fn is_ready_to_execute<Q, S>(&self, task: &Q, completed: &HashSet<I, S>) -> bool
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        S: BuildHasher,
    {
        self.slot(task)
            .is_some_and(|i| self.slot_ready(i, completed))
    }

    fn slot_ready<S: BuildHasher>(&self, i: u32, completed: &HashSet<I, S>) -> bool {
        let Some(r) = self.rel(i) else { return false };
        let Some(id) = &r.id else { return false };
        !completed.contains(id)
            && r.deps
                .iter()
                .all(|&d| self.id_at(d).is_some_and(|dep| completed.contains(dep)))
    }

    /// Every task not in `completed` whose dependencies all are, in the order added.
    pub fn get_ready_tasks<S: BuildHasher>(&self, completed: &HashSet<I, S>) -> Vec<I> {
        (0..self.nodes.len())
            .filter_map(|i| u32::try_from(i).ok())
            .filter(|&i| self.slot_ready(i, completed))
            .filter_map(|i| self.id_at(i).cloned())
            .collect()
    }

    /// A topological order of every task (dependencies first; ties in the order added).
    pub fn topological_order(&self) -> Vec<I> {
        let mut pending: Vec<usize> = self.nodes.iter().map(|r| r.deps.len()).collect();
        let mut queue: VecDeque<u32> = (0..self.nodes.len())
            .filter_map(|i| u32::try_from(i).ok())
            .filter(|&i| self.rel(i).is_some_and(|r| r.deps.is_empty()))
            .collect();
        let mut out = Vec::with_capacity(self.index.len());
        while let Some(n) = queue.pop_front() {
            if let Some(id) = self.id_at(n) {
                out.push(id.clone());
            }
            for &d in self.rel(n).map(|r| &r.dependents[..]).unwrap_or(&[]) {
                if let Some(p) = pending.get_mut(d as usize) {
                    *p = p.saturating_sub(1);
                    if *p == 0 {
                        queue.push_back(d);
                    }
                }
            }
        }
        out
    }

    /// Removes `task` and every relation it takes part in; returns `false` when unknown.
    /// Its children become roots; its dependents no longer wait for it.
    pub fn remove_task<Q>(&mut self, task: &Q) -> bool
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(i) = self.index.remove(task) else {
            return false;
        };
        let Some(rel) = self.nodes.get_mut(i as usize).map(|r| Rel {
            id: r.id.take(),
            parent: r.parent.take(),
            children: std::mem::take(&mut r.children),
            deps: std::mem::take(&mut r.deps),
            dependents: std::mem::take(&mut r.dependents),
        }) else {
            return false;
        };
        if let Some(p) = rel.parent.and_then(|p| self.rel_mut(p)) {
            p.children.retain(|&c| c != i);
        }
        for c in rel.children {
            if let Some(r) = self.rel_mut(c) {
                r.parent = None;
            }
        }
        for &d in rel.deps.iter() {
            if let Some(r) = self.rel_mut(d) {
                r.dependents.retain(|x| x != i);
            }
        }
        for &d in rel.dependents.iter() {
            if let Some(r) = self.rel_mut(d) {
                r.deps.retain(|x| x != i);
            }
        }
        self.free.push(i);
        true
    }
}

impl<I: TaskKey> fmt::Debug for TaskRelationships<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for r in self.nodes.iter() {
            if let Some(id) = &r.id {
                let deps: Vec<&I> = self.ids_of(&r.deps).collect();
                m.entry(id, &deps);
            }
        }
        m.finish()
    }
}
