//! [`RetryEach`]: runs a fallible async call per item and retries it with a
//! [`RetryPolicy`], one item at a time.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::FusedStream;
use futures::{Stream, TryFuture};
use pin_project_lite::pin_project;
use tokio::time::Instant;

use super::lazy_sleep::LazySleep;
use crate::error::TaskError;
use crate::task::attempt::{caught, poll_caught};
use crate::task::retry::{RetryPolicy, RetryState};
use crate::task::timing::after;

/// An item whose call failed for good in
/// [`retry_each`](super::DataflowExt::retry_each): it carries the item back, so nothing is
/// lost (send it to a dead-letter queue, log it, retry it later).
pub struct RetryError<T, E> {
    item: T,
    index: u64,
    attempts: u32,
    last: TaskError<E>,
}

impl<T, E> RetryError<T, E> {
    /// The item whose call failed.
    pub fn item(&self) -> &T {
        &self.item
    }

    /// The 0-based position of the item in the input stream.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Attempts made, the first one included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Why the last attempt failed: [`TaskError::Failed`] with the call's error, or
    /// [`TaskError::Panicked`] when the closure or its future panicked (never retried).
    pub fn last_error(&self) -> &TaskError<E> {
        &self.last
    }

    /// The item back, dropping the error.
    pub fn into_item(self) -> T {
        self.item
    }

    /// The item and the last error.
    pub fn into_parts(self) -> (T, TaskError<E>) {
        (self.item, self.last)
    }
}

impl<T: fmt::Debug, E: fmt::Debug> fmt::Debug for RetryError<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryError")
            .field("item", &self.item)
            .field("index", &self.index)
            .field("attempts", &self.attempts)
            .field("last", &self.last)
            .finish()
    }
}

impl<T, E: fmt::Display> fmt::Display for RetryError<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.attempts == 1 { "" } else { "s" };
        write!(
            f,
            "item {} failed after {} attempt{plural}: {}",
            self.index, self.attempts, self.last
        )
    }
}

impl<T: fmt::Debug, E: fmt::Debug + fmt::Display + 'static> StdError for RetryError<T, E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.last)
    }
}

pin_project! {
    /// Stream for [`DataflowExt::retry_each`](super::DataflowExt::retry_each).
    #[must_use = "streams do nothing unless polled"]
    #[project = RetryEachProj]
    pub struct RetryEach<S: Stream, F, Fut> {
        #[pin]
        stream: S,
        #[pin]
        attempt: Option<Fut>,
        #[pin]
        timer: LazySleep,
        call: F,
        policy: RetryPolicy,
        item: Option<S::Item>,
        // The current item's attempts, backoff, and start (set only with a time budget).
        retry: RetryState,
        // Position of the current item, and of the next one pulled.
        index: u64,
        pulled: u64,
        waiting: bool,
        done: bool,
    }
}

impl<S, F, Fut> RetryEach<S, F, Fut>
where
    S: Stream,
    F: FnMut(&S::Item) -> Fut,
    Fut: TryFuture,
{
    pub(crate) fn new(stream: S, policy: RetryPolicy, call: F) -> Self {
        RetryEach {
            stream,
            attempt: None,
            timer: LazySleep::new("retry_each"),
            call,
            policy,
            item: None,
            retry: RetryState::default(),
            index: 0,
            pulled: 0,
            waiting: false,
            done: false,
        }
    }
}

impl<S: Stream, F, Fut> RetryEach<S, F, Fut> {
    /// The retry policy applied to each item.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    super::accessors::stream_accessors!(stream: S);

    /// The upstream stream and the item being retried, if any (its call is dropped).
    pub fn into_parts(self) -> (S, Option<S::Item>) {
        (self.stream, self.item)
    }
}

impl<S, F, Fut> fmt::Debug for RetryEach<S, F, Fut>
where
    S: Stream + fmt::Debug,
    S::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryEach")
            .field("stream", &self.stream)
            .field("policy", &self.policy)
            .field("item", &self.item)
            .field("index", &self.index)
            .field("attempts", &self.retry.attempts())
            .field("waiting", &self.waiting)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

