//! The scheduler behind an [`Orchestra`](crate::orchestra::Orchestra): one spawned
//! future that owns every piece of scheduling state, so nothing on the hot path takes a
//! lock.
//!
//! It hears from the orchestra (commands) and from running attempts (events) through
//! one shared inbox: two queues it drains whole each round, and its waker. Before the
//! first start the orchestra calls it directly and hands over every dependency edge at
//! once. Ready tasks wait in five FIFO queues, one per priority; at
//! most `limit` attempts (or recovery fallbacks) are in flight. A task waiting for a
//! retry backoff or its start time sits in a timer heap and holds no slot. When a task
//! ends, its dependents' pending counts drop, and those that reach zero become ready (or
//! are skipped / cancelled, by the failure strategy). Cascades use a work list, never
//! recursion, so a 100,000-task chain cannot overflow the stack.
//!
//! Files: this one holds the task table and the ready queues; `attempts.rs` starts
//! attempts and hears back from them, `ending.rs` ends tasks and runs the cascades,
//! `timers.rs` the timer heap, `mailbox.rs` the orchestra's commands, `shared.rs` the
//! per-task state read from outside, `driver.rs` the spawned future.

mod attempts;
mod driver;
mod ending;
mod mailbox;
mod shared;
mod timers;

pub(crate) use mailbox::{Command, EndedOutcomes, Mailbox};
pub(crate) use shared::{NodeShared, SharedTable};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};

use crate::error::TaskError;
use crate::orchestra::builder::{FailureStrategy, OrchestraConfig};
use crate::orchestra::chunks::ChunkVec;
use crate::orchestra::job::{Attempt, Event, Inbox, Prepared};
use crate::orchestra::report::{OutcomeKind, TaskOutcome};
use crate::orchestra::slots::Slots;
use crate::orchestra::stats::{ExecutionStats, StatsBatch};
use crate::orchestra::{TaskKey, TaskRelationships};
use crate::task::retry::RetryState;
use crate::task::{
    CancellationLevel, LazyTaskId, MetricsSnapshot, RankableByPriority, RunMeta, TaskLabel,
    TaskPriority, TaskResult, TaskShared,
};

/// How many uses one clock read serves within a scheduling round.
const NOW_REUSE: u32 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Registered, not started by the user.
    Idle,
    /// Started, waiting for dependencies.
    Waiting,
    /// Waiting for its start time.
    Delayed,
    /// In a ready queue.
    Ready,
    /// An attempt is in flight.
    Running,
    /// The recovery fallback is in flight.
    Recovering,
    /// Waiting for a retry backoff.
    Backoff,
    /// Ended; `outcome` holds how until `join_all` takes it.
    Done,
}

/// The parts of a task most tasks never use, boxed only once one is needed.
#[derive(Default)]
struct Rare {
    skipped_because: Option<u32>,
    cancel: Option<CancellationLevel>,
    task_shared: Option<Arc<TaskShared>>,
    metrics: Option<Box<MetricsSnapshot>>,
    waiters: Vec<u32>,
}

/// One task, kept small (settings and rarely used state behind boxes) so the node table
/// stays compact in cache.
struct Node<T, E> {
    /// `None`: every setting at its default (no retry, recovery, timeout, start time,
    /// deadline or label; a lazily drawn id): the task runs on the plain path.
    prep: Option<Box<Prepared<T, E>>>,
    work: Option<Box<dyn Attempt<T, E>>>,
    priority: TaskPriority,
    pending: u32,
    dependents: Slots,
    phase: Phase,
    activated: bool,
    failed_dep: Option<u32>,
    /// Attempts made, when the first started, the backoff sequence.
    retry: RetryState,
    join: Option<JoinHandle<()>>,
    rare: Option<Box<Rare>>,
}

impl<T, E> Node<T, E> {
    /// The rarely used state, created on first use.
    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// The level a cancellation asked for, if one did.
    fn cancel_level(&self) -> Option<CancellationLevel> {
        self.rare.as_ref().and_then(|r| r.cancel)
    }

