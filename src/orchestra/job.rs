//! [`Job`]: a configured task handed to an orchestra, and how one attempt of it runs.
//!
//! An orchestra runs a task's attempts itself, one spawned tokio task per attempt, so
//! that the wait between two attempts (the retry backoff) holds no concurrency slot.
//! Each attempt is the task side's own [`TaskFuture`] with retries and recovery turned
//! off: timeouts, circuit breaker, cancellation scope, panic capture, tracing and metrics
//! behave exactly as for a task awaited on its own. A task with none of those settings
//! (a bare closure) takes a fast path: its work is polled directly, panics still caught,
//! inside the orchestra's cancellation scope; a task with no settings at all (no retry
//! policy from the orchestra either) is not even given a settings record, and its one
//! attempt drops its work where it ran and reports a final outcome.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use futures::task::AtomicWaker;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::error::{BoxError, ConfigError, TaskError};
use crate::task::attempt::{caught, panicked, poll_caught};
use crate::task::cancel::CancelNode;
use crate::task::{
    AsyncWork, AttemptPlan, MetricsSnapshot, Recover, RetryPolicy, TaskConfig, TaskFuture,
    TaskPriority, TaskShared,
};

/// A task ready to hand to an orchestra: its settings and its work, with the work's type
/// erased so tasks built from different closures fit in one collection.
///
/// Made from a task future (`AsyncTask::to::<T>()...run(work)`) with [`Job::new`] or
/// `.into()`, or from a bare closure with [`Job::from_fn`]. The future is never polled:
/// the orchestra takes it apart and runs its attempts itself.
///
/// # Examples
///
/// ```
/// use sweet_async::orchestra::Job;
/// use sweet_async::prelude::*;
///
/// let jobs: Vec<Job<u32, std::io::Error>> = vec![
///     AsyncTask::to::<u32>().name("one").run(|| async { Ok(1) }).into(),
///     Job::from_fn(|| async { Ok(2) }),
/// ];
/// assert_eq!(jobs[0].name(), Some("one"));
/// assert_eq!(jobs[1].priority(), TaskPriority::Normal);
/// ```
pub struct Job<T, E = BoxError> {
    /// `None`: every setting at its default (a bare closure), which the orchestra runs
    /// on its fast path without building any per-task settings.
    pub(crate) cfg: Option<TaskConfig<T, E>>,
    pub(crate) work: Box<dyn Attempt<T, E>>,
}

impl<T, E> Job<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// A job from a configured task future.
    pub fn new<W>(task: TaskFuture<T, E, W>) -> Self
    where
        W: AsyncWork<T, E> + Send + 'static,
        W::Future: Send + 'static,
    {
        let (cfg, work) = task.into_parts();
        Job {
            cfg: Some(cfg),
            work: Box::new(Work(work)),
        }
    }

    /// A job running `work` with the orchestra's default settings.
    pub fn from_fn<W>(work: W) -> Self
    where
        W: AsyncWork<T, E> + Send + 'static,
        W::Future: Send + 'static,
    {
        Job {
            cfg: None,
            work: Box::new(Work(work)),
        }
    }
}

impl<T, E> Job<T, E> {
    /// The task's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.cfg
            .as_ref()
            .and_then(TaskConfig::label)
            .and_then(|l| l.name())
    }

    /// The task's priority.
    pub fn priority(&self) -> TaskPriority {
        self.cfg
            .as_ref()
            .map_or(TaskPriority::Normal, TaskConfig::priority)
    }
}

impl<T, E, W> From<TaskFuture<T, E, W>> for Job<T, E>
where
    W: AsyncWork<T, E> + Send + 'static,
    W::Future: Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    fn from(task: TaskFuture<T, E, W>) -> Self {
        Job::new(task)
    }
}

impl<T, E> fmt::Debug for Job<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("name", &self.name())
            .field("priority", &self.priority())
            .field("timeout", &self.cfg.as_ref().and_then(TaskConfig::timeout))
            .finish_non_exhaustive()
    }
}

/// A job split into what the scheduler needs.
pub(crate) struct Prepared<T, E> {
    pub(crate) plan: AttemptPlan<T, E>,
    /// The id's text, kept only when tracing is on.
    pub(crate) name: Option<Arc<str>>,
}

/// A job's scheduling settings (`None`: all defaults, the fast path) and its work.
pub(crate) type PreparedJob<T, E> = (Option<Box<Prepared<T, E>>>, Box<dyn Attempt<T, E>>);

/// The orchestra-wide settings a job starts from.
pub(crate) struct Defaults<'a> {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry: Option<&'a RetryPolicy>,
    /// Tracing on: every task keeps its name, so none takes the settings-free path.
    pub(crate) tracing: bool,
}

