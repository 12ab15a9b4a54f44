//! Typed errors: [`TaskError`] for a task's outcome, [`ConfigError`] for invalid settings.
//!
//! Both are `#[non_exhaustive]`: match with a wildcard arm so new variants are not a
//! breaking change.
//!
//! Every public error type of this crate implements [`std::error::Error`] + `Send` +
//! `Sync` + `'static` (generic ones whenever their parts do), so `?` converts it into
//! `Box<dyn Error + Send + Sync>` or `anyhow::Error`. [`TaskError<E>`] does so for every
//! work error `E` that is `Debug + Display + Send + Sync + 'static`: the default
//! [`BoxError`], `std::io::Error`, your own types, `String`, `&'static str` and
//! `anyhow::Error` alike.
//!
//! A task's future resolves to a [`TaskResult`](crate::task::TaskResult) (the outcome
//! plus attempts, timing and metrics); for `?`, await
//! [`into_result()`](crate::task::TaskFuture::into_result), which resolves to a plain
//! `Result<T, TaskError<E>>`:
//!
//! ```
//! use sweet_async::prelude::*;
//! use sweet_async::stream::source::of;
//!
//! type Error = Box<dyn std::error::Error + Send + Sync>;
//!
//! async fn load(id: u32) -> Result<u32, BoxError> {
//!     if id == 0 { Err("id 0 does not exist".into()) } else { Ok(id * 10) }
//! }
//!
//! async fn pipeline() -> Result<u32, Error> {
//!     let strategy = ReceiverStrategy::parallel(4)?;              // ConfigError
//!     let value = AsyncTask::to::<u32>()
//!         .retry(2)
//!         .run(|| load(7))
//!         .into_result()
//!         .await?;                                                 // TaskError<BoxError>
//!     let summary = AsyncTask::emits::<u32>()
//!         .sender(of([value]))
//!         .receiver(strategy, |e, _: Collector<(), ()>| async move { Ok::<_, BoxError>(e.data) })
//!         .await_final_event(|summary, _| summary)
//!         .await;
//!     Ok(value + summary.items_out as u32)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(pipeline().await.unwrap(), 71);
//! let err = AsyncTask::to::<u32>().run(|| load(0)).into_result().await.unwrap_err();
//! let boxed: Error = err.into();
//! assert_eq!(boxed.to_string(), "task failed: id 0 does not exist");
//! # }
//! ```
//!
//! The same with `anyhow`, and work errors that are not `Error` types themselves:
//!
//! ```
//! use sweet_async::prelude::*;
//!
//! async fn fetch(key: &str) -> Result<String, String> {
//!     Err(format!("no value for {key}"))
//! }
//!
//! async fn report() -> anyhow::Result<String> {
//!     let name = AsyncTask::to::<String>()
//!         .run(|| async { Ok::<_, anyhow::Error>("ada".to_owned()) })
//!         .into_result()
//!         .await?;                                     // TaskError<anyhow::Error>
//!     let value = AsyncTask::to::<String>()
//!         .run(|| fetch("colour"))
//!         .into_result()
//!         .await?;                                     // TaskError<String>
//!     Ok(format!("{name}: {value}"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let err = report().await.unwrap_err();
//! assert_eq!(err.to_string(), "task failed: no value for colour");
//! # }
//! ```

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A boxed error, the default user error type of a task.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a task did not produce a value.
///
/// `E` is the error type of the user's work; [`TaskError::Failed`] carries it unchanged,
/// and [`Error::source`](std::error::Error::source) walks from wrapper variants to it.
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskError<E = BoxError> {
    /// An attempt did not finish within the task's timeout.
    Timeout {
        /// The configured timeout.
        after: Duration,
    },
    /// The task's absolute deadline passed (retries and waits included).
    DeadlineExceeded,
    /// The task was cancelled before it finished.
    Cancelled {
        /// How it was cancelled.
        level: CancellationLevel,
    },
    /// The user's work panicked; the panic was caught and the process goes on.
    Panicked {
        /// The panic message (`"<non-string panic payload>"` when it was not a string).
        message: String,
    },
    /// The user's work returned an error.
    Failed(E),
    /// Every allowed attempt failed; `last` is the error of the final attempt.
    RetriesExhausted {
        /// Attempts made, the first one included.
        attempts: u32,
        /// The error of the last attempt.
        last: Box<TaskError<E>>,
    },
    /// The circuit breaker guarding this task is open: the work was not attempted.
    CircuitOpen {
        /// The breaker's name.
        breaker: Arc<str>,
        /// Time left until the breaker lets a trial call through.
        retry_after: Duration,
    },
    /// The task needs a tokio runtime and none is running on this thread.
    NoRuntime,
    /// The task was configured with an invalid setting; no work was started.
    Config(ConfigError),
}