    /// The task's own cancellation scope, once it has one.
    fn task_shared(&self) -> Option<&Arc<TaskShared>> {
        self.rare.as_ref().and_then(|r| r.task_shared.as_ref())
    }
}

struct Waiter {
    remaining: usize,
    reply: Option<oneshot::Sender<Result<(), u32>>>,
}

/// All scheduling state; owned by one future, never shared.
pub(crate) struct Scheduler<T, E, I> {
    cfg: Arc<OrchestraConfig>,
    /// Counters gathered locally, published by `flush_stats`.
    stats: Option<StatsBatch>,
    /// By slot, in chunks: the table is rebuilt for every orchestra and never moved.
    nodes: ChunkVec<Node<T, E>>,
    /// The shared cells of `nodes`, by slot.
    shared: SharedTable,
    ready: [VecDeque<u32>; 5],
    running: usize,
    timers: BinaryHeap<Reverse<(Instant, u32)>>,
    sleep: Option<Pin<Box<Sleep>>>,
    sleep_at: Option<Instant>,
    /// Where attempts report back.
    inbox: Arc<Inbox<T, E>>,
    /// Events swapped out of the inbox, being handled (kept to reuse its buffer).
    events: Vec<Event<T, E>>,
    /// Where the orchestra's commands wait.
    mailbox: Arc<Mailbox<T, E, I>>,
    /// Commands swapped out of the mailbox, being handled.
    commands: Vec<Command<T, E, I>>,
    /// Task ids by slot, for the report; a succeeded task's id moves into it (no other
    /// outcome names a task that succeeded).
    ids: ChunkVec<Option<I>>,
    unfinished: usize,
    halted: bool,
    waiters: Vec<Waiter>,
    free_waiters: Vec<u32>,
    join_all: Option<oneshot::Sender<EndedOutcomes<T, E, I>>>,
    /// Outcomes not yet handed out, in the order tasks ended.
    ended: EndedOutcomes<T, E, I>,
    /// The time read last in this round and how often it was used (see `now`); reset
    /// when a round starts.
    now: Option<(Instant, u32)>,
    /// Work list of tasks to end, so cascades never recurse.
    to_end: Vec<(u32, TaskOutcome<T, E, u32>)>,
}