impl<T, E> Job<T, E> {
    /// Applies the orchestra's defaults and splits the job for the scheduler.
    pub(crate) fn prepare(self, defaults: &Defaults<'_>) -> Result<PreparedJob<T, E>, ConfigError> {
        let Job { cfg, work } = self;
        let cfg = match cfg {
            Some(cfg) => cfg,
            None if defaults.timeout.is_none() && defaults.retry.is_none() && !defaults.tracing => {
                return Ok((None, work));
            }
            None => TaskConfig::defaults(),
        };
        let plan = cfg.plan_attempts(defaults.timeout, defaults.retry)?;
        let prepared = Prepared { plan, name: None };
        Ok((Some(Box::new(prepared)), work))
    }
}

/// What the scheduler hears back from a spawned attempt or recovery.
pub(crate) enum Event<T, E> {
    /// An attempt ended; the work comes back for the next attempt (unless the task
    /// can have none).
    Attempted {
        slot: u32,
        outcome: Result<T, TaskError<E>>,
        /// Attempts made (0 when a circuit breaker refused it).
        attempts: u32,
        metrics: Option<Box<MetricsSnapshot>>,
        work: Option<Box<dyn Attempt<T, E>>>,
    },
    /// The only attempt of a task with every setting at its default ended: its outcome
    /// is final (no retry, no recovery), and the work is already dropped.
    Ended {
        slot: u32,
        outcome: Result<T, TaskError<E>>,
    },
    /// The recovery fallback ended.
    Recovered {
        slot: u32,
        outcome: Result<T, TaskError<E>>,
    },
    /// The spawned future was dropped before it reported (aborted, or its runtime shut
    /// down).
    Lost { slot: u32 },
}

/// Where spawned attempts report to a running scheduler: a queue it drains whole, and
/// its waker (the orchestra's commands arrive through a
/// [`Mailbox`](crate::orchestra::scheduler::Mailbox) that wakes it the same way). One
/// short lock per event, no per-event allocation once the queue has grown.
pub(crate) struct Inbox<T, E> {
    queue: Mutex<Vec<Event<T, E>>>,
    has_events: AtomicBool,
    /// The orchestra is gone: the scheduler shuts down.
    closed: AtomicBool,
    /// The scheduler is gone (its runtime shut down): commands would go unheard.
    stopped: AtomicBool,
    waker: AtomicWaker,
    /// The orchestra's cancellation scope: plain attempts are polled inside it (kept
    /// here so an attempt holds one shared pointer, not two).
    pub(crate) root: Arc<CancelNode>,
}

impl<T, E> Inbox<T, E> {
    pub(crate) fn new() -> Self {
        Inbox {
            queue: Mutex::new(Vec::new()),
            has_events: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            waker: AtomicWaker::new(),
            root: CancelNode::root(),
        }
    }

    /// Queues `ev` and wakes the scheduler. If the scheduler is gone the event is simply
    /// never read: nobody is left to tell.
    fn push(&self, ev: Event<T, E>) {
        // Nothing panics while the lock is held; a poisoned queue is still a queue.
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ev);
        // Only the push that raises the flag wakes the scheduler: until it lowers the
        // flag (right before it drains, its waker already registered) that wake-up is
        // still pending, so later pushes are read with it.
        if !self.has_events.swap(true, Ordering::AcqRel) {
            self.waker.wake();
        }
    }

    /// Registers `cx` to hear of the next message. Called before reading the queues:
    /// a message pushed meanwhile is either read now or wakes the task again.
    pub(crate) fn register(&self, cx: &Context<'_>) {
        self.waker.register(cx.waker());
    }

    /// Moves every queued event to the end of `out` (a swap when `out` is empty).
    pub(crate) fn drain(&self, out: &mut Vec<Event<T, E>>) {
        if self.has_events.load(Ordering::Acquire) && self.has_events.swap(false, Ordering::AcqRel)
        {
            let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if out.is_empty() {
                std::mem::swap(&mut *q, out);
            } else {
                out.append(&mut q);
            }
        }
    }

    /// Wakes the scheduler (a command is waiting).
    pub(crate) fn wake(&self) {
        self.waker.wake();
    }

    /// `true` once the scheduler is gone.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// The orchestra is gone: tells the scheduler to shut down.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.waker.wake();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The scheduler is gone.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }
}

/// Reports `Lost` if the spawned future is dropped before it reported.
struct Report<T, E> {
    inbox: Arc<Inbox<T, E>>,
    slot: u32,
    sent: bool,
}

impl<T, E> Report<T, E> {
    fn send(mut self, ev: Event<T, E>) {
        self.sent = true;
        self.inbox.push(ev);
    }
}

impl<T, E> Drop for Report<T, E> {
    fn drop(&mut self) {
        if !self.sent {
            self.inbox.push(Event::Lost { slot: self.slot });
        }
    }
}

