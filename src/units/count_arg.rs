//! [`CountArg`]: a count setting whose type says whether the operator taking it can fail.

use std::num::NonZeroUsize;

use super::{Count, sealed};
use crate::error::ConfigError;

/// A count passed to an operator (a chunk size, a concurrency, a progress interval). Its
/// type decides what the operator returns:
///
/// | argument | the operator returns |
/// |---|---|
/// | [`NonZeroUsize`]: valid by construction | the stream itself |
/// | `usize` or [`Count`] (`1000.rows()`): may be zero | `Result<stream, ConfigError>` |
///
/// So a pipeline whose counts are `NonZeroUsize` constants (checked by the compiler) needs
/// no `?` for them, and a count read at run time is still checked before any work
/// starts: zero is a [`ConfigError::Zero`] naming the setting, never a panic.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use futures::{StreamExt, stream};
/// use sweet_async::prelude::*;
///
/// // A constant: the compiler checks that it is not zero.
/// const BATCH: NonZeroUsize = NonZeroUsize::new(2).unwrap();
///
/// # futures::executor::block_on(async {
/// let batches: Vec<Vec<u32>> = stream::iter(1..=5).chunked(BATCH).collect().await;
/// assert_eq!(batches, [vec![1, 2], vec![3, 4], vec![5]]);
///
/// // A size from a configuration file may be zero: that one is checked.
/// let from_config: usize = 0;
/// let checked = stream::iter(1..=5).chunked(from_config);
/// assert_eq!(checked.err(), Some(ConfigError::Zero { setting: "chunk size" }));
/// # });
/// ```
pub trait CountArg: sealed::Sealed + Sized {
    /// What an operator taking this count returns when it would build a `T`: `T` itself,
    /// or `Result<T, ConfigError>` when the count may be zero.
    type Built<T>;

    /// Builds `T` from the count, or the [`ConfigError::Zero`] naming `setting`.
    #[doc(hidden)]
    fn build<T>(
        self,
        setting: &'static str,
        make: impl FnOnce(NonZeroUsize) -> T,
    ) -> Self::Built<T>;
}

impl CountArg for NonZeroUsize {
    type Built<T> = T;

    fn build<T>(
        self,
        _setting: &'static str,
        make: impl FnOnce(NonZeroUsize) -> T,
    ) -> Self::Built<T> {
        make(self)
    }
}

/// The counts that may be zero: checked, so their operators return a `Result`.
macro_rules! checked {
    ($($t:ty),*) => {$(
        impl CountArg for $t {
            type Built<T> = Result<T, ConfigError>;

            fn build<T>(
                self,
                setting: &'static str,
                make: impl FnOnce(NonZeroUsize) -> T,
            ) -> Self::Built<T> {
                Ok(make(Count::from(self).validate(setting)?))
            }
        }
    )*};
}

checked!(usize, Count);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::CountExt;

    #[test]
    fn a_non_zero_count_builds_without_a_result() {
        let n = NonZeroUsize::MIN.saturating_add(6);
        let built: usize = n.build("chunk size", NonZeroUsize::get);
        assert_eq!(built, 7);
    }

    #[test]
    fn counts_that_may_be_zero_are_checked() {
        assert_eq!(3.rows().build("chunk size", NonZeroUsize::get), Ok(3));
        assert_eq!(5usize.build("chunk size", NonZeroUsize::get), Ok(5));
        assert_eq!(
            0.rows().build("chunk size", NonZeroUsize::get),
            Err(ConfigError::Zero {
                setting: "chunk size"
            })
        );
        assert_eq!(
            0usize.build("progress interval", NonZeroUsize::get),
            Err(ConfigError::Zero {
                setting: "progress interval"
            })
        );
    }
}