impl<T, E, I> Scheduler<T, E, I>
where
    T: Send + 'static,
    E: Send + 'static,
    I: TaskKey,
{
    pub(crate) fn new(cfg: Arc<OrchestraConfig>, stats: ExecutionStats) -> Self {
        let inbox = Arc::new(Inbox::new());
        let mailbox = Arc::new(Mailbox {
            commands: Mutex::new(Vec::new()),
            has_commands: AtomicBool::new(false),
            inbox: Arc::clone(&inbox),
        });
        let stats = cfg.metrics.then(|| StatsBatch::new(stats));
        Scheduler {
            cfg,
            stats,
            nodes: ChunkVec::new(),
            shared: SharedTable::default(),
            ready: Default::default(),
            running: 0,
            timers: BinaryHeap::new(),
            sleep: None,
            sleep_at: None,
            inbox,
            mailbox,
            ids: ChunkVec::new(),
            events: Vec::new(),
            commands: Vec::new(),
            unfinished: 0,
            halted: false,
            waiters: Vec::new(),
            free_waiters: Vec::new(),
            join_all: None,
            ended: Vec::new(),
            to_end: Vec::new(),
            now: None,
        }
    }

    fn node(&mut self, slot: u32) -> Option<&mut Node<T, E>> {
        self.nodes.get_mut(slot as usize)
    }

    /// Applies one command from the orchestra.
    pub(crate) fn apply(&mut self, cmd: Command<T, E, I>) {
        match cmd {
            Command::Register {
                slot,
                id,
                prepared,
                work,
                chunk,
            } => self.register(slot, id, prepared, work, chunk),
            Command::Link { slot, dep } => self.link(slot, dep),
            Command::Activate { slots, room } => {
                if self.ended.is_empty() && room.capacity() > self.ended.capacity() {
                    self.ended = room;
                } else {
                    self.ended.reserve(slots.len());
                }
                for s in slots {
                    self.activate(s);
                }
                self.drain_ends();
            }
            Command::Cancel {
                slots,
                level,
                reply,
            } => {
                for &s in &slots {
                    self.cancel(s, level);
                }
                self.drain_ends();
                self.add_waiter(slots, reply, false);
            }
            Command::Wait { slots, reply } => self.add_waiter(slots, reply, true),
            Command::JoinAll(reply) => self.join_all = Some(reply),
        }
    }

    /// A new task in slot `slot` (slots are handed out in order).
    pub(crate) fn register(
        &mut self,
        slot: u32,
        id: I,
        prepared: Option<Box<Prepared<T, E>>>,
        work: Box<dyn Attempt<T, E>>,
        chunk: Option<Arc<[NodeShared]>>,
    ) {
        if slot as usize != self.nodes.len() {
            // The orchestra hands out slots in order; anything else is a bug we
            // refuse to act on rather than corrupt the graph.
            return;
        }
        if let Some(chunk) = chunk {
            self.shared.push(chunk);
        }
        self.ids.push(Some(id));
        let priority = prepared
            .as_ref()
            .map_or(TaskPriority::Normal, |p| p.plan.priority);
        self.nodes.push(Node {
            prep: prepared,
            priority,
            work: Some(work),
            pending: 0,
            dependents: Slots::default(),
            phase: Phase::Idle,
            activated: false,
            failed_dep: None,
            retry: RetryState::default(),
            join: None,
            rare: None,
        });
    }

    /// Takes every dependency edge of `rel` at once: the edges added before the first
    /// start, which the orchestra does not send one by one. Nothing has run yet, so
    /// every edge is live.
    pub(crate) fn load_links(&mut self, rel: &TaskRelationships<I>) {
        for (d, n) in self.nodes.iter_mut().enumerate() {
            let Ok(d) = u32::try_from(d) else { break };
            if let Some(dependents) = rel.dependents_of(d) {
                n.dependents = dependents.clone();
            }
            let pending = u32::try_from(rel.deps_of(d).len()).unwrap_or(u32::MAX);
            n.pending = pending;
        }
    }

    fn link(&mut self, slot: u32, dep: u32) {
        let Some(d) = self.nodes.get_mut(dep as usize) else {
            return;
        };
        if d.phase == Phase::Done {
            if self.shared.get(dep).and_then(NodeShared::kind) != Some(OutcomeKind::Succeeded) {
                let cause = cause_of(d, dep);
                if let Some(n) = self.node(slot) {
                    n.failed_dep.get_or_insert(cause);
                }
            }
            return;
        }
        d.dependents.push(slot);
        if let Some(n) = self.node(slot) {
            n.pending = n.pending.saturating_add(1);
        }
    }

    fn activate(&mut self, s: u32) {
        let halted = self.halted;
        let failure = self.cfg.failure;
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        if n.activated || n.phase == Phase::Done {
            return;
        }
        n.activated = true;
        self.unfinished = self.unfinished.saturating_add(1);
        if let Some(st) = &mut self.stats {
            st.submitted();
        }
        if halted {
            let o = cancelled_outcome(n, CancellationLevel::Graceful);
            self.end(s, o);
        } else if let (Some(because), true) =
            (n.failed_dep, failure != FailureStrategy::ContinueAll)
        {
            self.end(s, TaskOutcome::Skipped { because });
        } else if n.pending == 0 {
            self.make_ready(s);
        } else {
            n.phase = Phase::Waiting;
        }
    }

    fn make_ready(&mut self, s: u32) {
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        if let Some(at) = n.prep.as_mut().and_then(|p| p.plan.start_at.take()) {
            if at > Instant::now() {
                n.phase = Phase::Delayed;
                self.timers.push(Reverse((at, s)));
                return;
            }
        }
        n.phase = Phase::Ready;
        let q = usize::from(n.priority.as_u8()).min(4);
        if let Some(queue) = self.ready.get_mut(q) {
            queue.push_back(s);
        }
    }

    /// Starts ready tasks, highest priority first, while slots are free.
    fn pump(&mut self) {
        while self.running < self.cfg.limit {
            let Some(s) = self.ready.iter_mut().find_map(VecDeque::pop_front) else {
                return;
            };
            if self.nodes.get(s as usize).map(|n| n.phase) == Some(Phase::Ready) {
                self.start_attempt(s);
                self.drain_ends();
            }
        }
    }

    /// The time now, read once per [`NOW_REUSE`] uses within a scheduling round rather
    /// than once per task (a clock read can cost a large share of a tiny task; those
    /// uses are a few microseconds apart).
    fn now(&mut self) -> Instant {
        match self.now {
            Some((t, uses)) if uses < NOW_REUSE => {
                self.now = Some((t, uses.saturating_add(1)));
                t
            }
            _ => {
                let t = Instant::now();
                self.now = Some((t, 1));
                t
            }
        }
    }

    /// Publishes the counters gathered since the last flush.
    fn flush_stats(&mut self) {
        if let Some(st) = &mut self.stats {
            st.flush();
        }
    }

    /// The orchestra is gone: nothing it started may outlive it.
    fn shutdown(&mut self) {
        self.flush_stats();
        self.inbox.root.cancel(CancellationLevel::KillHard);
        for n in self.nodes.iter_mut() {
            if let Some(j) = n.join.take() {
                if let Some(ts) = n.task_shared() {
                    ts.node.cancel(CancellationLevel::KillHard);
                }
                j.abort();
            }
        }
    }

    /// Where the orchestra sends its commands once the scheduler runs.
    pub(crate) fn mailbox(&self) -> Arc<Mailbox<T, E, I>> {
        Arc::clone(&self.mailbox)
    }
}

