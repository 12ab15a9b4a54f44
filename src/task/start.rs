//! How a configured task starts: [`run`](AsyncTaskBuilder::run),
//! [`run_with`](AsyncTaskBuilder::run_with), [`run_blocking`](AsyncTaskBuilder::run_blocking)
//! and [`spawn`](AsyncTaskBuilder::spawn).

use std::future::Future;

use crate::error::TaskError;
use crate::task::AsyncTaskBuilder;
use crate::task::context::TaskContext;
use crate::task::run::TaskFuture;
use crate::task::work::{AsyncWork, BlockingWork};
use crate::task::{TaskHandle, TaskId};

impl<T, E> AsyncTaskBuilder<T, E> {
    /// Turns the builder into a future running `work` (called again for each retry).
    ///
    /// Nothing runs until the future is awaited or spawned.
    ///
    /// # `.await`, `?` and chains
    ///
    /// Awaiting the future gives a [`TaskResult`](crate::task::TaskResult): the value or
    /// the [`TaskError`](crate::error::TaskError), plus attempts, timing and metrics. It is
    /// not a `Result`, so `run(..).await?` does not compile ("the `?` operator cannot be
    /// applied to type `TaskResult`"): write **`run(..).into_result().await?`**, or call
    /// [`into_result()`](crate::task::TaskResult::into_result) on the `TaskResult`. The
    /// chain `run(..).map(..).and_then(..).or_else(..)` works as written: those are
    /// methods of [`TaskFuture`] over the plain `Result`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// async fn fetch_rate(currency: &str) -> Result<f64, std::io::Error> {
    ///     Ok(if currency == "EUR" { 1.08 } else { 1.0 })
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// // The value, for `?`:
    /// let rate = AsyncTask::to::<f64>().retry(2).run(|| fetch_rate("EUR")).into_result().await?;
    /// assert_eq!(rate, 1.08);
    ///
    /// // The value with its metadata:
    /// let result = AsyncTask::to::<f64>().run(|| fetch_rate("USD")).await;
    /// assert_eq!(result.attempts(), 1);
    /// let rate = result.into_result()?;
    ///
    /// // A chain over the value:
    /// let cents = AsyncTask::to::<f64>().run(|| fetch_rate("EUR")).map(|r| (r * 100.0).round()).await?;
    /// assert_eq!((rate, cents), (1.0, 108.0));
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn run<W>(self, work: W) -> TaskFuture<T, E, W>
    where
        W: AsyncWork<T, E>,
    {
        TaskFuture::new(self.cfg, work)
    }

    /// Like [`run`](Self::run), handing the work the task's [`TaskContext`]
    /// (dependencies added with [`with`](Self::with), task id, working directory).
    #[doc(alias = "ContextualizedTask")]
    pub fn run_with<F, Fut>(mut self, mut work: F) -> TaskFuture<T, E, impl FnMut() -> Fut>
    where
        F: FnMut(TaskContext) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let id = *self.cfg.id.get_or_insert_with(TaskId::new);
        let ctx = self
            .cfg
            .cold()
            .map(|c| c.context.clone())
            .unwrap_or_default()
            .with_task_id(id);
        self.run(move || work(ctx.clone()))
    }

    /// Runs synchronous `work` on tokio's blocking pool (once per attempt).
    ///
    /// A timeout or cancellation stops waiting for it, but cannot stop a thread that is
    /// already running it. At most one attempt runs at a time: a retry after a timeout
    /// waits for the timed-out attempt's thread to return (that wait counts against the
    /// retry's own timeout), so retries never stack copies of the work on the pool.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let checksum = AsyncTask::to::<u64>()
    ///     .name("checksum")
    ///     .run_blocking(|| {
    ///         // CPU-heavy or blocking code stays off the async workers.
    ///         Ok::<_, std::io::Error>((1..=1000u64).sum())
    ///     })
    ///     .await;
    /// assert_eq!(checksum.value(), Some(&500_500));
    /// # }
    /// ```
    pub fn run_blocking<F>(self, work: F) -> TaskFuture<T, E, BlockingWork<F>>
    where
        F: Fn() -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        TaskFuture::new(self.cfg, BlockingWork::new(work))
    }

    /// Shorthand for `.run(work).spawn()`.
    ///
    /// # Errors
    ///
    /// [`TaskError::NoRuntime`] outside a runtime, [`TaskError::Config`] for an invalid
    /// setting.
    pub fn spawn<W>(self, work: W) -> Result<TaskHandle<T, E>, TaskError<E>>
    where
        W: AsyncWork<T, E> + Send + 'static,
        W::Future: Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        self.run(work).spawn()
    }
}
