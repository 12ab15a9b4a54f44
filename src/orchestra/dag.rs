//! [`Orchestra`]: a DAG of tasks run with dependencies, groups, priorities and a limit.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::error::{BoxError, ConfigError};
use crate::orchestra::builder::{FailureStrategy, OrchestraConfig};
use crate::orchestra::job::Defaults;
use crate::orchestra::scheduler::{Command, Mailbox, Scheduler, SharedTable};
use crate::orchestra::{
    ExecutionStats, GroupReport, Job, OrchestraError, OrchestraReport, OrchestratorBuilder,
    OutcomeKind, TaskKey, TaskOutcome, TaskRelationships,
};
use crate::task::{AsyncWork, CancellationLevel, TaskStatus};

/// Runs many tasks together: dependencies, groups, priorities, a concurrency limit, a
/// failure strategy, and typed results per task id.
///
/// Register tasks under ids of your choice (`&'static str` by default), add dependencies
/// (a cycle is refused when the edge is added, and named), then start everything or
/// group by group and join. A task becomes ready as soon as its dependencies have ended;
/// among ready tasks, higher priority runs first and equal priorities run in the order
/// they became ready; never more than
/// [`max_concurrent_tasks`](OrchestratorBuilder::max_concurrent_tasks) run at once. A
/// failed attempt is retried by the orchestra itself after its backoff, and the wait
/// holds no slot. A panicking task is a failed task carrying the panic message.
///
/// Scheduling runs in one spawned future that owns all scheduling state (no lock on the
/// hot path); this handle talks to it through a shared inbox. Dropping the orchestra stops every
/// task it started: nothing outlives it.
///
/// `TaskOrchestrator` is the same type.
///
/// # Examples
///
/// A diamond: `fetch` feeds `parse` and `validate`, both feed `store`.
///
/// ```
/// use sweet_async::orchestra::{Orchestra, OutcomeKind};
/// use sweet_async::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut orchestra: Orchestra<&str, std::io::Error> = Orchestra::builder()
///     .max_concurrent_tasks(2)
///     .build()?;
/// for (id, value) in [("fetch", "raw"), ("parse", "parsed"), ("validate", "ok"), ("store", "stored")] {
///     orchestra.register_task(id, AsyncTask::to().name(id).run(move || async move { Ok(value) }))?;
/// }
/// orchestra.add_dependency("parse", "fetch")?;
/// orchestra.add_dependency("validate", "fetch")?;
/// orchestra.add_dependency("store", "parse")?;
/// orchestra.add_dependency("store", "validate")?;
///
/// orchestra.start_all()?;
/// let report = orchestra.join_all().await?;
/// assert!(report.is_success());
/// assert_eq!(report.value("store"), Some(&"stored"));
/// assert_eq!(report.order().first(), Some(&"fetch"));
/// assert_eq!(report.order().last(), Some(&"store"));
/// # Ok(())
/// # }
/// ```
#[doc(alias = "TaskOrchestrator")]
pub struct Orchestra<T, E = BoxError, I = &'static str> {
    cfg: Arc<OrchestraConfig>,
    stats: ExecutionStats,
    rel: TaskRelationships<I>,
    shared: SharedTable,
    activated: Vec<bool>,
    groups: HashMap<Arc<str>, Vec<u32>>,
    /// The scheduler until the first start; then it runs spawned.
    local: Option<Box<Scheduler<T, E, I>>>,
    /// Where commands go once the scheduler runs.
    mailbox: Arc<Mailbox<T, E, I>>,
}

impl Orchestra<()> {
    /// Starts configuring an orchestra; `build()` picks the value, error and id types.
    pub fn builder() -> OrchestratorBuilder {
        OrchestratorBuilder::new()
    }
}

/// Another name for [`Orchestra`], for code written against the `TaskOrchestrator` trait.
pub type TaskOrchestrator<T, E = BoxError, I = &'static str> = Orchestra<T, E, I>;

