//! The usual result chain, `run(..).map(..).and_then(..).or_else(..)`, as inherent methods.
//!
//! A [`TaskFuture`] resolves to a [`TaskResult`] (the outcome plus metadata), so it is not
//! a `TryFuture` and the [`AsyncResultExt`] combinators do not apply to it directly. Its
//! inherent `map`, `map_err`, `and_then`, `or_else`, `recover` and `inspect` go through
//! [`TaskFuture::into_result`] first, and the futures they return (and [`IntoResult`])
//! have the same inherent methods, so that chain compiles as written. Being
//! inherent, they never clash with `futures::FutureExt`/`TryFutureExt` in scope.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::{FusedFuture, TryFuture};
use pin_project_lite::pin_project;

use super::{AndThen, AsyncResultExt, Inspect, Map, MapErr, OrElse, Recover};
use crate::error::TaskError;
use crate::task::result::TaskResult;
use crate::task::run::TaskFuture;
use crate::task::spawn::TaskHandle;
use crate::task::work::AsyncWork;

pin_project! {
    /// A task's outcome as a plain `Result<T, TaskError<E>>`: the future of
    /// [`TaskFuture::into_result`] and [`TaskHandle::into_result`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct IntoResult<Fut> {
        #[pin]
        task: Fut,
    }
}

impl<Fut, T, E> Future for IntoResult<Fut>
where
    Fut: Future<Output = TaskResult<T, E>>,
{
    type Output = Result<T, TaskError<E>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().task.poll(cx).map(TaskResult::into_result)
    }
}

impl<Fut, T, E> FusedFuture for IntoResult<Fut>
where
    Fut: FusedFuture<Output = TaskResult<T, E>>,
{
    fn is_terminated(&self) -> bool {
        self.task.is_terminated()
    }
}

impl<Fut: fmt::Debug> fmt::Debug for IntoResult<Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoResult")
            .field("task", &self.task)
            .finish()
    }
}

impl<T, E, W: AsyncWork<T, E>> TaskFuture<T, E, W> {
    /// A future of the plain `Result`, for `?` and for the
    /// [`AsyncResultExt`] combinators.
    ///
    /// Awaiting the task itself gives a [`TaskResult`] (the outcome plus attempts,
    /// timing and metrics), which `?` cannot take apart; await this instead to use `?`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), TaskError<std::io::Error>> {
    /// let text = AsyncTask::to::<String>()
    ///     .run(|| async { Ok("hello".to_owned()) })
    ///     .into_result()
    ///     .await?;
    /// assert_eq!(text.len(), 5);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "result")]
    pub fn into_result(self) -> IntoResult<Self> {
        IntoResult { task: self }
    }

    /// Runs the task and transforms its value with `f`: a future of
    /// `Result<U, TaskError<E>>`. Shorthand for `.into_result().map(f)`; the usual
    /// chain, `run(..).map(..).and_then(..).or_else(..)`, compiles as written.
    ///
    /// (`futures::FutureExt::map` would map the whole [`TaskResult`]; call it as
    /// `FutureExt::map(task, f)` if that is what you want.)
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::prelude::*; // no clash: these methods are inherent
    /// use sweet_async::prelude::*;
    ///
    /// async fn parse_large_file(path: &str) -> Result<Vec<String>, std::io::Error> {
    ///     Ok(vec![format!("{path}:1"), String::new(), format!("{path}:3")])
    /// }
    ///
    /// async fn compress_data(rows: Vec<String>) -> Result<usize, TaskError<std::io::Error>> {
    ///     Ok(rows.iter().map(String::len).sum())
    /// }
    ///
    /// async fn try_alternative_parser(_: &str) -> Result<usize, TaskError<std::io::Error>> {
    ///     Ok(0)
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let path = "orders.csv";
    /// let bytes = AsyncTask::to::<Vec<String>>()
    ///     .timeout(30.seconds())
    ///     .run(|| parse_large_file(path))
    ///     .map(|rows| rows.into_iter().filter(|r| !r.is_empty()).collect())
    ///     .and_then(compress_data)
    ///     .or_else(|_| try_alternative_parser(path))
    ///     .await?;
    /// assert_eq!(bytes, 24);
    /// # Ok(())
    /// # }
    /// ```
    pub fn map<U, F>(self, f: F) -> Map<IntoResult<Self>, F>
    where
        F: FnOnce(T) -> U,
    {
        self.into_result().map_value(f)
    }

    /// Runs the task and transforms its error with `f`. Shorthand for
    /// `.into_result().map_err(f)`.
    pub fn map_err<E2, F>(self, f: F) -> MapErr<IntoResult<Self>, F>
    where
        F: FnOnce(TaskError<E>) -> E2,
    {
        self.into_result().map_error(f)
    }

