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

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};

use crate::error::TaskError;
use crate::orchestra::builder::{FailureStrategy, OrchestraConfig};
use crate::orchestra::chunks::ChunkVec;
use crate::orchestra::job::{Attempt, AttemptEnv, Event, Inbox, Prepared, spawn_recovery};
use crate::orchestra::report::{OutcomeKind, TaskOutcome};
use crate::orchestra::slots::Slots;
use crate::orchestra::stats::{Ended, ExecutionStats, StatsBatch};
use crate::orchestra::{TaskKey, TaskRelationships};
use crate::task::cancel::CancelNode;
use crate::task::retry::{RetryState, recoverable};
use crate::task::timing::{after, try_sleep_until};
use crate::task::{
    CancellationLevel, LazyTaskId, MetricsSnapshot, RankableByPriority, RunMeta, StatusCell,
    TaskLabel, TaskPriority, TaskResult, TaskShared, TaskStatus,
};

/// Per-task state readable from outside the scheduler, lock-free.
#[derive(Debug, Default)]
pub(crate) struct NodeShared {
    pub(crate) status: StatusCell,
    pub(crate) skipped: AtomicBool,
}

impl NodeShared {
    /// How the task ended, if it did.
    pub(crate) fn kind(&self) -> Option<OutcomeKind> {
        match self.status.get() {
            TaskStatus::Completed => Some(OutcomeKind::Succeeded),
            TaskStatus::Failed => Some(OutcomeKind::Failed),
            TaskStatus::Cancelled if self.skipped.load(Ordering::Acquire) => {
                Some(OutcomeKind::Skipped)
            }
            TaskStatus::Cancelled => Some(OutcomeKind::Cancelled),
            TaskStatus::Pending | TaskStatus::Running => None,
        }
    }
}

/// How many uses one clock read serves within a scheduling round.
const NOW_REUSE: u32 = 16;

/// How many tasks share one allocation of [`NodeShared`] cells.
const SHARED_CHUNK: usize = 256;

/// The [`NodeShared`] cells of every task, by slot, in chunks of [`SHARED_CHUNK`]: one
/// allocation (and one reference count) per chunk rather than per task. The orchestra and
/// the scheduler each hold the same chunks; slots are handed out in order, so a task
/// whose slot starts a chunk carries that chunk to the scheduler.
#[derive(Debug, Default)]
pub(crate) struct SharedTable {
    chunks: Vec<Arc<[NodeShared]>>,
}

impl SharedTable {
    /// The cells of slot `s`.
    pub(crate) fn get(&self, s: u32) -> Option<&NodeShared> {
        let s = s as usize;
        self.chunks.get(s / SHARED_CHUNK)?.get(s % SHARED_CHUNK)
    }

    /// Makes room for slot `s`; returns the new chunk when one was added.
    pub(crate) fn grow_for(&mut self, s: u32) -> Option<Arc<[NodeShared]>> {
        if (s as usize) / SHARED_CHUNK < self.chunks.len() {
            return None;
        }
        let chunk: Arc<[NodeShared]> = (0..SHARED_CHUNK).map(|_| NodeShared::default()).collect();
        self.chunks.push(Arc::clone(&chunk));
        Some(chunk)
    }

    /// Adds a chunk made by the other side.
    fn push(&mut self, chunk: Arc<[NodeShared]>) {
        self.chunks.push(chunk);
    }
}

/// Outcomes handed to `join_all` by id, in the order tasks ended: the report's own
/// entries, built as tasks end, so `join_all` hands them over as they are.
pub(crate) type EndedOutcomes<T, E, I> = Vec<(I, TaskOutcome<T, E, I>)>;

/// Where the orchestra's commands wait for a running scheduler: a queue it drains whole
/// (one atomic load when none is waiting), waking it through its [`Inbox`].
pub(crate) struct Mailbox<T, E, I> {
    commands: Mutex<Vec<Command<T, E, I>>>,
    has_commands: AtomicBool,
    inbox: Arc<Inbox<T, E>>,
}

