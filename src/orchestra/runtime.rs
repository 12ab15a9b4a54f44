//! [`Runtime`] and [`RuntimeBuilder`]: a tokio runtime (borrowed or owned) that tracks
//! the tasks spawned on it and shuts down cleanly.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::runtime::{Builder, Handle, Runtime as TokioRuntime};
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::{Instant, timeout_at};

use crate::error::{ConfigError, TaskError};
use crate::task::cancel::CancelNode;
use crate::task::timing::after;
use crate::task::{
    AsyncWork, CancellationLevel, TaskFuture, TaskHandle, TaskId, TaskLabel, TaskPriority,
};
use crate::units::{kb, mb};

/// Smallest accepted worker stack: 128 KiB.
pub const MIN_STACK_SIZE: usize = kb(128) as usize;
/// Largest accepted worker stack: 8 MiB.
pub const MAX_STACK_SIZE: usize = mb(8) as usize;
/// Largest accepted worker thread count.
pub const MAX_WORKER_THREADS: usize = 1024;

/// Configures a [`Runtime`]: wrap the current (or a given) tokio runtime, or build an
/// owned multi-threaded one.
///
/// `worker_threads`, `stack_size` or `thread_name` ask for an owned runtime; without
/// them, `build()` wraps the current runtime (no thread is created). Out-of-range values
/// are a [`ConfigError`] from `build()`, never a silent fallback.
///
/// # Examples
///
/// ```
/// use sweet_async::orchestra::RuntimeBuilder;
/// use sweet_async::prelude::*;
///
/// let runtime = RuntimeBuilder::new()
///     .worker_threads(2)
///     .stack_size(256usize.kb())     // small stacks for an embedded box
///     .build()?;
/// assert!(runtime.is_owned() && runtime.is_running());
///
/// let too_many = RuntimeBuilder::new().worker_threads(5000).build();
/// assert!(matches!(too_many, Err(ConfigError::OutOfRange { setting: "worker threads", .. })));
/// let tiny_stack = RuntimeBuilder::new().stack_size(4usize.kb()).build();
/// assert!(tiny_stack.is_err());
/// // Outside a runtime, wrapping "the current one" is an error, not a panic.
/// assert!(RuntimeBuilder::new().build().is_err());
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `.build()`"]
pub struct RuntimeBuilder {
    worker_threads: Option<usize>,
    stack_size: Option<usize>,
    thread_name: Option<String>,
    handle: Option<Handle>,
    invalid: Option<ConfigError>,
}

impl RuntimeBuilder {
    /// Wraps the current runtime unless told otherwise.
    pub fn new() -> Self {
        RuntimeBuilder::default()
    }

    fn invalid(mut self, e: ConfigError) -> Self {
        self.invalid.get_or_insert(e);
        self
    }

    /// Builds an owned runtime with `n` worker threads (1..=1024).
    pub fn worker_threads(mut self, n: usize) -> Self {
        let max = MAX_WORKER_THREADS as u64;
        match ConfigError::check_range("worker threads", n as u64, 1, max) {
            Ok(_) => {
                self.worker_threads = Some(n);
                self
            }
            Err(e) => self.invalid(e),
        }
    }

    /// Builds an owned runtime whose threads have `bytes` of stack (128 KiB..=8 MiB).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        let (min, max) = (MIN_STACK_SIZE as u64, MAX_STACK_SIZE as u64);
        match ConfigError::check_range("stack size", bytes as u64, min, max) {
            Ok(_) => {
                self.stack_size = Some(bytes);
                self
            }
            Err(e) => self.invalid(e),
        }
    }

    /// Builds an owned runtime whose threads are named `name` (no NUL byte: the
    /// operating system takes thread names as C strings).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if name.contains('\0') {
            return self.invalid(ConfigError::Invalid {
                setting: "thread name",
                reason: format!("{name:?} contains a NUL byte"),
            });
        }
        self.thread_name = Some(name);
        self
    }

    /// Wraps `handle` instead of the current runtime.
    pub fn handle(mut self, handle: Handle) -> Self {
        self.handle = Some(handle);
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    ///
    /// The first invalid setting; [`ConfigError::Conflict`] for a given handle together
    /// with owned-runtime settings; [`ConfigError::Invalid`] (setting `"runtime"`) when
    /// there is no current runtime to wrap or tokio cannot build one.
    pub fn build(self) -> Result<Runtime, ConfigError> {
        if let Some(e) = self.invalid {
            return Err(e);
        }
        let wants_owned = self.worker_threads.is_some()
            || self.stack_size.is_some()
            || self.thread_name.is_some();
        if wants_owned && self.handle.is_some() {
            return Err(ConfigError::Conflict {
                reason: "handle(..) together with worker_threads/stack_size/thread_name".to_owned(),
            });
        }
        if !wants_owned {
            let handle = match self.handle {
                Some(h) => h,
                None => Handle::try_current().map_err(|_| ConfigError::Invalid {
                    setting: "runtime",
                    reason: "no tokio runtime is running to wrap; set worker_threads(n) \
                             to build an owned one"
                        .to_owned(),
                })?,
            };
            return Ok(Runtime::wrap(handle, None));
        }
        let mut b = Builder::new_multi_thread();
        b.enable_all();
        if let Some(n) = self.worker_threads {
            b.worker_threads(n);
        }
        if let Some(s) = self.stack_size {
            b.thread_stack_size(s);
        }
        if let Some(name) = self.thread_name {
            b.thread_name(name);
        }
        let rt = b.build().map_err(|e| ConfigError::Invalid {
            setting: "runtime",
            reason: format!("tokio could not build the runtime: {e}"),
        })?;
        Ok(Runtime::wrap(rt.handle().clone(), Some(rt)))
    }
}