/// The task's id: fixed for a configured task, drawn on first read for a plain one.
fn task_id<T, E>(n: &Node<T, E>) -> LazyTaskId {
    n.prep
        .as_ref()
        .and_then(|p| p.plan.task_id)
        .map_or_else(LazyTaskId::default, LazyTaskId::fixed)
}

/// The task's label (empty for a plain task).
fn label<T, E>(n: &Node<T, E>) -> TaskLabel {
    n.prep
        .as_ref()
        .map_or_else(TaskLabel::default, |p| p.plan.label.clone())
}

/// The task's name for tracing events.
fn task_name<T, E>(n: &Node<T, E>) -> &str {
    n.prep
        .as_ref()
        .and_then(|p| p.name.as_deref())
        .unwrap_or("")
}

/// The cause to report for a dependent of `n` (in slot `s`) that did not succeed.
fn cause_of<T, E>(n: &Node<T, E>, s: u32) -> u32 {
    n.rare.as_ref().and_then(|r| r.skipped_because).unwrap_or(s)
}

/// A cancellation before the task ran, or a cancelled result if it had attempts.
fn cancelled_outcome<T, E>(n: &Node<T, E>, level: CancellationLevel) -> TaskOutcome<T, E, u32> {
    if n.retry.attempts() == 0 {
        return TaskOutcome::Cancelled { level };
    }
    TaskOutcome::Finished(TaskResult::new(
        Err(TaskError::Cancelled { level }),
        run_meta(n, Instant::now(), false, None),
    ))
}

/// What the result of task `n` reports besides its outcome, `now`.
fn run_meta<T, E>(
    n: &Node<T, E>,
    now: Instant,
    recovered: bool,
    metrics: Option<Box<MetricsSnapshot>>,
) -> RunMeta {
    let started = n.retry.started().unwrap_or(now);
    RunMeta {
        task_id: task_id(n),
        label: label(n),
        priority: n.priority,
        attempts: n.retry.attempts(),
        started,
        execution_time: now.duration_since(started),
        recovered,
        metrics,
    }
}