type Proj<'a, S, F, Fut> = RetryEachProj<'a, S, F, Fut>;

impl<S, F, Fut> RetryEach<S, F, Fut>
where
    S: Stream,
    F: FnMut(&S::Item) -> Fut,
    Fut: TryFuture,
{
    /// Calls the closure for the current item. `Err` when it panicked.
    fn start_attempt(this: &mut Proj<'_, S, F, Fut>) -> Result<(), TaskError<Fut::Error>> {
        let Some(item) = this.item.as_ref() else {
            return Ok(());
        };
        this.retry.count(1);
        let call = &mut *this.call;
        let fut = caught(|| call(item))?;
        this.attempt.set(Some(fut));
        Ok(())
    }

    /// The attempt failed with `err`: arms the backoff and returns `None`, or gives the
    /// item up and returns its error.
    fn failed(
        this: &mut Proj<'_, S, F, Fut>,
        err: TaskError<Fut::Error>,
    ) -> Option<RetryError<S::Item, Fut::Error>> {
        if matches!(err, TaskError::Failed(_)) {
            let now = Instant::now();
            if let Some(delay) = this.retry.next_delay(this.policy, now) {
                if this.timer.as_mut().arm(after(now, delay)) {
                    *this.waiting = true;
                    return None;
                }
                // No tokio timer to wait on: the item is given up with its last error
                // (the timer logged why).
            }
        }
        let attempts = this.retry.attempts();
        this.retry.reset();
        let item = this.item.take()?;
        Some(RetryError {
            item,
            index: *this.index,
            attempts,
            last: err,
        })
    }
}

impl<S, F, Fut> Stream for RetryEach<S, F, Fut>
where
    S: Stream,
    F: FnMut(&S::Item) -> Fut,
    Fut: TryFuture,
{
    type Item = Result<Fut::Ok, RetryError<S::Item, Fut::Error>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if *this.waiting {
                if this.timer.as_mut().poll_elapsed(cx).is_pending() {
                    return Poll::Pending;
                }
                *this.waiting = false;
                if let Err(err) = Self::start_attempt(&mut this) {
                    if let Some(given_up) = Self::failed(&mut this, err) {
                        return Poll::Ready(Some(Err(given_up)));
                    }
                    continue;
                }
            }
            if let Some(fut) = this.attempt.as_mut().as_pin_mut() {
                let err = match poll_caught(|| fut.try_poll(cx)) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(value)) => {
                        this.attempt.set(None);
                        *this.item = None;
                        this.retry.reset();
                        return Poll::Ready(Some(Ok(value)));
                    }
                    Poll::Ready(Err(err)) => err,
                };
                this.attempt.set(None);
                match Self::failed(&mut this, err) {
                    Some(given_up) => return Poll::Ready(Some(Err(given_up))),
                    None => continue,
                }
            }
            if *this.done {
                return Poll::Ready(None);
            }
            // Idle: take the next item. Nothing is pulled while an item is in flight.
            match this.stream.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(item)) => {
                    *this.index = *this.pulled;
                    *this.pulled = this.pulled.saturating_add(1);
                    *this.item = Some(item);
                    this.retry.reset();
                    if this.policy.max_elapsed().is_some() {
                        this.retry.start(Instant::now());
                    }
                    if let Err(err) = Self::start_attempt(&mut this) {
                        if let Some(given_up) = Self::failed(&mut this, err) {
                            return Poll::Ready(Some(Err(given_up)));
                        }
                    }
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let current = usize::from(self.item.is_some());
        if self.done {
            return (current, Some(current));
        }
        let (lower, upper) = self.stream.size_hint();
        (
            lower.saturating_add(current),
            upper.and_then(|u| u.checked_add(current)),
        )
    }
}

impl<S, F, Fut> FusedStream for RetryEach<S, F, Fut>
where
    S: Stream,
    F: FnMut(&S::Item) -> Fut,
    Fut: TryFuture,
{
    fn is_terminated(&self) -> bool {
        self.done && self.item.is_none()
    }
}
