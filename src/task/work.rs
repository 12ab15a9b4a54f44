//! [`AsyncWork`]: the unit of work a task runs, called once per attempt.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};
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
///
/// A thread cannot be stopped: an attempt that timed out (or was cancelled) keeps running
/// until its closure returns. So that retries never pile copies of the work on top of
/// it, at most one attempt of a task runs at a time: the next attempt waits for the
/// previous one's thread to finish, and that wait counts against its own timeout.
#[derive(Debug)]
pub struct BlockingWork<F> {
    f: Arc<F>,
    /// One permit: held by the thread running an attempt until its closure returns.
    one_at_a_time: Arc<Semaphore>,
}

impl<F> BlockingWork<F> {
    pub(crate) fn new(f: F) -> Self {
        BlockingWork {
            f: Arc::new(f),
            one_at_a_time: Arc::new(Semaphore::new(1)),
        }
    }
}

type Outcome<T, E> = std::thread::Result<Result<T, E>>;

impl<F, T, E> AsyncWork<T, E> for BlockingWork<F>
where
    F: Fn() -> Result<T, E> + Send + Sync + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    type Future = BlockingAttempt<T, E>;

    fn call(&mut self) -> Self::Future {
        let f = Arc::clone(&self.f);
        let permit = Arc::clone(&self.one_at_a_time).acquire_owned();
        BlockingAttempt(Attempt::Waiting {
            permit: Box::pin(permit),
            start: Some(Box::new(move |permit: OwnedSemaphorePermit| {
                // Runtime presence is checked before the first attempt
                // (`requires_runtime`).
                tokio::task::spawn_blocking(move || {
                    let _running = permit; // released when the closure returns
                    catch_unwind(AssertUnwindSafe(|| f()))
                })
            })),
        })
    }

    fn requires_runtime(&self) -> bool {
        true
    }
}

/// Starts an attempt's thread once it holds the permit.
type Start<T, E> = Box<dyn FnOnce(OwnedSemaphorePermit) -> JoinHandle<Outcome<T, E>> + Send>;

type Acquire = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

enum Attempt<T, E> {
    /// Waiting for the previous attempt's thread to finish.
    Waiting {
        permit: Acquire,
        start: Option<Start<T, E>>,
    },
    /// On the blocking pool.
    Running(JoinHandle<Outcome<T, E>>),
}

/// One attempt of [`BlockingWork`]: waits for the previous attempt's thread, then for the
/// blocking pool.
pub struct BlockingAttempt<T, E>(Attempt<T, E>);

impl<T, E> fmt::Debug for BlockingAttempt<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.0 {
            Attempt::Waiting { .. } => "waiting for the previous attempt",
            Attempt::Running(_) => "running",
        };
        f.debug_tuple("BlockingAttempt").field(&state).finish()
    }
}

// No field is structurally pinned: the acquire future is boxed, the handle is `Unpin`.
impl<T, E> Unpin for BlockingAttempt<T, E> {}

impl<T, E> Future for BlockingAttempt<T, E> {
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Attempt::Waiting { permit, start } = &mut self.0 {
            let permit = match permit.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(permit)) => permit,
                // The semaphore is never closed.
                Poll::Ready(Err(_)) => resume_unwind(Box::new(String::from(
                    "blocking attempt lost its turn (semaphore closed)",
                ))),
            };
            let Some(start) = start.take() else {
                return Poll::Pending;
            };
            self.0 = Attempt::Running(start(permit));
        }
        let Attempt::Running(handle) = &mut self.0 else {
            return Poll::Pending;
        };
        match Pin::new(handle).poll(cx) {
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
        // handle detaches it (it keeps the permit until it returns) and aborts it if it
        // has not started yet.
        if let Attempt::Running(handle) = &self.0 {
            handle.abort();
        }
    }
}
