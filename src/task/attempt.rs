//! One attempt of a piece of work, panics caught: the call that makes its future and
//! each poll of that future. Shared by tasks, the orchestra's plain attempts and
//! `retry_each`, so a panic becomes [`TaskError::Panicked`] the same way everywhere.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Poll;

use crate::error::{TaskError, panic_message};

/// Runs user code `f` (the call that makes an attempt's future, a fallback, a cleanup, or
/// one poll of theirs); a panic becomes [`TaskError::Panicked`].
#[inline]
pub(crate) fn caught<R, E>(f: impl FnOnce() -> R) -> Result<R, TaskError<E>> {
    catch_unwind(AssertUnwindSafe(f)).map_err(panicked)
}

/// Polls an attempt with `poll`: its error becomes [`TaskError::Failed`], a panic
/// [`TaskError::Panicked`].
#[inline]
pub(crate) fn poll_caught<T, E>(
    poll: impl FnOnce() -> Poll<Result<T, E>>,
) -> Poll<Result<T, TaskError<E>>> {
    match catch_unwind(AssertUnwindSafe(poll)) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(out)) => Poll::Ready(out.map_err(TaskError::Failed)),
        Err(payload) => Poll::Ready(Err(panicked(payload))),
    }
}

/// The error of a caught panic (kept out of the hot loops).
#[cold]
#[inline(never)]
pub(crate) fn panicked<E>(payload: Box<dyn Any + Send>) -> TaskError<E> {
    TaskError::Panicked {
        message: panic_message(&*payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_and_errors_become_task_errors() {
        let called: Result<u8, TaskError<&str>> = caught(|| 3);
        assert!(matches!(called, Ok(3)));
        let called: Result<u8, TaskError<&str>> = caught(|| panic!("in call"));
        assert!(matches!(called, Err(TaskError::Panicked { message }) if message == "in call"));
        assert!(matches!(
            poll_caught(|| Poll::Ready(Err::<u8, _>("bad"))),
            Poll::Ready(Err(TaskError::Failed("bad")))
        ));
        let boom = poll_caught::<u8, &str>(|| panic!("in poll {}", 1));
        assert!(
            matches!(boom, Poll::Ready(Err(TaskError::Panicked { message })) if message == "in poll 1")
        );
        assert!(poll_caught::<u8, &str>(|| Poll::Pending).is_pending());
    }
}
