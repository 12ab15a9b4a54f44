//! [`AsyncWork`]: the unit of work a task runs, called once per attempt.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;

/// Something that starts one attempt of a task's work.
///
/// Implemented for every `FnMut() -> impl Future<Output = Result<T, E>>`, so the work is
/// taken generically (no boxing) and called again for each retry.
pub trait AsyncWork<T, E> {
    /// The future of one attempt.
    type Future: Future<Output = Result<T, E>>;

    /// Starts an attempt.
    fn call(&mut self) -> Self::Future;

    /// Whether an attempt needs a tokio runtime even without timers (blocking work).
    fn requires_runtime(&self) -> bool {
        false
    }
}

impl<F, Fut, T, E> AsyncWork<T, E> for F
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    type Future = Fut;

    fn call(&mut self) -> Fut {
        self()
    }
}

/// Synchronous work run on tokio's blocking pool (see `run_blocking`).
#[derive(Debug)]
pub struct BlockingWork<F>(Arc<F>);

impl<F> BlockingWork<F> {
    pub(crate) fn new(f: F) -> Self {
        BlockingWork(Arc::new(f))
    }
}

impl<F, T, E> AsyncWork<T, E> for BlockingWork<F>
where
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    type Future = BlockingAttempt<T, E>;

    fn call(&mut self) -> Self::Future {
        let f = Arc::clone(&self.0);
        // Runtime presence is checked before the first attempt (`requires_runtime`).
        BlockingAttempt(tokio::task::spawn_blocking(move || {
            catch_unwind(AssertUnwindSafe(|| f()))
        }))
    }

    fn requires_runtime(&self) -> bool {
        true
    }
}

/// One attempt of [`BlockingWork`]: waits for the blocking pool.
#[derive(Debug)]
pub struct BlockingAttempt<T, E>(JoinHandle<std::thread::Result<Result<T, E>>>);

impl<T, E> Future for BlockingAttempt<T, E> {
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.0).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Ok(out))) => Poll::Ready(out),
            // The closure panicked on the blocking pool: carry the panic over to the
            // task's poll, where it is caught and becomes `TaskError::Panicked`.
            Poll::Ready(Ok(Err(payload))) => resume_unwind(payload),
            Poll::Ready(Err(join)) => match join.try_into_panic() {
                Ok(payload) => resume_unwind(payload),
                // The runtime is shutting down and dropped the blocking task.
                Err(_) => resume_unwind(Box::new(String::from(
                    "blocking task was dropped by a shutting-down runtime",
                ))),
            },
        }
    }
}

impl<T, E> Drop for BlockingAttempt<T, E> {
    fn drop(&mut self) {
        // A timed-out or cancelled attempt cannot stop a running thread; dropping the
        // handle detaches it and aborts it if it has not started yet.
        self.0.abort();
    }
}