/// A tokio runtime that knows the tasks spawned through it: count them, cancel them,
/// shut down with a timeout and say what had to be aborted.
///
/// Cloning shares the same runtime. An owned runtime (from
/// [`RuntimeBuilder::worker_threads`] and friends) stops when the last clone is dropped,
/// with tokio's `shutdown_background`: it never blocks, so dropping a `Runtime` inside
/// async code is safe (dropping a plain owned tokio runtime there panics).
///
/// There is deliberately no `block_on`: the library never blocks a thread on a future.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use sweet_async::orchestra::Runtime;
/// use sweet_async::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let runtime = Runtime::current()?;
/// let job = runtime.spawn(
///     AsyncTask::to::<()>().name("long-poll").run(|| async {
///         tokio::time::sleep(Duration::from_secs(3600)).await;
///         Ok::<_, std::io::Error>(())
///     }),
///     TaskPriority::Low,
/// )?;
/// assert_eq!(runtime.active_task_count(), 1);
/// let report = runtime.shutdown(5.seconds()).await;
/// assert_eq!(report.cancelled_gracefully, 1);   // it stopped at its next `.await`
/// assert!(report.aborted.is_empty());
/// assert!(!runtime.is_running());
/// assert!(job.await.error().unwrap().is_cancelled());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    handle: Handle,
    owned: Option<TokioRuntime>,
    running: AtomicBool,
    active: AtomicUsize,
    next_key: AtomicU64,
    registry: Mutex<HashMap<u64, Entry>>,
    idle: Notify,
}

struct Entry {
    id: TaskId,
    label: TaskLabel,
    node: Arc<CancelNode>,
    abort: AbortHandle,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(rt) = self.owned.take() {
            // Never blocks, so never panics in async context.
            rt.shutdown_background();
        }
    }
}

impl Inner {
    fn registry(&self) -> MutexGuard<'_, HashMap<u64, Entry>> {
        // The lock is held for a map insert or remove, never across an `.await`; a panic
        // while holding it cannot leave the map half-updated, so poisoning is ignored.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts a spawned task as active until its work is dropped (finished or aborted).
struct ActiveGuard {
    inner: Weak<Inner>,
    key: u64,
    ended: Arc<AtomicBool>,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.ended.store(true, Ordering::SeqCst);
        if let Some(inner) = self.inner.upgrade() {
            inner.registry().remove(&self.key);
            if inner.active.fetch_sub(1, Ordering::AcqRel) == 1 {
                inner.idle.notify_waiters();
            }
        }
    }
}

/// The work of a task spawned through a [`Runtime`], carrying its active-count guard.
struct Tracked<W> {
    work: W,
    _guard: ActiveGuard,
}

impl<T, E, W: AsyncWork<T, E>> AsyncWork<T, E> for Tracked<W> {
    type Future = W::Future;

    fn call(&mut self) -> W::Future {
        self.work.call()
    }

    fn requires_runtime(&self) -> bool {
        self.work.requires_runtime()
    }
}

