//! [`IntoAsyncResult`](super::IntoAsyncResult) for `Result` and `Option`, and the
//! [`MissingValue`] error of a `None`.

use std::error::Error;
use std::fmt;

use futures::future::{Ready, ready};

use super::IntoAsyncResult;

/// The error of an `Option` lifted into an AsyncResult: it was `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MissingValue;

impl fmt::Display for MissingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected a value, found None")
    }
}

impl Error for MissingValue {}

impl<T, E> IntoAsyncResult for Result<T, E> {
    type Ok = T;
    type Error = E;
    type Future = Ready<Result<T, E>>;

    fn into_async_result(self) -> Self::Future {
        ready(self)
    }
}

impl<T> IntoAsyncResult for Option<T> {
    type Ok = T;
    type Error = MissingValue;
    type Future = Ready<Result<T, MissingValue>>;

    fn into_async_result(self) -> Self::Future {
        ready(self.ok_or(MissingValue))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BoxError;
    use crate::task::async_result::AsyncResultExt;

    #[tokio::test]
    async fn result_resolves_to_itself() {
        assert_eq!(Ok::<u8, String>(1).into_async_result().await, Ok(1));
        assert_eq!(
            Err::<u8, _>("bad".to_string()).into_async_result().await,
            Err("bad".to_string())
        );
    }

    #[tokio::test]
    async fn option_none_is_missing_value() {
        assert_eq!(Some(3).into_async_result().await, Ok(3));
        assert_eq!(None::<u8>.into_async_result().await, Err(MissingValue));
        let chained = None::<u8>
            .into_async_result()
            .map_value(|n| n + 1)
            .recover(|MissingValue| 0)
            .await;
        assert_eq!(chained, 0);
    }

    #[test]
    fn missing_value_is_an_error() {
        assert_eq!(MissingValue.to_string(), "expected a value, found None");
        let boxed: BoxError = MissingValue.into();
        assert_eq!(boxed.to_string(), "expected a value, found None");
    }
}