    /// Runs the task and, on success, continues with the future `f` returns for its
    /// value (whose error type is `TaskError<E>` too). Shorthand for
    /// `.into_result().and_then(f)`.
    pub fn and_then<Fut, F>(self, f: F) -> AndThen<IntoResult<Self>, Fut, F>
    where
        F: FnOnce(T) -> Fut,
        Fut: TryFuture<Error = TaskError<E>>,
    {
        self.into_result().then_ok(f)
    }

    /// Runs the task and, on failure, continues with the future `f` returns for the
    /// error. Shorthand for `.into_result().or_else(f)`.
    pub fn or_else<Fut, F>(self, f: F) -> OrElse<IntoResult<Self>, Fut, F>
    where
        F: FnOnce(TaskError<E>) -> Fut,
        Fut: TryFuture<Ok = T>,
    {
        self.into_result().then_err(f)
    }

    /// Runs the task and ends with a plain value: the task's value, or `f(error)`.
    /// Shorthand for `.into_result().recover(f)`.
    pub fn recover<F>(self, f: F) -> Recover<IntoResult<Self>, F>
    where
        F: FnOnce(TaskError<E>) -> T,
    {
        AsyncResultExt::recover(self.into_result(), f)
    }

    /// Runs the task and lets `f` look at its outcome as a `Result`. Shorthand for
    /// `.into_result().inspect(f)`.
    pub fn inspect<F>(self, f: F) -> Inspect<IntoResult<Self>, F>
    where
        F: FnOnce(&Result<T, TaskError<E>>),
    {
        self.into_result().inspect_result(f)
    }
}

impl<T, E> TaskHandle<T, E> {
    /// A future of the spawned task's outcome as a plain `Result`, for `?`
    /// (awaiting the handle itself gives a [`TaskResult`] with the metadata).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// let handle = AsyncTask::to::<u32>().spawn(|| async { Ok::<_, BoxError>(7) })?;
    /// assert_eq!(handle.into_result().await?, 7);
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_result(self) -> IntoResult<Self> {
        IntoResult { task: self }
    }
}

/// The usual names, as inherent methods of this module's fallible futures: `map`,
/// `map_err`, `and_then`, `or_else`, `recover` and `inspect` continue a chain started on a
/// task (`run(..).map(..).and_then(..)`) without naming a trait, and never clash with
/// `futures`' traits.
macro_rules! usual_names {
    ($($ty:ident<$($g:ident),*>;)*) => {$(
        impl<$($g),*> $ty<$($g),*>
        where
            Self: TryFuture,
        {
            /// [`map_value`](AsyncResultExt::map_value) under its usual name.
            pub fn map<U, G>(self, f: G) -> Map<Self, G>
            where
                G: FnOnce(<Self as TryFuture>::Ok) -> U,
            {
                self.map_value(f)
            }

            /// [`map_error`](AsyncResultExt::map_error) under its usual name.
            pub fn map_err<E2, G>(self, f: G) -> MapErr<Self, G>
            where
                G: FnOnce(<Self as TryFuture>::Error) -> E2,
            {
                self.map_error(f)
            }

            /// [`then_ok`](AsyncResultExt::then_ok) under its usual name.
            pub fn and_then<Next, G>(self, f: G) -> AndThen<Self, Next, G>
            where
                G: FnOnce(<Self as TryFuture>::Ok) -> Next,
                Next: TryFuture<Error = <Self as TryFuture>::Error>,
            {
                self.then_ok(f)
            }

            /// [`then_err`](AsyncResultExt::then_err) under its usual name.
            pub fn or_else<Next, G>(self, f: G) -> OrElse<Self, Next, G>
            where
                G: FnOnce(<Self as TryFuture>::Error) -> Next,
                Next: TryFuture<Ok = <Self as TryFuture>::Ok>,
            {
                self.then_err(f)
            }

            /// [`recover`](AsyncResultExt::recover), callable with `futures`' traits in scope.
            pub fn recover<G>(self, f: G) -> Recover<Self, G>
            where
                G: FnOnce(<Self as TryFuture>::Error) -> <Self as TryFuture>::Ok,
            {
                AsyncResultExt::recover(self, f)
            }

            /// [`inspect_result`](AsyncResultExt::inspect_result) under its usual name.
            pub fn inspect<G>(self, f: G) -> Inspect<Self, G>
            where
                G: FnOnce(&Result<<Self as TryFuture>::Ok, <Self as TryFuture>::Error>),
            {
                self.inspect_result(f)
            }
        }
    )*};
}

usual_names! {
    IntoResult<Fut>;
    Map<Fut, F>;
    MapErr<Fut, F>;
    AndThen<Fut1, Fut2, F>;
    OrElse<Fut1, Fut2, F>;
    Inspect<Fut, F>;
}