/// Where and how to run one attempt.
pub(crate) struct AttemptEnv<'a, T, E> {
    pub(crate) handle: &'a Handle,
    pub(crate) inbox: Arc<Inbox<T, E>>,
    pub(crate) slot: u32,
    /// The task's own cancellation scope; `None` runs the plain fast path (cancelled by
    /// aborting the attempt).
    pub(crate) scope: Option<(Arc<CancelNode>, Arc<TaskShared>)>,
    /// `false`: the task has no next attempt and no settings, so the work is dropped
    /// where it ran and the attempt builds the task's result (`Event::Ended`).
    pub(crate) keep_work: bool,
}

/// Type-erased work that can start one attempt of itself.
pub(crate) trait Attempt<T, E>: Send {
    /// Spawns one attempt; the work travels with it and comes back in the event. Runs
    /// the attempt as a `TaskFuture` with `cfg` when the env has a scope, plainly else.
    fn spawn(
        self: Box<Self>,
        cfg: Option<&TaskConfig<T, E>>,
        env: AttemptEnv<'_, T, E>,
    ) -> JoinHandle<()>;
}

struct Work<W>(W);

/// Lends the work to one attempt's `TaskFuture`.
struct ByRef<'a, W>(&'a mut W);

impl<T, E, W: AsyncWork<T, E>> AsyncWork<T, E> for ByRef<'_, W> {
    type Future = W::Future;

    fn call(&mut self) -> Self::Future {
        self.0.call()
    }

    fn requires_runtime(&self) -> bool {
        self.0.requires_runtime()
    }
}

impl<T, E, W> Attempt<T, E> for Work<W>
where
    W: AsyncWork<T, E> + Send + 'static,
    W::Future: Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    fn spawn(
        mut self: Box<Self>,
        cfg: Option<&TaskConfig<T, E>>,
        env: AttemptEnv<'_, T, E>,
    ) -> JoinHandle<()> {
        let AttemptEnv {
            handle,
            inbox,
            slot,
            scope,
            keep_work,
        } = env;
        let report = Report {
            inbox,
            slot,
            sent: false,
        };
        match (scope, cfg) {
            (Some((node, shared)), Some(cfg)) => {
                let cfg = cfg.clone();
                handle.spawn(async move {
                    let result = {
                        let mut attempt = TaskFuture::new(cfg, ByRef(&mut self.0));
                        attempt.attach(node, shared, None);
                        attempt.await
                    };
                    let attempts = result.attempts();
                    let metrics = result.metrics().copied().map(Box::new);
                    report.send(Event::Attempted {
                        slot,
                        outcome: result.into_result(),
                        attempts,
                        metrics,
                        work: Some(self),
                    });
                })
            }
            _ if keep_work => handle.spawn(async move {
                let outcome = plain_attempt(&mut self.0, &report.inbox.root).await;
                report.send(Event::Attempted {
                    slot,
                    outcome,
                    attempts: 1,
                    metrics: None,
                    work: Some(self),
                });
            }),
            _ => handle.spawn(async move {
                let Work(mut work) = *self;
                let outcome = plain_attempt(&mut work, &report.inbox.root).await;
                drop(work);
                report.send(Event::Ended { slot, outcome });
            }),
        }
    }
}

/// One attempt without the `TaskFuture` machinery: the work called and polled inside the
/// orchestra's cancellation scope (entered once per poll, the call included in the
/// first), a panic caught and turned into `TaskError::Panicked`.
async fn plain_attempt<T, E, W: AsyncWork<T, E>>(
    work: &mut W,
    root: &Arc<CancelNode>,
) -> Result<T, TaskError<E>> {
    let mut fut = std::pin::pin!(None::<W::Future>);
    let first = root.enter(|| caught(|| work.call()))?;
    fut.set(Some(first));
    std::future::poll_fn(|cx| {
        poll_caught(|| {
            root.enter(|| match fut.as_mut().as_pin_mut() {
                Some(f) => f.poll(cx),
                None => Poll::Pending,
            })
        })
    })
    .await
}

/// Spawns the recovery fallback of a task that failed for good.
pub(crate) fn spawn_recovery<T, E>(
    handle: &Handle,
    inbox: Arc<Inbox<T, E>>,
    slot: u32,
    recover: &Recover<T, E>,
    err: TaskError<E>,
) -> JoinHandle<()>
where
    T: Send + 'static,
    E: Send + 'static,
{
    let report = Report {
        inbox,
        slot,
        sent: false,
    };
    let called = caught(|| recover(err));
    handle.spawn(async move {
        let outcome = match called {
            Ok(fut) => AssertUnwindSafe(fut)
                .catch_unwind()
                .await
                .unwrap_or_else(|payload| Err(panicked(payload))),
            Err(panic) => Err(panic),
        };
        report.send(Event::Recovered { slot, outcome });
    })
}