impl Runtime {
    /// Starts configuring a runtime.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::new()
    }

    /// Wraps the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] outside a runtime.
    pub fn current() -> Result<Runtime, ConfigError> {
        RuntimeBuilder::new().build()
    }

    /// Wraps the runtime behind `handle`.
    pub fn from_handle(handle: Handle) -> Runtime {
        Runtime::wrap(handle, None)
    }

    fn wrap(handle: Handle, owned: Option<TokioRuntime>) -> Runtime {
        Runtime {
            inner: Arc::new(Inner {
                handle,
                owned,
                running: AtomicBool::new(true),
                active: AtomicUsize::new(0),
                next_key: AtomicU64::new(0),
                registry: Mutex::new(HashMap::new()),
                idle: Notify::new(),
            }),
        }
    }

    /// The tokio handle, to spawn plain futures or hand to an orchestra.
    pub fn handle(&self) -> &Handle {
        &self.inner.handle
    }

    /// `true` when this runtime owns its tokio runtime (built here).
    pub fn is_owned(&self) -> bool {
        self.inner.owned.is_some()
    }

    /// `true` until [`shutdown`](Self::shutdown) is called.
    pub fn is_running(&self) -> bool {
        self.inner.running.load(Ordering::Acquire)
    }

    /// Tasks spawned through this runtime that have not ended. Lock-free.
    pub fn active_task_count(&self) -> usize {
        self.inner.active.load(Ordering::Acquire)
    }

    /// Spawns a configured task with `priority` (recorded on its handle and result;
    /// tokio itself has no priorities, an [`Orchestra`](crate::orchestra::Orchestra)
    /// orders by them).
    ///
    /// # Errors
    ///
    /// [`TaskError::NoRuntime`] after [`shutdown`](Self::shutdown), and
    /// [`TaskError::Config`] for an invalid setting; nothing runs then.
    pub fn spawn<T, E, W>(
        &self,
        task: TaskFuture<T, E, W>,
        priority: TaskPriority,
    ) -> Result<TaskHandle<T, E>, TaskError<E>>
    where
        W: AsyncWork<T, E> + Send + 'static,
        W::Future: Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        if !self.is_running() {
            return Err(TaskError::NoRuntime);
        }
        let (cfg, work) = task.into_parts();
        let key = self.inner.next_key.fetch_add(1, Ordering::Relaxed);
        self.inner.active.fetch_add(1, Ordering::AcqRel);
        let ended = Arc::new(AtomicBool::new(false));
        let guard = ActiveGuard {
            inner: Arc::downgrade(&self.inner),
            key,
            ended: Arc::clone(&ended),
        };
        let builder = cfg.into_builder().priority(priority);
        let handle = builder
            .run(Tracked {
                work,
                _guard: guard,
            })
            .spawn_on(&self.inner.handle)?;
        let entry = Entry {
            id: handle.task_id(),
            label: handle.label().clone(),
            node: handle.cancel_node(),
            abort: handle.abort_handle(),
        };
        self.inner.registry().insert(key, entry);
        if ended.load(Ordering::SeqCst) {
            // It ended before it was registered: its guard found nothing to remove.
            self.inner.registry().remove(&key);
        }
        Ok(handle)
    }

    /// Stops every task spawned through this runtime: cancels them gracefully (their
    /// `on_cancel` cleanup runs), waits up to `timeout` for them to end, then aborts the
    /// rest and reports which. New spawns are refused from the start.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after it started leaves the tasks cancelled but not aborted.
    pub async fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let start = Instant::now();
        self.inner.running.store(false, Ordering::Release);
        let asked = {
            let registry = self.inner.registry();
            for e in registry.values() {
                e.node.cancel(CancellationLevel::Graceful);
            }
            registry.len()
        };
        let deadline = after(start, timeout);
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.active.load(Ordering::Acquire) == 0 {
                break;
            }
            if timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        let left: Vec<Entry> = self.inner.registry().drain().map(|(_, e)| e).collect();
        let mut aborted = Vec::with_capacity(left.len());
        for e in left {
            if !e.abort.is_finished() {
                e.node.cancel(CancellationLevel::KillHard);
                e.abort.abort();
                aborted.push(AbortedTask {
                    id: e.id,
                    label: e.label,
                });
            }
        }
        ShutdownReport {
            cancelled_gracefully: asked.saturating_sub(aborted.len()),
            aborted,
            took: start.elapsed(),
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("owned", &self.is_owned())
            .field("running", &self.is_running())
            .field("active_tasks", &self.active_task_count())
            .finish_non_exhaustive()
    }
}

/// What [`Runtime::shutdown`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Tasks that ended within the timeout after the graceful cancel.
    pub cancelled_gracefully: usize,
    /// Tasks still running at the timeout, aborted.
    pub aborted: Vec<AbortedTask>,
    /// How long the shutdown took.
    pub took: Duration,
}

impl ShutdownReport {
    /// `true` when nothing had to be aborted.
    pub fn is_clean(&self) -> bool {
        self.aborted.is_empty()
    }
}

/// A task [`Runtime::shutdown`] had to abort.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AbortedTask {
    /// Its id.
    pub id: TaskId,
    /// Its name, description and tags.
    pub label: TaskLabel,
}