impl<T, E, I> Orchestra<T, E, I>
where
    T: Send + 'static,
    E: Send + 'static,
    I: TaskKey,
{
    /// An orchestra with the default settings on the current runtime.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when no tokio runtime is running.
    pub fn new() -> Result<Self, ConfigError> {
        OrchestratorBuilder::new().build()
    }

    pub(crate) fn with_config(cfg: Arc<OrchestraConfig>) -> Self {
        Self::with_stats(cfg, ExecutionStats::new())
    }

    fn with_stats(cfg: Arc<OrchestraConfig>, stats: ExecutionStats) -> Self {
        let local = Scheduler::new(Arc::clone(&cfg), stats.clone());
        let mailbox = local.mailbox();
        Orchestra {
            cfg,
            stats,
            rel: TaskRelationships::new(),
            shared: SharedTable::default(),
            activated: Vec::new(),
            groups: HashMap::new(),
            local: Some(Box::new(local)),
            mailbox,
        }
    }

    fn send(&mut self, cmd: Command<T, E, I>) -> Result<(), OrchestraError> {
        match self.local.as_mut() {
            Some(local) => {
                local.apply(cmd);
                Ok(())
            }
            None if self.mailbox.command(cmd) => Ok(()),
            None => Err(OrchestraError::Stopped),
        }
    }

    /// Spawns the scheduler on the first start.
    fn ensure_running(&mut self) -> Result<(), OrchestraError> {
        if let Some(mut local) = self.local.take() {
            local.load_links(&self.rel);
            drop(self.cfg.handle.spawn(local.run()));
        }
        Ok(())
    }

    fn slot<Q>(&self, id: &Q) -> Result<u32, OrchestraError>
    where
        I: Borrow<Q>,
        Q: Hash + Eq + fmt::Display + ?Sized,
    {
        // The task registered last is the one most often named next (its dependencies
        // are added right after it): one comparison instead of a hash lookup.
        let last = u32::try_from(self.activated.len().wrapping_sub(1)).ok();
        if let Some(l) = last {
            if self.rel.id_at(l).is_some_and(|i| i.borrow() == id) {
                return Ok(l);
            }
        }
        self.rel
            .slot(id)
            .ok_or_else(|| OrchestraError::UnknownTask { id: id.to_string() })
    }

    fn name(&self, s: u32) -> String {
        self.rel
            .id_at(s)
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// Registers `task` under `id`: a task future (`AsyncTask::to()...run(work)`, never
    /// polled: the orchestra runs its attempts), or a [`Job`].
    ///
    /// The orchestra's default timeout and retry policy apply when the task sets none.
    /// Tasks may be registered after the orchestra has started; they run once started.
    ///
    /// # Errors
    ///
    /// [`OrchestraError::DuplicateTask`] for an id already registered, and
    /// [`OrchestraError::Config`] for a task with an invalid setting (nothing runs).
    pub fn register_task(
        &mut self,
        id: I,
        task: impl Into<Job<T, E>>,
    ) -> Result<(), OrchestraError> {
        let job: Job<T, E> = task.into();
        let defaults = Defaults {
            timeout: self.cfg.default_timeout,
            retry: self.cfg.default_retry.as_ref(),
            tracing: self.cfg.tracing,
        };
        let (mut prepared, work) = job.prepare(&defaults)?;
        if let (Some(p), true) = (prepared.as_mut(), self.cfg.tracing) {
            p.name = Some(Arc::from(id.to_string()));
        }
        let key = id.clone();
        let slot = match self.rel.try_insert(id) {
            Ok(slot) => slot,
            Err(existing) => {
                return Err(OrchestraError::DuplicateTask {
                    id: self.name(existing),
                });
            }
        };
        let chunk = self.shared.grow_for(slot);
        self.activated.push(false);
        match self.local.as_mut() {
            Some(local) => {
                local.register(slot, key, prepared, work, chunk);
                Ok(())
            }
            None => self.send(Command::Register {
                slot,
                id: key,
                prepared,
                work,
                chunk,
            }),
        }
    }

    /// Registers `work` under `id` with default task settings.
    ///
    /// # Errors
    ///
    /// As [`register_task`](Self::register_task).
    pub fn register_fn<W>(&mut self, id: I, work: W) -> Result<(), OrchestraError>
    where
        W: AsyncWork<T, E> + Send + 'static,
        W::Future: Send + 'static,
    {
        self.register_task(id, Job::from_fn(work))
    }

    /// `task` runs only after `depends_on` has ended (and, unless the failure strategy
    /// is [`ContinueAll`](FailureStrategy::ContinueAll), succeeded).
    ///
    /// # Errors
    ///
    /// [`OrchestraError::UnknownTask`] for an unregistered id,
    /// [`OrchestraError::AlreadyStarted`] when `task` was started already, and
    /// [`OrchestraError::Cycle`] naming the cycle the edge would close (nothing changes).
    pub fn add_dependency<Q>(&mut self, task: &Q, depends_on: &Q) -> Result<(), OrchestraError>
    where
        I: Borrow<Q>,
        Q: Hash + Eq + fmt::Display + ?Sized,
    {
        let t = self.slot(task)?;
        let d = self.slot(depends_on)?;
        let running = self.local.is_none();
        if self.activated.get(t as usize).copied().unwrap_or(false)
            || (running && self.shared.get(t).is_some_and(|s| s.kind().is_some()))
        {
            return Err(OrchestraError::AlreadyStarted {
                id: task.to_string(),
            });
        }
        if !running {
            // Before the first start the scheduler takes every edge at once
            // (`load_links`).
            return self.rel.link(t, d);
        }
        let before = self.rel.deps_of(t).len();
        self.rel.link(t, d)?;
        if self.rel.deps_of(t).len() > before {
            self.send(Command::Link { slot: t, dep: d })?;
        }
        Ok(())
    }

    /// Creates an empty group.
    ///
    /// # Errors
    ///
    /// [`OrchestraError::DuplicateGroup`] when it exists.
    pub fn create_group(&mut self, group: impl Into<Arc<str>>) -> Result<(), OrchestraError> {
        let group = group.into();
        if self.groups.contains_key(&group) {
            return Err(OrchestraError::DuplicateGroup {
                group: group.to_string(),
            });
        }
        self.groups.insert(group, Vec::new());
        Ok(())
    }

    /// Adds a registered task to a group (a task may belong to several groups).
    ///
    /// # Errors
    ///
    /// [`OrchestraError::UnknownGroup`] or [`OrchestraError::UnknownTask`].
    pub fn add_task_to_group<Q>(&mut self, group: &str, id: &Q) -> Result<(), OrchestraError>
    where
        I: Borrow<Q>,
        Q: Hash + Eq + fmt::Display + ?Sized,
    {
        let s = self.slot(id)?;
        let members = self
            .groups
            .get_mut(group)
            .ok_or_else(|| OrchestraError::UnknownGroup {
                group: group.to_owned(),
            })?;
        if !members.contains(&s) {
            members.push(s);
        }
        Ok(())
    }

    fn members(&self, group: &str) -> Result<Vec<u32>, OrchestraError> {
        self.groups
            .get(group)
            .cloned()
            .ok_or_else(|| OrchestraError::UnknownGroup {
                group: group.to_owned(),
            })
    }

    fn activate(&mut self, slots: Vec<u32>) -> Result<(), OrchestraError> {
        let slots: Vec<u32> = slots
            .into_iter()
            .filter(|&s| !self.activated.get(s as usize).copied().unwrap_or(true))
            .collect();
        for &s in &slots {
            if let Some(a) = self.activated.get_mut(s as usize) {
                *a = true;
            }
        }
        self.ensure_running()?;
        let room = Vec::with_capacity(slots.len());
        self.send(Command::Activate { slots, room })
    }

    /// Starts every registered task not started yet. Returns at once; tasks run in the
    /// background as their dependencies end.
    ///
    /// # Errors
    ///
    /// [`OrchestraError::Stopped`] when the scheduler is gone (its runtime shut down).
    pub fn start_all(&mut self) -> Result<(), OrchestraError> {
        let all = (0..self.activated.len())
            .filter_map(|s| u32::try_from(s).ok())
            .collect();
        self.activate(all)
    }

    /// Starts the tasks of `group`. Returns at once.
    ///
    /// # Errors
    ///
    /// [`OrchestraError::UnknownGroup`], and [`OrchestraError::DependencyNotStarted`]
    /// when a member depends on a task that is neither started nor in the group (it
    /// would wait forever); nothing is started then.
    pub fn start_group(&mut self, group: &str) -> Result<(), OrchestraError> {
        let members = self.members(group)?;
        for &m in &members {
            for &d in self.rel.deps_of(m) {
                let started = self.activated.get(d as usize).copied().unwrap_or(false)
                    || self.shared.get(d).is_some_and(|s| s.kind().is_some());
                if !started && !members.contains(&d) {
                    return Err(OrchestraError::DependencyNotStarted {
                        task: self.name(m),
                        dependency: self.name(d),
                    });
                }
            }
        }
        self.activate(members)
    }

    /// Waits until every started task has ended and hands out their outcomes (each
    /// outcome is handed out once: a later `join_all` reports only tasks that ended
    /// since). Tasks never started are not waited for and not in the report.
    ///
    /// # Errors
    ///
    /// [`OrchestraError::Stopped`] when the scheduler is gone.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future loses nothing that a later `join_all` cannot read, except
    /// when the scheduler had already replied: then those outcomes are gone.
    pub async fn join_all(&mut self) -> Result<OrchestraReport<T, E, I>, OrchestraError> {
        self.ensure_running()?;
        let (tx, rx) = oneshot::channel();
        self.send(Command::JoinAll(tx))?;
        let ended = rx.await.map_err(|_| OrchestraError::Stopped)?;
        Ok(OrchestraReport::new(ended))
    }

    fn group_report(&self, group: &str, members: &[u32]) -> GroupReport<I> {
        let mut report = GroupReport {
            group: group.to_owned(),
            succeeded: Vec::new(),
            failed: Vec::new(),
            skipped: Vec::new(),
            cancelled: Vec::new(),
        };
        for &m in members {
            let (Some(id), Some(kind)) = (
                self.rel.id_at(m).cloned(),
                self.shared.get(m).and_then(|s| s.kind()),
            ) else {
                continue;
            };
            match kind {
                OutcomeKind::Succeeded => report.succeeded.push(id),
                OutcomeKind::Failed => report.failed.push(id),
                OutcomeKind::Skipped => report.skipped.push(id),
                OutcomeKind::Cancelled => report.cancelled.push(id),
            }
        }
        report
    }

    async fn wait(
        &mut self,
        cmd: impl FnOnce(oneshot::Sender<Result<(), u32>>) -> Command<T, E, I>,
    ) -> Result<(), OrchestraError> {
        self.ensure_running()?;
        let (tx, rx) = oneshot::channel();
        self.send(cmd(tx))?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(s)) => Err(OrchestraError::NotStarted { id: self.name(s) }),
            Err(_) => Err(OrchestraError::Stopped),
        }
    }

    /// Waits until every member of `group` has ended.
    ///
    /// # Errors
    ///
    /// [`OrchestraError::GroupFailed`] naming the members that failed, were skipped or
    /// were cancelled (their outcomes stay available to `join_all`);
    /// [`OrchestraError::NotStarted`] for a member never started;
    /// [`OrchestraError::UnknownGroup`].
    pub async fn join_group(&mut self, group: &str) -> Result<GroupReport<I>, OrchestraError> {
        let members = self.members(group)?;
        let slots = members.clone();
        self.wait(|reply| Command::Wait { slots, reply }).await?;
        let report = self.group_report(group, &members);
        if report.is_success() {
            Ok(report)
        } else {
            Err(report.into_error())
        }
    }

    /// Cancels every member of `group` that has not ended, then waits until all have.
    ///
    /// Members not started yet never will be (reported cancelled); running ones stop at
    /// `level` ([`Graceful`](CancellationLevel::Graceful) runs their `on_cancel` cleanup);
    /// members waiting for a retry backoff stop at once. Their dependents are skipped,
    /// unless the strategy is [`ContinueAll`](FailureStrategy::ContinueAll).
    ///
    /// # Errors
    ///
    /// [`OrchestraError::UnknownGroup`], [`OrchestraError::Stopped`].
    pub async fn cancel_group(
        &mut self,
        group: &str,
        level: CancellationLevel,
    ) -> Result<GroupReport<I>, OrchestraError> {
        let members = self.members(group)?;
        let slots = members.clone();
        self.wait(|reply| Command::Cancel {
            slots,
            level,
            reply,
        })
        .await?;
        Ok(self.group_report(group, &members))
    }

    /// The status of `id`: `Pending` until its first attempt, `Running` through its
    /// attempts and backoffs, then `Completed`, `Failed` or `Cancelled` (skipped tasks
    /// read `Cancelled`). `None` for an unknown id. Lock-free.
    pub fn get_task_status<Q>(&self, id: &Q) -> Option<TaskStatus>
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let s = self.rel.slot(id)?;
        self.shared.get(s).map(|n| n.status.get())
    }

    /// The tasks' dependency graph.
    pub fn relationships(&self) -> &TaskRelationships<I> {
        &self.rel
    }

    /// Live counters of this orchestra (and of its `execute_*` runs).
    pub fn stats(&self) -> &ExecutionStats {
        &self.stats
    }

    /// The concurrency limit.
    pub fn max_concurrent_tasks(&self) -> usize {
        self.cfg.limit
    }

    /// The failure strategy.
    pub fn failure_strategy(&self) -> FailureStrategy {
        self.cfg.failure
    }

    /// Runs `tasks` at once (within the concurrency limit), apart from the registered
    /// graph, and returns their outcomes in the order given.
    ///
    /// # Errors
    ///
    /// [`OrchestraError::Config`] for a task with an invalid setting (nothing runs),
    /// [`OrchestraError::Stopped`] when the runtime shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::orchestra::{Job, Orchestra};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let orchestra: Orchestra<u32, std::io::Error> = Orchestra::new()?;
    /// let outcomes = orchestra
    ///     .execute_parallel((1..=3).map(|n| Job::from_fn(move || async move { Ok(n * 10) })))
    ///     .await?;
    /// let values: Vec<u32> = outcomes.into_iter().filter_map(|o| o.into_value()).collect();
    /// assert_eq!(values, [10, 20, 30]);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn execute_parallel<J>(
        &self,
        tasks: impl IntoIterator<Item = J>,
    ) -> Result<Vec<TaskOutcome<T, E, usize>>, OrchestraError>
    where
        J: Into<Job<T, E>>,
    {
        self.execute(tasks, false).await
    }

    /// Runs `tasks` one after the other, in the order given, apart from the registered
    /// graph. When one fails, the rest follow the failure strategy: skipped
    /// (`ContinueSkipDependents`), cancelled (`FailFast`) or run anyway (`ContinueAll`).
    ///
    /// # Errors
    ///
    /// As [`execute_parallel`](Self::execute_parallel).
    pub async fn execute_sequential<J>(
        &self,
        tasks: impl IntoIterator<Item = J>,
    ) -> Result<Vec<TaskOutcome<T, E, usize>>, OrchestraError>
    where
        J: Into<Job<T, E>>,
    {
        self.execute(tasks, true).await
    }

    async fn execute<J>(
        &self,
        tasks: impl IntoIterator<Item = J>,
        chain: bool,
    ) -> Result<Vec<TaskOutcome<T, E, usize>>, OrchestraError>
    where
        J: Into<Job<T, E>>,
    {
        let mut run: Orchestra<T, E, usize> =
            Orchestra::with_stats(Arc::clone(&self.cfg), self.stats.clone());
        let mut n = 0usize;
        for (i, task) in tasks.into_iter().enumerate() {
            run.register_task(i, task)?;
            if chain && i > 0 {
                run.add_dependency(&i, &i.saturating_sub(1))?; // `i > 0`
            }
            n = i.saturating_add(1);
        }
        run.start_all()?;
        let mut outcomes = run.join_all().await?.into_outcomes();
        Ok((0..n).filter_map(|i| outcomes.remove(&i)).collect())
    }
}

impl<T, E, I> Drop for Orchestra<T, E, I> {
    fn drop(&mut self) {
        // Nothing the orchestra started may outlive it: the scheduler shuts down.
        self.mailbox.close();
    }
}

impl<T, E, I: TaskKey> fmt::Debug for Orchestra<T, E, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Orchestra")
            .field("tasks", &self.rel.len())
            .field("groups", &self.groups.keys().collect::<Vec<_>>())
            .field("max_concurrent_tasks", &self.cfg.limit)
            .field("failure_strategy", &self.cfg.failure)
            .field("started", &self.local.is_none())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