impl<T, E, I> Mailbox<T, E, I> {
    /// Queues a command for the scheduler; `false` when the scheduler is gone.
    pub(crate) fn command(&self, cmd: Command<T, E, I>) -> bool {
        if self.inbox.is_stopped() {
            return false;
        }
        self.commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cmd);
        self.has_commands.store(true, Ordering::Release);
        self.inbox.wake();
        true
    }

    /// Swaps every queued command into `out` (empty on entry).
    fn drain(&self, out: &mut Vec<Command<T, E, I>>) {
        if self.has_commands.load(Ordering::Acquire)
            && self.has_commands.swap(false, Ordering::AcqRel)
        {
            let mut q = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *q, out);
        }
    }

    /// The orchestra is gone: tells the scheduler to shut down.
    pub(crate) fn close(&self) {
        self.inbox.close();
    }
}

/// What the orchestra asks of the scheduler.
pub(crate) enum Command<T, E, I> {
    /// A new task in slot `slot` (slots are handed out in order).
    Register {
        slot: u32,
        id: I,
        /// `None`: a task with every setting at its default.
        prepared: Option<Box<Prepared<T, E>>>,
        work: Box<dyn Attempt<T, E>>,
        /// A new chunk of shared cells, when `slot` starts one.
        chunk: Option<Arc<[NodeShared]>>,
    },
    /// `slot` depends on `dep` (the orchestra has checked for cycles).
    Link { slot: u32, dep: u32 },
    /// Start these tasks (each once their dependencies have ended).
    Activate {
        slots: Vec<u32>,
        /// Room for their outcomes, allocated by the orchestra's thread: the report is
        /// freed there too, so the next orchestra's outcomes reuse warm memory.
        room: EndedOutcomes<T, E, I>,
    },
    /// Cancel these tasks, then reply once all have ended.
    Cancel {
        slots: Vec<u32>,
        level: CancellationLevel,
        reply: oneshot::Sender<Result<(), u32>>,
    },
    /// Reply once these tasks have ended (`Err(slot)`: one was never started).
    Wait {
        slots: Vec<u32>,
        reply: oneshot::Sender<Result<(), u32>>,
    },
    /// Reply with every outcome not yet handed out, once no started task is running.
    JoinAll(oneshot::Sender<EndedOutcomes<T, E, I>>),
}

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

    fn start_attempt(&mut self, s: u32) {
        let now = self.now();
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        if n.prep
            .as_ref()
            .and_then(|p| p.plan.deadline)
            .is_some_and(|d| d <= now)
        {
            let outcome = Err(TaskError::DeadlineExceeded);
            self.end_ran(s, outcome, false);
            return;
        }
        let Some(work) = n.work.take() else {
            self.end_ran(
                s,
                Err(TaskError::Cancelled {
                    level: CancellationLevel::KillHard,
                }),
                false,
            );
            return;
        };
        let scope = if n.prep.as_ref().is_none_or(|p| p.plan.plain) {
            None
        } else {
            let ts = n
                .rare()
                .task_shared
                .get_or_insert_with(|| Arc::new(TaskShared::new(CancelNode::root())))
                .clone();
            Some((Arc::clone(&ts.node), ts))
        };
        n.phase = Phase::Running;
        n.retry.start(now);
        if let Some(sh) = self.shared.get(s) {
            let _ = sh.status.transition(TaskStatus::Running);
        }
        if self.cfg.tracing {
            tracing::debug!(
                target: "sweet_async::orchestra",
                task = task_name(n),
                attempt = n.retry.attempts().saturating_add(1),
                "attempt started"
            );
        }
        let env = AttemptEnv {
            handle: &self.cfg.handle,
            inbox: Arc::clone(&self.inbox),
            slot: s,
            scope,
            // Only a task with settings can be retried.
            keep_work: n.prep.is_some(),
        };
        n.join = Some(work.spawn(n.prep.as_ref().map(|p| &p.plan.attempt), env));
        self.running = self.running.saturating_add(1);
        if let Some(st) = &mut self.stats {
            st.started();
        }
    }

    fn slot_freed(&mut self) {
        self.running = self.running.saturating_sub(1);
        if let Some(st) = &mut self.stats {
            st.stopped();
        }
    }

    /// Handles what a spawned attempt or recovery reported.
    pub(crate) fn on_event(&mut self, ev: Event<T, E>) {
        match ev {
            Event::Attempted {
                slot,
                outcome,
                attempts,
                metrics,
                work,
            } => {
                self.slot_freed();
                self.attempted(slot, outcome, attempts, metrics, work);
            }
            Event::Ended { slot, outcome } => {
                self.slot_freed();
                if let Some(n) = self.nodes.get_mut(slot as usize) {
                    n.work = None;
                    n.join = None;
                    n.retry.count(1);
                }
                // No retry, no recovery: the outcome is final. Ended now, not via the list:
                // no cascade is under way.
                if let Some(o) = self.ran_outcome(slot, outcome, false) {
                    self.finish(slot, o);
                }
            }
            Event::Recovered { slot, outcome } => {
                self.slot_freed();
                let ok = outcome.is_ok();
                self.end_ran(slot, outcome, ok);
            }
            Event::Lost { slot } => {
                self.slot_freed();
                let level = self
                    .nodes
                    .get(slot as usize)
                    .and_then(Node::cancel_level)
                    .unwrap_or(CancellationLevel::KillHard);
                self.end_ran(slot, Err(TaskError::Cancelled { level }), false);
            }
        }
        self.drain_ends();
    }

    fn attempted(
        &mut self,
        s: u32,
        outcome: Result<T, TaskError<E>>,
        attempts: u32,
        metrics: Option<Box<MetricsSnapshot>>,
        work: Option<Box<dyn Attempt<T, E>>>,
    ) {
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        n.work = work;
        n.join = None;
        n.retry.count(attempts);
        if metrics.is_some() || n.rare.is_some() {
            n.rare().metrics = metrics;
        }
        let err = match outcome {
            Ok(v) => {
                // The hot path: no cascade is under way, so end it now, not via the list.
                if let Some(o) = self.ran_outcome(s, Ok(v), false) {
                    self.finish(s, o);
                }
                return;
            }
            Err(e) => e,
        };
        let Some(prep) = n.prep.as_deref() else {
            // No retry policy, no recovery: the error is final.
            return self.final_error(s, err);
        };
        if n.cancel_level().is_some() || self.halted {
            return self.final_error(s, err);
        }
        let now = Instant::now();
        let delay =
            match n
                .retry
                .after_failure(&prep.plan.retry, prep.plan.retry_if.as_ref(), err, now)
            {
                Ok(delay) => delay,
                Err(err) => return self.final_error(s, err),
            };
        if let Some(st) = &mut self.stats {
            st.retried();
        }
        if self.cfg.tracing {
            tracing::debug!(
                target: "sweet_async::orchestra",
                task = task_name(n),
                attempts = n.retry.attempts(),
                delay = ?delay,
                "attempt failed, retrying after backoff"
            );
        }
        let mut at = after(now, delay);
        if let Some(deadline) = prep.plan.deadline {
            at = at.min(deadline);
        }
        if at <= now {
            n.phase = Phase::Idle;
            self.make_ready(s);
        } else {
            n.phase = Phase::Backoff;
            self.timers.push(Reverse((at, s)));
        }
    }

    /// The task failed for good: run its recovery fallback, or end it.
    fn final_error(&mut self, s: u32, err: TaskError<E>) {
        let recoverable = recoverable(&err);
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        let recover = n.prep.as_ref().and_then(|p| p.plan.recover.as_ref());
        match (recover, recoverable && n.cancel_level().is_none()) {
            (Some(recover), true) => {
                n.phase = Phase::Recovering;
                n.join = Some(spawn_recovery(
                    &self.cfg.handle,
                    Arc::clone(&self.inbox),
                    s,
                    recover,
                    err,
                ));
                self.running = self.running.saturating_add(1);
                if let Some(st) = &mut self.stats {
                    st.started();
                }
            }
            _ => self.end_ran(s, Err(err), false),
        }
    }

    /// Ends a task that ran (or tried to), with its full result.
    fn end_ran(&mut self, s: u32, outcome: Result<T, TaskError<E>>, recovered: bool) {
        if let Some(o) = self.ran_outcome(s, outcome, recovered) {
            self.end(s, o);
        }
    }

    /// The outcome of a task that ran, with its full result.
    fn ran_outcome(
        &mut self,
        s: u32,
        outcome: Result<T, TaskError<E>>,
        recovered: bool,
    ) -> Option<TaskOutcome<T, E, u32>> {
        let now = self.now();
        let n = self.nodes.get_mut(s as usize)?;
        let started = n.retry.started().unwrap_or(now);
        let result = TaskResult::new(
            outcome,
            RunMeta {
                task_id: task_id(n),
                label: label(n),
                priority: n.priority,
                attempts: n.retry.attempts(),
                started,
                execution_time: now.duration_since(started),
                recovered,
                metrics: n.rare.as_mut().and_then(|r| r.metrics.take()),
            },
        );
        Some(TaskOutcome::Finished(result))
    }

    /// Queues the end of a task; `drain_ends` processes the cascade.
    fn end(&mut self, s: u32, outcome: TaskOutcome<T, E, u32>) {
        self.to_end.push((s, outcome));
    }

    fn drain_ends(&mut self) {
        while let Some((s, outcome)) = self.to_end.pop() {
            self.finish(s, outcome);
        }
    }

    fn finish(&mut self, s: u32, outcome: TaskOutcome<T, E, u32>) {
        let failure = self.cfg.failure;
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        if n.phase == Phase::Done {
            return;
        }
        let kind = outcome.kind();
        n.phase = Phase::Done;
        n.work = None;
        n.join = None;
        let status = match kind {
            OutcomeKind::Succeeded => TaskStatus::Completed,
            OutcomeKind::Failed => TaskStatus::Failed,
            OutcomeKind::Cancelled | OutcomeKind::Skipped => TaskStatus::Cancelled,
        };
        if let TaskOutcome::Skipped { because } = &outcome {
            if let Some(sh) = self.shared.get(s) {
                sh.skipped.store(true, Ordering::Release);
            }
            n.rare().skipped_because = Some(*because);
        }
        if let Some(sh) = self.shared.get(s) {
            let _ = sh.status.transition(status);
        }
        let cause = match &outcome {
            TaskOutcome::Skipped { because } => *because,
            _ => s,
        };
        let took = outcome.result().map(TaskResult::execution_time);
        if self.cfg.tracing {
            tracing::debug!(
                target: "sweet_async::orchestra",
                task = task_name(n),
                outcome = ?kind,
                "task ended"
            );
        }
        if n.activated {
            self.unfinished = self.unfinished.saturating_sub(1);
        }
        let waiters = n
            .rare
            .as_mut()
            .map(|r| std::mem::take(&mut r.waiters))
            .unwrap_or_default();
        let dependents = std::mem::take(&mut n.dependents);
        if let Some(st) = &mut self.stats {
            let how = match kind {
                OutcomeKind::Succeeded => Ended::Completed,
                OutcomeKind::Failed => Ended::Failed,
                OutcomeKind::Cancelled => Ended::Cancelled,
                OutcomeKind::Skipped => Ended::Skipped,
            };
            st.ended(how, took);
        }
        self.record(s, kind, outcome);
        for w in waiters {
            self.waiter_done(w);
        }
        if kind == OutcomeKind::Failed && failure == FailureStrategy::FailFast && !self.halted {
            self.halt();
        }
        let success = kind == OutcomeKind::Succeeded;
        let halted = self.halted;
        for &d in dependents.iter() {
            let Some(dn) = self.nodes.get_mut(d as usize) else {
                continue;
            };
            if dn.phase == Phase::Done {
                continue;
            }
            dn.pending = dn.pending.saturating_sub(1);
            if !success {
                dn.failed_dep.get_or_insert(cause);
            }
            if dn.phase != Phase::Waiting {
                continue;
            }
            match (dn.failed_dep, failure) {
                (Some(_), FailureStrategy::ContinueAll) | (None, _) => {
                    if dn.pending == 0 {
                        self.make_ready(d);
                    }
                }
                (Some(_), _) if halted => {
                    let o = cancelled_outcome(dn, CancellationLevel::Graceful);
                    self.end(d, o);
                }
                (Some(because), _) => self.end(d, TaskOutcome::Skipped { because }),
            }
        }
    }

    /// Adds the outcome of slot `s` to the report, by id.
    fn record(&mut self, s: u32, kind: OutcomeKind, outcome: TaskOutcome<T, E, u32>) {
        let id = if kind == OutcomeKind::Succeeded {
            self.ids.get_mut(s as usize).and_then(Option::take)
        } else {
            self.ids.get(s as usize).and_then(Clone::clone)
        };
        // Every registered slot has its id: a missing one would be a bug, not an input.
        let Some(id) = id else { return };
        let ids = &self.ids;
        let outcome = outcome.map_id(|because| {
            ids.get(because as usize)
                .and_then(Clone::clone)
                .unwrap_or_else(|| id.clone())
        });
        self.ended.push((id, outcome));
    }

    /// Fail-fast: cancel every started task that has not ended.
    fn halt(&mut self) {
        self.halted = true;
        for s in 0..self.nodes.len() {
            let Ok(s) = u32::try_from(s) else { break };
            let active = self
                .nodes
                .get(s as usize)
                .is_some_and(|n| n.activated && n.phase != Phase::Done);
            if active {
                self.cancel(s, CancellationLevel::Graceful);
            }
        }
    }

    fn cancel(&mut self, s: u32, level: CancellationLevel) {
        let Some(n) = self.nodes.get_mut(s as usize) else {
            return;
        };
        match n.phase {
            Phase::Done => {}
            Phase::Running | Phase::Recovering => {
                n.rare().cancel.get_or_insert(level);
                let scoped = match (n.task_shared(), n.phase) {
                    (Some(ts), Phase::Running) => {
                        ts.node.cancel(level);
                        true
                    }
                    _ => false,
                };
                // A plain attempt has no scope of its own (and no cleanup): stopping it
                // at its next `.await` is an abort.
                if level == CancellationLevel::KillHard || !scoped {
                    if let Some(j) = &n.join {
                        j.abort();
                    }
                }
            }
            Phase::Backoff => {
                n.rare().cancel = Some(level);
                self.end_ran(s, Err(TaskError::Cancelled { level }), false);
            }
            Phase::Idle | Phase::Waiting | Phase::Delayed | Phase::Ready => {
                n.rare().cancel = Some(level);
                let o = cancelled_outcome(n, level);
                self.end(s, o);
            }
        }
    }

    fn add_waiter(
        &mut self,
        slots: Vec<u32>,
        reply: oneshot::Sender<Result<(), u32>>,
        must_be_started: bool,
    ) {
        // It may answer at once: the counters it answers after must be out.
        self.flush_stats();
        let mut remaining: usize = 0;
        for &s in &slots {
            match self.nodes.get(s as usize) {
                Some(n) if n.phase == Phase::Done => {}
                Some(n) if must_be_started && !n.activated => {
                    let _ = reply.send(Err(s));
                    return;
                }
                Some(_) => remaining = remaining.saturating_add(1),
                None => {}
            }
        }
        if remaining == 0 {
            let _ = reply.send(Ok(()));
            return;
        }
        let w = Waiter {
            remaining,
            reply: Some(reply),
        };
        let id = match self.free_waiters.pop() {
            Some(id) => {
                if let Some(slot) = self.waiters.get_mut(id as usize) {
                    *slot = w;
                }
                id
            }
            None => {
                self.waiters.push(w);
                u32::try_from(self.waiters.len().saturating_sub(1)).unwrap_or(u32::MAX)
            }
        };
        for s in slots {
            if let Some(n) = self.node(s) {
                if n.phase != Phase::Done {
                    n.rare().waiters.push(id);
                }
            }
        }
    }

    fn waiter_done(&mut self, id: u32) {
        let Some(w) = self.waiters.get_mut(id as usize) else {
            return;
        };
        w.remaining = w.remaining.saturating_sub(1);
        if w.remaining == 0 {
            if let Some(st) = &mut self.stats {
                st.flush();
            }
            if let Some(reply) = w.reply.take() {
                let _ = reply.send(Ok(()));
            }
            self.free_waiters.push(id);
        }
    }

    fn check_join_all(&mut self) {
        if self.unfinished > 0 || !self.to_end.is_empty() {
            return;
        }
        if let Some(reply) = self.join_all.take() {
            self.flush_stats();
            let _ = reply.send(std::mem::take(&mut self.ended));
        }
    }

    /// Moves due timers to the ready queues; arms the sleep for the next one.
    fn poll_timers(&mut self, cx: &mut Context<'_>) -> bool {
        if self.timers.is_empty() && self.sleep.is_none() {
            return false;
        }
        let mut progressed = false;
        loop {
            let Some(&Reverse((at, _))) = self.timers.peek() else {
                self.sleep = None;
                self.sleep_at = None;
                return progressed;
            };
            let now = Instant::now();
            if at <= now {
                while let Some(&Reverse((at, s))) = self.timers.peek() {
                    if at > now {
                        break;
                    }
                    self.timers.pop();
                    let phase = self.nodes.get(s as usize).map(|n| n.phase);
                    if matches!(phase, Some(Phase::Backoff | Phase::Delayed)) {
                        if let Some(n) = self.node(s) {
                            n.phase = Phase::Idle;
                        }
                        self.make_ready(s);
                    }
                }
                progressed = true;
                continue;
            }
            if self.sleep_at != Some(at) {
                match self.sleep.as_mut() {
                    Some(sleep) => sleep.as_mut().reset(at),
                    None => match try_sleep_until(at) {
                        Some(sleep) => self.sleep = Some(Box::pin(sleep)),
                        None => {
                            // No time driver on this runtime: the waits cannot happen.
                            self.fail_timers();
                            continue;
                        }
                    },
                }
                self.sleep_at = Some(at);
            }
            match self.sleep.as_mut().map(|s| s.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => {
                    self.sleep_at = None;
                    continue;
                }
                _ => return progressed,
            }
        }
    }

    fn fail_timers(&mut self) {
        while let Some(Reverse((_, s))) = self.timers.pop() {
            self.end_ran(s, Err(TaskError::NoRuntime), false);
        }
        self.drain_ends();
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

    /// Runs the scheduler until the orchestra is dropped.
    pub(crate) fn run(self) -> Driver<T, E, I> {
        Driver {
            sched: self,
            deferred: false,
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
    let now = Instant::now();
    let started = n.retry.started().unwrap_or(now);
    TaskOutcome::Finished(TaskResult::new(
        Err(TaskError::Cancelled { level }),
        RunMeta {
            task_id: task_id(n),
            label: label(n),
            priority: n.priority,
            attempts: n.retry.attempts(),
            started,
            execution_time: now.duration_since(started),
            recovered: false,
            metrics: None,
        },
    ))
}

/// The spawned future that runs a scheduler.
pub(crate) struct Driver<T, E, I> {
    sched: Scheduler<T, E, I>,
    /// The last poll put off its events (see `poll`).
    deferred: bool,
}

impl<T, E, I> Drop for Driver<T, E, I> {
    fn drop(&mut self) {
        // Shut down, or dropped with its runtime: either way nobody reads commands now,
        // and the counters of its last round must still be published.
        self.sched.inbox.stop();
        if let Some(st) = &mut self.sched.stats {
            st.flush();
        }
    }
}

// Nothing in the driver is pinned in place: the timer is boxed, the rest moves freely.
impl<T, E, I> Unpin for Driver<T, E, I> {}

impl<T, E, I> Future for Driver<T, E, I>
where
    T: Send + 'static,
    E: Send + 'static,
    I: TaskKey,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut first = true;
        loop {
            let mut progressed = false;
            this.sched.now = None;
            this.sched.inbox.register(cx);
            if this.sched.inbox.is_closed() {
                this.sched.shutdown();
                return Poll::Ready(());
            }
            let mut commands = std::mem::take(&mut this.sched.commands);
            this.sched.mailbox.drain(&mut commands);
            let no_commands = commands.is_empty();
            if !commands.is_empty() {
                progressed = true;
                for cmd in commands.drain(..) {
                    this.sched.apply(cmd);
                }
            }
            this.sched.commands = commands;
            let mut events = std::mem::take(&mut this.sched.events);
            this.sched.inbox.drain(&mut events);
            // Woken by the first few of many attempts in flight (a multi-thread runtime
            // runs a freshly woken task next, so each attempt would cost a whole round):
            // put the events off once, behind the tasks already queued, and handle them
            // together. Never twice in a row, so nothing waits on a slow attempt.
            if first
                && no_commands
                && !this.deferred
                && !events.is_empty()
                && events.len().saturating_mul(2) < this.sched.running
            {
                this.sched.events = events;
                this.deferred = true;
                // Waking itself while running reschedules the task behind the queue.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            first = false;
            this.deferred = false;
            if !events.is_empty() {
                progressed = true;
                for ev in events.drain(..) {
                    this.sched.on_event(ev);
                }
            }
            this.sched.events = events;
            if this.sched.poll_timers(cx) {
                progressed = true;
            }
            this.sched.drain_ends();
            this.sched.pump();
            this.sched.check_join_all();
            if !progressed {
                this.sched.flush_stats();
                return Poll::Pending;
            }
        }
    }
}