impl<E> TaskError<E> {
    /// `true` for [`TaskError::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, TaskError::Timeout { .. })
    }

    /// `true` for [`TaskError::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled { .. })
    }

    /// `true` for [`TaskError::Panicked`].
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked { .. })
    }

    /// The user's error, if this is (or wraps, after retries) [`TaskError::Failed`].
    pub fn user_error(&self) -> Option<&E> {
        match self {
            TaskError::Failed(e) => Some(e),
            TaskError::RetriesExhausted { last, .. } => last.user_error(),
            _ => None,
        }
    }

    /// Consumes the error and returns the user's error if there is one.
    pub fn into_user_error(self) -> Option<E> {
        match self {
            TaskError::Failed(e) => Some(e),
            TaskError::RetriesExhausted { last, .. } => last.into_user_error(),
            _ => None,
        }
    }

    /// Maps the user's error type (inside retries too), keeping every other variant.
    pub fn map_user_error<F, E2>(self, mut f: F) -> TaskError<E2>
    where
        F: FnMut(E) -> E2,
    {
        self.map_user_error_mut(&mut f)
    }

    fn map_user_error_mut<F, E2>(self, f: &mut F) -> TaskError<E2>
    where
        F: FnMut(E) -> E2,
    {
        match self {
            TaskError::Timeout { after } => TaskError::Timeout { after },
            TaskError::DeadlineExceeded => TaskError::DeadlineExceeded,
            TaskError::Cancelled { level } => TaskError::Cancelled { level },
            TaskError::Panicked { message } => TaskError::Panicked { message },
            TaskError::Failed(e) => TaskError::Failed(f(e)),
            TaskError::RetriesExhausted { attempts, last } => TaskError::RetriesExhausted {
                attempts,
                last: Box::new(last.map_user_error_mut(f)),
            },
            TaskError::CircuitOpen {
                breaker,
                retry_after,
            } => TaskError::CircuitOpen {
                breaker,
                retry_after,
            },
            TaskError::NoRuntime => TaskError::NoRuntime,
            TaskError::Config(c) => TaskError::Config(c),
        }
    }
}

impl<E: fmt::Display> fmt::Display for TaskError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Timeout { after } => write!(f, "task timed out after {after:?}"),
            TaskError::DeadlineExceeded => f.write_str("task deadline exceeded"),
            TaskError::Cancelled { level } => write!(f, "task cancelled ({level})"),
            TaskError::Panicked { message } => write!(f, "task panicked: {message}"),
            TaskError::Failed(e) => write!(f, "task failed: {e}"),
            TaskError::RetriesExhausted { attempts, last } => {
                write!(f, "task failed after {attempts} attempts: {last}")
            }
            TaskError::CircuitOpen {
                breaker,
                retry_after,
            } => write!(
                f,
                "circuit breaker `{breaker}` is open (retry after {retry_after:?})"
            ),
            TaskError::NoRuntime => f.write_str("no tokio runtime is running on this thread"),
            TaskError::Config(c) => write!(f, "invalid task configuration: {c}"),
        }
    }
}

