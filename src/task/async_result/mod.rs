//! Combinators over fallible futures: [`AsyncResultExt`] (`map`, `and_then`, `or_else`,
//! ...), [`AwaitResult`] (await and handle in one call) and [`IntoAsyncResult`] (plain
//! values as fallible futures).
//!
//! An "AsyncResult" is not a type of its own: it is any
//! [`TryFuture`] (a `Future<Output = Result<T, E>>`), so the futures of `async fn`s,
//! [`tokio::task::JoinHandle`]s and `futures` combinators all get these methods.

mod and_then;
mod await_result;
mod chain;
mod inspect;
mod into_async_result;
mod lift;
mod map;
mod map_err;
mod map_once;
mod or_else;
mod recover;
mod task_future;

pub use and_then::AndThen;
pub use await_result::AwaitResultFuture;
pub use inspect::Inspect;
pub use into_async_result::MissingValue;
pub use lift::{Lift, lift};
pub use map::Map;
pub use map_err::MapErr;
pub use or_else::OrElse;
pub use recover::Recover;
pub use task_future::IntoResult;

use std::future::Future;

use futures::future::TryFuture;

/// Chains transformations onto any fallible future (an "AsyncResult"): transform the
/// value, transform the error, continue asynchronously on success, recover
/// asynchronously on error, end with a plain value, or look at the result on the way.
///
/// Implemented for every [`TryFuture`], that is every `Future<Output = Result<T, E>>`.
/// Nothing runs until the returned future is awaited; each closure runs at most once,
/// and only on the branch it is for (`map_value` never sees an error, `then_err` never
/// sees a success).
///
/// | method | on `Ok(v)` | on `Err(e)` | `futures` equivalent |
/// |---|---|---|---|
/// | [`map_value`](Self::map_value) | `Ok(f(v))` | `Err(e)` | `TryFutureExt::map_ok` |
/// | [`map_error`](Self::map_error) | `Ok(v)` | `Err(f(e))` | `TryFutureExt::map_err` |
/// | [`then_ok`](Self::then_ok) | `f(v).await` | `Err(e)` | `TryFutureExt::and_then` |
/// | [`then_err`](Self::then_err) | `Ok(v)` | `f(e).await` | `TryFutureExt::or_else` |
/// | [`recover`](Self::recover) | `v` | `f(e)` | `TryFutureExt::unwrap_or_else` |
/// | [`inspect_result`](Self::inspect_result) | `Ok(v)` (`f` sees it) | `Err(e)` (`f` sees it) | `FutureExt::inspect` |
///
/// The futures never panic: polled again after they returned a value they stay
/// pending, like [`futures::future::Fuse`]. They are `Send` when the inner futures and
/// closures are, and `Unpin` when the inner futures are (closures need not be). Dropping
/// one drops the future it is running; it is as cancel safe as that future.
///
/// # Names
///
/// Result-chaining code usually calls these `map`, `map_err`, `and_then`, `or_else`
/// and `inspect` (they are findable under those names). `futures::FutureExt` and
/// `futures::TryFutureExt` have methods of those names, so with `futures::prelude::*`
/// next to `sweet_async::prelude::*` every such call would be ambiguous (error E0034);
/// the names here never clash, and the `futures` methods stay available under theirs.
/// A task's own future, [`TaskFuture`](crate::task::TaskFuture), has `map`, `map_err`,
/// `and_then`, `or_else`, `recover` and `inspect` as inherent methods, so the usual
/// chain `AsyncTask::to::<T>().run(..).map(..).and_then(..)` compiles as written.
///
/// ```
/// use futures::prelude::*;
/// use sweet_async::prelude::*;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let fut = async { Ok::<u32, String>(20) };
/// let labelled = fut
///     .map_value(|n| n * 2)
///     .map_error(|e| format!("lookup failed: {e}"));
/// assert_eq!(labelled.await, Ok(40));
///
/// // The `futures` methods under their own names.
/// let plus_one = async { Ok::<u32, String>(1) }.map_ok(|n| n + 1);
/// assert_eq!(plus_one.now_or_never(), Some(Ok(2)));
/// # }
/// ```
///
/// # Examples
///
/// API data enrichment pipeline: fetch, enrich, add permissions, fall back to a default
/// user, and handle the outcome in one place.
///
/// ```
/// use sweet_async::prelude::*;
///
/// #[derive(Debug, Clone, PartialEq)]
/// struct User {
///     id: u64,
///     name: String,
///     profile: Option<String>,
///     permissions: Vec<&'static str>,
/// }
///
/// impl User {
///     fn named(id: u64, name: &str) -> Self {
///         User { id, name: name.to_string(), profile: None, permissions: vec![] }
///     }
/// }
///
/// #[derive(Debug, PartialEq)]
/// enum DbError {
///     NotFound(u64),
///     Unavailable,
/// }
///
/// async fn fetch_user_from_db(id: u64) -> Result<User, DbError> {
///     match id {
///         1 | 2 => Ok(User::named(id, &format!("user-{id}"))),
///         99 => Err(DbError::Unavailable),
///         _ => Err(DbError::NotFound(id)),
///     }
/// }
///
/// fn enrich_with_profile(mut user: User) -> User {
///     user.profile = Some(format!("{}'s profile", user.name));
///     user
/// }
///
/// async fn add_permissions(mut user: User) -> Result<User, DbError> {
///     user.permissions.push("read");
///     if user.id == 1 {
///         user.permissions.push("admin");
///     }
///     Ok(user)
/// }
///
/// async fn create_default_user() -> Result<User, DbError> {
///     let mut guest = User::named(0, "guest");
///     guest.permissions.push("read");
///     Ok(guest)
/// }
///
/// async fn enriched_user(id: u64) -> User {
///     fetch_user_from_db(id)
///         .map_value(enrich_with_profile)
///         .then_ok(add_permissions)
///         .then_err(|err| async move {
///             match err {
///                 DbError::NotFound(_) => create_default_user().await,
///                 other => Err(other),
///             }
///         })
///         .await_result(|result| match result {
///             Ok(user) => user,
///             Err(_) => User::named(0, "offline"),
///         })
///         .await
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let admin = enriched_user(1).await;
/// assert_eq!(admin.profile.as_deref(), Some("user-1's profile"));
/// assert_eq!(admin.permissions, ["read", "admin"]);
/// assert_eq!(enriched_user(7).await.name, "guest");
/// assert_eq!(enriched_user(99).await.name, "offline");
/// # }
/// ```
///
/// File processing with fallbacks: parse, validate, compress, and try another parser
/// when anything on the way fails.
///
/// ```
/// use sweet_async::prelude::*;
///
/// #[derive(Debug, PartialEq)]
/// struct ProcessedData {
///     records: usize,
///     bytes: usize,
///     parser: &'static str,
/// }
///
/// #[derive(Debug, PartialEq)]
/// enum ParseError {
///     Malformed { line: usize },
///     NotFound,
/// }
///
/// async fn parse_large_file(path: &str) -> Result<Vec<String>, ParseError> {
///     match path {
///         "orders.csv" => Ok(vec!["1,book".into(), String::new(), "2,lamp".into()]),
///         "legacy.csv" => Err(ParseError::Malformed { line: 3 }),
///         _ => Err(ParseError::NotFound),
///     }
/// }
///
/// fn validate_format(rows: Vec<String>) -> Vec<String> {
///     rows.into_iter().filter(|row| !row.is_empty()).collect()
/// }
///
/// async fn compress_data(rows: Vec<String>) -> Result<ProcessedData, ParseError> {
///     let bytes = rows.iter().map(String::len).sum();
///     Ok(ProcessedData { records: rows.len(), bytes, parser: "csv" })
/// }
///
/// async fn try_alternative_parser(path: &str) -> Result<ProcessedData, ParseError> {
///     match path {
///         "legacy.csv" => Ok(ProcessedData { records: 2, bytes: 14, parser: "legacy" }),
///         _ => Err(ParseError::NotFound),
///     }
/// }
///
/// async fn process(path: &str) -> Result<ProcessedData, String> {
///     parse_large_file(path)
///         .map_value(validate_format)
///         .then_ok(compress_data)
///         .then_err(|_| try_alternative_parser(path))
///         .map_error(|e| format!("{path}: {e:?}"))
///         .await
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(
///     process("orders.csv").await,
///     Ok(ProcessedData { records: 2, bytes: 12, parser: "csv" })
/// );
/// assert_eq!(process("legacy.csv").await.map(|d| d.parser), Ok("legacy"));
/// assert_eq!(process("missing.csv").await, Err("missing.csv: NotFound".to_string()));
/// # }
/// ```
#[doc(alias = "AsyncResult")]
pub trait AsyncResultExt: TryFuture + Sized {
    /// Transforms the success value with `f`; an error passes through unchanged and `f`
    /// is not called.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// async fn fetch_price_cents(sku: &str) -> Result<u64, String> {
    ///     match sku {
    ///         "lamp" => Ok(2_499),
    ///         _ => Err(format!("unknown sku {sku}")),
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let euros = fetch_price_cents("lamp").map_value(|cents| cents as f64 / 100.0);
    /// assert_eq!(euros.await, Ok(24.99));
    ///
    /// let missing = fetch_price_cents("sofa").map_value(|cents| cents as f64 / 100.0);
    /// assert_eq!(missing.await, Err("unknown sku sofa".to_string()));
    /// # }
    /// ```
    #[doc(alias = "map")]
    fn map_value<U, F>(self, f: F) -> Map<Self, F>
    where
        F: FnOnce(Self::Ok) -> U,
    {
        Map::new(self, f)
    }

    /// Transforms the error with `f`; a success passes through unchanged and `f` is not
    /// called.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// async fn read_config(path: &str) -> Result<String, std::io::ErrorKind> {
    ///     Err(std::io::ErrorKind::NotFound)
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let config = read_config("app.toml").map_error(|kind| format!("app.toml: {kind}"));
    /// assert_eq!(config.await, Err("app.toml: entity not found".to_string()));
    /// # }
    /// ```
    #[doc(alias = "map_err")]
    fn map_error<E2, F>(self, f: F) -> MapErr<Self, F>
    where
        F: FnOnce(Self::Error) -> E2,
    {
        MapErr::new(self, f)
    }

    /// On success, continues with the future `f` returns for the value; an error passes
    /// through and `f` is not called. The error types of both steps must match (use
    /// [`map_error`](Self::map_error) first when they do not).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// async fn fetch_order(id: u32) -> Result<(u32, u64), String> {
    ///     Ok((id, 4_999))
    /// }
    ///
    /// async fn charge(order: (u32, u64)) -> Result<String, String> {
    ///     Ok(format!("order {} charged {} cents", order.0, order.1))
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let receipt = fetch_order(7).then_ok(charge).await;
    /// assert_eq!(receipt, Ok("order 7 charged 4999 cents".to_string()));
    /// # }
    /// ```
    #[doc(alias = "and_then")]
    fn then_ok<Fut, F>(self, f: F) -> AndThen<Self, Fut, F>
    where
        F: FnOnce(Self::Ok) -> Fut,
        Fut: TryFuture<Error = Self::Error>,
    {
        AndThen::new(self, f)
    }

    /// On error, continues with the future `f` returns for the error, which may succeed
    /// (recovery) or fail with a new error type; a success passes through and `f` is not
    /// called.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// async fn from_primary(key: &str) -> Result<String, String> {
    ///     Err(format!("primary: timeout reading {key}"))
    /// }
    ///
    /// async fn from_replica(key: &str) -> Result<String, String> {
    ///     Ok(format!("{key}=42 (replica)"))
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let value = from_primary("answer").then_err(|_| from_replica("answer")).await;
    /// assert_eq!(value, Ok("answer=42 (replica)".to_string()));
    /// # }
    /// ```
    #[doc(alias = "or_else")]
    fn then_err<Fut, F>(self, f: F) -> OrElse<Self, Fut, F>
    where
        F: FnOnce(Self::Error) -> Fut,
        Fut: TryFuture<Ok = Self::Ok>,
    {
        OrElse::new(self, f)
    }

    /// Ends the chain with a plain value: the success value, or `f(error)` on error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sweet_async::prelude::*;
    ///
    /// async fn fetch_timeout_setting() -> Result<Duration, String> {
    ///     Err("settings service unreachable".into())
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let timeout: Duration = fetch_timeout_setting().recover(|_| 30.seconds()).await;
    /// assert_eq!(timeout, Duration::from_secs(30));
    /// # }
    /// ```
    fn recover<F>(self, f: F) -> Recover<Self, F>
    where
        F: FnOnce(Self::Error) -> Self::Ok,
    {
        Recover::new(self, f)
    }

    /// Lets `f` look at the result, success or error, then passes it on unchanged: for
    /// logging and metrics.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// async fn ping(host: &str) -> Result<u32, String> {
    ///     Err(format!("{host} unreachable"))
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut log = Vec::new();
    /// let rtt = ping("db-1")
    ///     .inspect_result(|result| match result {
    ///         Ok(ms) => log.push(format!("db-1 up, {ms} ms")),
    ///         Err(e) => log.push(format!("db-1 down: {e}")),
    ///     })
    ///     .await;
    /// assert_eq!(rtt, Err("db-1 unreachable".to_string()));
    /// assert_eq!(log, ["db-1 down: db-1 unreachable"]);
    /// # }
    /// ```
    #[doc(alias = "inspect")]
    fn inspect_result<F>(self, f: F) -> Inspect<Self, F>
    where
        F: FnOnce(&Result<Self::Ok, Self::Error>),
    {
        Inspect::new(self, f)
    }
}

impl<F: TryFuture> AsyncResultExt for F {}

/// Lifts a plain value into an AsyncResult (a [`TryFuture`] that is ready at once), so
/// it can start or join a chain of [`AsyncResultExt`] combinators.
///
/// Implemented for `Result<T, E>` (resolves to itself) and `Option<T>` (`None` becomes
/// the error [`MissingValue`]). For a future that cannot fail, use [`lift`].
///
/// # Examples
///
/// ```
/// use sweet_async::prelude::*;
/// use sweet_async::task::async_result::MissingValue;
///
/// async fn load_avatar(user: &str) -> Result<Vec<u8>, MissingValue> {
///     Ok(format!("<png of {user}>").into_bytes())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cached: Option<&str> = None;
/// let user = cached
///     .into_async_result()
///     .then_err(|MissingValue| async { Ok::<_, MissingValue>("ada") })
///     .then_ok(load_avatar)
///     .await;
/// assert_eq!(user, Ok(b"<png of ada>".to_vec()));
///
/// let parsed = "42".parse::<u32>().into_async_result().map_value(|n| n * 2).await;
/// assert_eq!(parsed, Ok(84));
/// # }
/// ```
pub trait IntoAsyncResult {
    /// The success type.
    type Ok;
    /// The error type.
    type Error;
    /// The future it becomes.
    type Future: TryFuture<Ok = Self::Ok, Error = Self::Error>;

    /// Turns `self` into a future that resolves at once to the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    /// use sweet_async::task::async_result::MissingValue;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(Ok::<_, String>(1).into_async_result().await, Ok(1));
    /// assert_eq!(Some("id-7").into_async_result().await, Ok("id-7"));
    /// assert_eq!(None::<&str>.into_async_result().await, Err(MissingValue));
    /// # }
    /// ```
    fn into_async_result(self) -> Self::Future;
}

/// Awaits any future and hands its output to a handler, in one call: the
/// `.await_result(|result| match result { .. })` pattern.
///
/// `fut.await_result(handler).await` equals `handler(fut.await)`; on a fallible future
/// the handler is the place to turn `Ok` and `Err` into one value.
///
/// Implemented for every [`Future`].
pub trait AwaitResult: Future + Sized {
    /// Awaits `self` and returns `handler(output)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// async fn fetch_stock(sku: &str) -> Result<u32, String> {
    ///     match sku {
    ///         "lamp" => Ok(12),
    ///         _ => Err(format!("unknown sku {sku}")),
    ///     }
    /// }
    ///
    /// fn label(result: Result<u32, String>) -> String {
    ///     match result {
    ///         Ok(0) => "sold out".to_string(),
    ///         Ok(n) => format!("{n} in stock"),
    ///         Err(e) => format!("unavailable ({e})"),
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert_eq!(fetch_stock("lamp").await_result(label).await, "12 in stock");
    /// assert_eq!(
    ///     fetch_stock("sofa").await_result(label).await,
    ///     "unavailable (unknown sku sofa)"
    /// );
    ///
    /// // Any future, for example a spawned task's handle.
    /// let handle = tokio::spawn(async { 6 * 7 });
    /// let answer = handle.await_result(|joined| joined.unwrap_or_default()).await;
    /// assert_eq!(answer, 42);
    /// # }
    /// ```
    fn await_result<R, F>(self, handler: F) -> AwaitResultFuture<Self, F>
    where
        F: FnOnce(Self::Output) -> R,
    {
        AwaitResultFuture::new(self, handler)
    }
}

impl<F: Future> AwaitResult for F {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    use futures::future::{FusedFuture, ready};

    #[derive(Debug, PartialEq)]
    enum ParseError {
        Malformed { line: usize },
        NotFound,
    }

    #[derive(Debug, PartialEq)]
    struct Processed {
        records: usize,
        parser: &'static str,
    }

    async fn parse_large_file(path: &str) -> Result<Vec<String>, ParseError> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        match path {
            "orders.csv" => Ok(vec!["1,book".into(), String::new(), "2,lamp".into()]),
            "legacy.csv" => Err(ParseError::Malformed { line: 3 }),
            _ => Err(ParseError::NotFound),
        }
    }

    fn validate_format(rows: Vec<String>) -> Vec<String> {
        rows.into_iter().filter(|row| !row.is_empty()).collect()
    }

    async fn compress_data(rows: Vec<String>) -> Result<Processed, ParseError> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok(Processed {
            records: rows.len(),
            parser: "csv",
        })
    }

    async fn try_alternative_parser(path: &str) -> Result<Processed, ParseError> {
        match path {
            "legacy.csv" => Ok(Processed {
                records: 9,
                parser: "legacy",
            }),
            _ => Err(ParseError::NotFound),
        }
    }

    async fn process(path: &str, fallbacks: &mut Vec<String>) -> Result<Processed, String> {
        parse_large_file(path)
            .map_value(validate_format)
            .then_ok(compress_data)
            .then_err(|e| {
                fallbacks.push(format!("{e:?}"));
                try_alternative_parser(path)
            })
            .map_error(|e| format!("{path}: {e:?}"))
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn file_processing_with_fallbacks() {
        let mut fallbacks = Vec::new();
        let start = tokio::time::Instant::now();
        assert_eq!(
            process("orders.csv", &mut fallbacks).await,
            Ok(Processed {
                records: 2,
                parser: "csv"
            })
        );
        assert_eq!(start.elapsed(), Duration::from_millis(10));
        assert!(fallbacks.is_empty());

        assert_eq!(
            process("legacy.csv", &mut fallbacks).await,
            Ok(Processed {
                records: 9,
                parser: "legacy"
            })
        );
        assert_eq!(fallbacks, ["Malformed { line: 3 }"]);

        assert_eq!(
            process("missing.csv", &mut fallbacks).await,
            Err("missing.csv: NotFound".to_string())
        );
        assert_eq!(fallbacks, ["Malformed { line: 3 }", "NotFound"]);
    }

    #[tokio::test]
    async fn method_calls_next_to_futures_traits() {
        use futures::{FutureExt, TryFutureExt};
        let fut = async { Ok::<u32, String>(20) };
        let out = fut.map_value(|n| n * 2).map_error(|e| e.len());
        assert_eq!(out.await, Ok(40));
        assert_eq!(
            ready(Ok::<u8, ()>(1)).map_ok(|n| n + 1).now_or_never(),
            Some(Ok(2))
        );
    }

    fn assert_send<T: Send>(_: &T) {}
    fn assert_unpin<T: Unpin>(_: &T) {}

    #[test]
    fn combinators_are_send_when_their_parts_are() {
        let ok = || async { Ok::<u32, String>(1) };
        assert_send(&ok().map_value(|n| n + 1));
        assert_send(&ok().map_error(|e| e.len()));
        assert_send(&ok().then_ok(|n| async move { Ok(n) }));
        assert_send(&ok().then_err(|_| async { Ok::<u32, String>(0) }));
        assert_send(&ok().recover(|_| 0));
        assert_send(&ok().inspect_result(|_| {}));
        assert_send(&ok().await_result(|r| r.is_ok()));
        assert_send(&lift(async { 1 }));
        assert_send(&Some(1).into_async_result());
    }

    #[test]
    fn combinators_are_unpin_when_their_futures_are() {
        // The closures capture a non-Unpin value: only the futures need to be Unpin.
        let pinned = std::marker::PhantomPinned;
        let ok = || ready(Ok::<u32, String>(1));
        assert_unpin(&ok().map_value(move |n| {
            let _ = &pinned;
            n
        }));
        assert_unpin(&ok().map_error(|e| e.len()));
        assert_unpin(&ok().then_ok(|n| ready(Ok(n))));
        assert_unpin(&ok().then_err(|_| ready(Ok::<u32, String>(0))));
        assert_unpin(&ok().recover(|_| 0));
        assert_unpin(&ok().inspect_result(|_| {}));
        assert_unpin(&ok().await_result(|r| r.is_ok()));
        assert_unpin(&lift(ready(1)));
    }

    #[test]
    fn polling_after_completion_stays_pending() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut fut = pin!(ready(Ok::<u32, ()>(1)).then_ok(|n| ready(Ok(n + 1))));
        assert!(!fut.is_terminated());
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(2)));
        assert!(fut.is_terminated());
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);

        let mut fut = pin!(ready(Err::<u32, ()>(())).recover(|()| 0));
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(0));
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending);
    }

    #[test]
    fn debug_names_the_combinator() {
        let fut = ready(Ok::<u32, ()>(1)).map_value(|n| n + 1);
        assert_eq!(
            format!("{fut:?}"),
            "Map { inner: Incomplete { future: IntoFuture { future: Ready(Some(Ok(1))) }, .. } }"
        );
    }
}