/// `TaskError<E>` is an [`Error`](std::error::Error) for every work error a task can have
/// (anything `Debug + Display`: [`BoxError`], `std::io::Error`, your own error types,
/// `String`, `&'static str`, `anyhow::Error`), so `?` converts it into
/// `Box<dyn Error + Send + Sync>` or `anyhow::Error` whatever `E` is.
///
/// [`source`](std::error::Error::source) walks from [`RetriesExhausted`](TaskError::RetriesExhausted)
/// to the last attempt's error and from [`Config`](TaskError::Config) to the
/// [`ConfigError`]. From [`Failed`](TaskError::Failed) it reaches the work error when that
/// is a boxed error ([`BoxError`], `Box<dyn Error + Send>`, `Box<dyn Error>`) or a
/// `std::io::Error`; other work errors are named in the message, and
/// [`user_error`](TaskError::user_error) hands them over typed.
impl<E> StdError for TaskError<E>
where
    E: fmt::Debug + fmt::Display + 'static,
{
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            TaskError::Failed(e) => work_error_source(e),
            TaskError::RetriesExhausted { last, .. } => Some(last.as_ref()),
            TaskError::Config(c) => Some(c),
            _ => None,
        }
    }
}

/// The work error as an `Error` trait object, for the types that can be seen as one
/// without knowing `E` is an `Error` (boxed errors and `io::Error`).
pub(crate) fn work_error_source<E: 'static>(e: &E) -> Option<&(dyn StdError + 'static)> {
    let any: &dyn Any = e;
    if let Some(b) = any.downcast_ref::<BoxError>() {
        return Some(&**b);
    }
    if let Some(b) = any.downcast_ref::<Box<dyn StdError + Send + 'static>>() {
        return Some(&**b);
    }
    if let Some(b) = any.downcast_ref::<Box<dyn StdError + 'static>>() {
        return Some(&**b);
    }
    if let Some(io) = any.downcast_ref::<std::io::Error>() {
        return Some(io);
    }
    None
}

impl<E> From<ConfigError> for TaskError<E> {
    fn from(e: ConfigError) -> Self {
        TaskError::Config(e)
    }
}

/// An invalid setting, reported before any work starts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A duration that must be positive was zero.
    ZeroDuration {
        /// The setting, e.g. `"timeout"`.
        setting: &'static str,
    },
    /// A size or count that must be positive was zero.
    Zero {
        /// The setting, e.g. `"chunk size"`.
        setting: &'static str,
    },
    /// A number outside its allowed range.
    OutOfRange {
        /// The setting, e.g. `"retry count"`.
        setting: &'static str,
        /// The value given.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// A value that is invalid for another reason.
    Invalid {
        /// The setting.
        setting: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// Two settings that cannot be used together.
    Conflict {
        /// What conflicts with what.
        reason: String,
    },
}

impl ConfigError {
    /// Checks that `value` lies in `min..=max`.
    pub(crate) fn check_range(
        setting: &'static str,
        value: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::OutOfRange {
                setting,
                value,
                min,
                max,
            })
        }
    }

    /// Checks that `d` is not zero.
    pub(crate) fn check_duration(
        setting: &'static str,
        d: Duration,
    ) -> Result<Duration, ConfigError> {
        if d.is_zero() {
            Err(ConfigError::ZeroDuration { setting })
        } else {
            Ok(d)
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroDuration { setting } => {
                write!(f, "{setting} must be longer than zero")
            }
            ConfigError::Zero { setting } => write!(f, "{setting} must be at least 1"),
            ConfigError::OutOfRange {
                setting,
                value,
                min,
                max,
            } => write!(f, "{setting} is {value}, allowed range is {min}..={max}"),
            ConfigError::Invalid { setting, reason } => write!(f, "invalid {setting}: {reason}"),
            ConfigError::Conflict { reason } => write!(f, "conflicting settings: {reason}"),
        }
    }
}

impl StdError for ConfigError {}

/// How hard to stop a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CancellationLevel {
    /// Stop the work at its next `.await`, then run the `on_cancel` cleanup, bounded by
    /// the task's grace period.
    Graceful,
    /// Stop the work at its next `.await`; no cleanup.
    Kill,
    /// Abort the spawned tokio task outright; no cleanup. On a task that is not spawned
    /// this is the same as [`Kill`](CancellationLevel::Kill).
    KillHard,
}

impl CancellationLevel {
    pub(crate) const fn to_u8(self) -> u8 {
        match self {
            CancellationLevel::Graceful => 1,
            CancellationLevel::Kill => 2,
            CancellationLevel::KillHard => 3,
        }
    }

    pub(crate) const fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(CancellationLevel::Graceful),
            2 => Some(CancellationLevel::Kill),
            3 => Some(CancellationLevel::KillHard),
            _ => None,
        }
    }
}

impl fmt::Display for CancellationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CancellationLevel::Graceful => "graceful",
            CancellationLevel::Kill => "kill",
            CancellationLevel::KillHard => "kill-hard",
        })
    }
}

/// The message of a caught panic payload: the `&str` or `String` it was raised with.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-string panic payload>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[derive(Debug)]
    struct Io;
    impl fmt::Display for Io {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("disk on fire")
        }
    }
    impl Error for Io {}

    #[test]
    fn source_chain_reaches_the_last_attempt() {
        let err: TaskError<Io> = TaskError::RetriesExhausted {
            attempts: 3,
            last: Box::new(TaskError::Failed(Io)),
        };
        assert_eq!(
            err.to_string(),
            "task failed after 3 attempts: task failed: disk on fire"
        );
        let first = err.source().unwrap();
        assert_eq!(first.to_string(), "task failed: disk on fire");
        // A concrete work error is named in the message and handed over typed.
        assert!(first.source().is_none());
        assert!(err.user_error().is_some());
    }

    #[test]
    fn source_reaches_boxed_and_io_work_errors() {
        let boxed: TaskError = TaskError::Failed(Box::new(Io));
        assert_eq!(boxed.source().unwrap().to_string(), "disk on fire");
        let io: TaskError<std::io::Error> =
            TaskError::Failed(std::io::Error::other("disk on fire"));
        assert_eq!(io.source().unwrap().to_string(), "disk on fire");
        let text: TaskError<&str> = TaskError::Failed("bad row");
        assert!(text.source().is_none());
        assert_eq!(text.to_string(), "task failed: bad row");
    }

    fn is_error<E: Error + Send + Sync + 'static>(_: &E) {}

    #[test]
    fn every_work_error_type_makes_an_error() {
        is_error(&TaskError::<BoxError>::DeadlineExceeded);
        is_error(&TaskError::<String>::DeadlineExceeded);
        is_error(&TaskError::<&'static str>::DeadlineExceeded);
        is_error(&TaskError::<Io>::DeadlineExceeded);
        is_error(&TaskError::<std::convert::Infallible>::DeadlineExceeded);
        let boxed: Box<dyn Error + Send + Sync> = Box::new(TaskError::<BoxError>::NoRuntime);
        assert_eq!(
            boxed.to_string(),
            "no tokio runtime is running on this thread"
        );
    }

    #[test]
    fn config_error_messages() {
        assert_eq!(
            ConfigError::check_range("retry count", 11, 0, 10)
                .unwrap_err()
                .to_string(),
            "retry count is 11, allowed range is 0..=10"
        );
        assert_eq!(
            ConfigError::check_duration("timeout", Duration::ZERO)
                .unwrap_err()
                .to_string(),
            "timeout must be longer than zero"
        );
        let te: TaskError<Io> = ConfigError::Zero { setting: "workers" }.into();
        assert_eq!(
            te.to_string(),
            "invalid task configuration: workers must be at least 1"
        );
    }

    #[test]
    fn map_user_error_keeps_structure() {
        let err: TaskError<Io> = TaskError::RetriesExhausted {
            attempts: 2,
            last: Box::new(TaskError::Failed(Io)),
        };
        let mapped: TaskError<String> = err.map_user_error(|e| e.to_string());
        assert_eq!(
            mapped.user_error().map(String::as_str),
            Some("disk on fire")
        );
    }
}
