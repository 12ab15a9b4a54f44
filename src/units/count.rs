//! [`Count`] and [`CountExt`]: numbers tagged with what they count.

use std::fmt;
use std::num::NonZeroUsize;

use super::sealed;
use crate::error::ConfigError;

/// A number of things, tagged with what they are: `1000.rows()`, `50.messages()`.
///
/// The chunk, batch and buffer sizes of the operators take `impl Into<Count>`, so a plain
/// `usize` works too (counted as `"items"`). A count of zero is representable (it comes
/// from `0.rows()` or a negative literal) and rejected by [`Count::validate`] with a
/// [`ConfigError::Zero`] before any work starts.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use sweet_async::prelude::*;
///
/// let chunk = 1000.rows();
/// assert_eq!(chunk.get(), 1000);
/// assert_eq!(chunk.to_string(), "1000 rows");
/// assert_eq!(chunk.validate("chunk size"), Ok(NonZeroUsize::new(1000).unwrap()));
/// assert_eq!(
///     0.rows().validate("chunk size"),
///     Err(ConfigError::Zero { setting: "chunk size" })
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Count {
    n: usize,
    unit: &'static str,
}

impl Count {
    /// A count of `n` things called `unit` (plural, e.g. `"rows"`).
    pub const fn new(n: usize, unit: &'static str) -> Self {
        Count { n, unit }
    }

    /// The number.
    pub const fn get(self) -> usize {
        self.n
    }

    /// What is counted (plural, e.g. `"rows"`).
    pub const fn unit(self) -> &'static str {
        self.unit
    }

    /// The count as a [`NonZeroUsize`], or [`ConfigError::Zero`] naming `setting` when it
    /// is zero.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] when the count is zero.
    pub fn validate(self, setting: &'static str) -> Result<NonZeroUsize, ConfigError> {
        NonZeroUsize::new(self.n).ok_or(ConfigError::Zero { setting })
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // "1 row", "2 rows": the units are plurals ending in 's'.
        let unit = match (self.n, self.unit.strip_suffix('s')) {
            (1, Some(singular)) => singular,
            _ => self.unit,
        };
        write!(f, "{} {unit}", self.n)
    }
}

impl TryFrom<Count> for NonZeroUsize {
    type Error = ConfigError;

    fn try_from(count: Count) -> Result<Self, ConfigError> {
        count.validate("count")
    }
}

impl From<NonZeroUsize> for Count {
    fn from(n: NonZeroUsize) -> Self {
        Count::new(n.get(), "items")
    }
}

impl From<usize> for Count {
    fn from(n: usize) -> Self {
        Count::new(n, "items")
    }
}

/// Numbers as counts of things: `1000.rows()`, `500.events()`, `64.messages()`.
///
/// Implemented for `u32`, `u64`, `usize` and `i32` (so an unsuffixed literal works). A
/// negative `i32` gives a count of zero, and a `u64` above `usize::MAX` saturates; both
/// are caught by [`Count::validate`] or by the setting that takes the count.
///
/// # Examples
///
/// ```
/// use sweet_async::prelude::*;
///
/// fn chunk_size(size: impl Into<Count>) -> Result<usize, ConfigError> {
///     Ok(size.into().validate("chunk size")?.get())
/// }
///
/// assert_eq!(chunk_size(1000.rows()), Ok(1000));
/// assert_eq!(chunk_size(250), Ok(250));
/// assert!(chunk_size((-1).rows()).is_err());
/// ```
pub trait CountExt: sealed::CountValue + Copy {
    /// This many rows (of a table or CSV file).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1000.rows().to_string(), "1000 rows");
    /// ```
    fn rows(self) -> Count {
        Count::new(self.count_value(), "rows")
    }

    /// This many items.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(64.items().get(), 64);
    /// ```
    fn items(self) -> Count {
        Count::new(self.count_value(), "items")
    }

    /// This many lines (of a text file).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1.lines().to_string(), "1 line");
    /// ```
    fn lines(self) -> Count {
        Count::new(self.count_value(), "lines")
    }

    /// This many records.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(500u64.records().unit(), "records");
    /// ```
    fn records(self) -> Count {
        Count::new(self.count_value(), "records")
    }

    /// This many events.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(100usize.events().get(), 100);
    /// ```
    fn events(self) -> Count {
        Count::new(self.count_value(), "events")
    }

    /// This many messages.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(32u32.messages().to_string(), "32 messages");
    /// ```
    fn messages(self) -> Count {
        Count::new(self.count_value(), "messages")
    }
}

impl CountExt for u32 {}
impl CountExt for u64 {}
impl CountExt for usize {}
impl CountExt for i32 {}

impl sealed::CountValue for u32 {
    fn count_value(self) -> usize {
        usize::try_from(self).unwrap_or(usize::MAX)
    }
}

impl sealed::CountValue for u64 {
    fn count_value(self) -> usize {
        usize::try_from(self).unwrap_or(usize::MAX)
    }
}

impl sealed::CountValue for usize {
    fn count_value(self) -> usize {
        self
    }
}

impl sealed::CountValue for i32 {
    fn count_value(self) -> usize {
        usize::try_from(self).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        let c = 1000.rows();
        assert_eq!((c.get(), c.unit()), (1000, "rows"));
        assert_eq!(c.to_string(), "1000 rows");
        assert_eq!(1.rows().to_string(), "1 row");
        assert_eq!(0.rows().to_string(), "0 rows");
        assert_eq!(2u32.items().to_string(), "2 items");
        assert_eq!(3u64.lines().to_string(), "3 lines");
        assert_eq!(4usize.records().to_string(), "4 records");
        assert_eq!(5.events().to_string(), "5 events");
        assert_eq!(6.messages().to_string(), "6 messages");
        assert_eq!((-7).rows().get(), 0);
        assert_eq!(u64::MAX.rows().get(), usize::MAX);
    }

    #[test]
    fn count_validation() {
        assert_eq!(
            1000.rows().validate("chunk size"),
            Ok(NonZeroUsize::new(1000).unwrap())
        );
        assert_eq!(
            0.rows().validate("chunk size"),
            Err(ConfigError::Zero {
                setting: "chunk size"
            })
        );
        assert_eq!(
            (-3).items().validate("batch"),
            Err(ConfigError::Zero { setting: "batch" })
        );
        assert_eq!(
            NonZeroUsize::try_from(0.rows()),
            Err(ConfigError::Zero { setting: "count" })
        );
        assert_eq!(
            NonZeroUsize::try_from(8.lines()),
            Ok(NonZeroUsize::new(8).unwrap())
        );
    }

    #[test]
    fn count_conversions() {
        fn take(c: impl Into<Count>) -> Count {
            c.into()
        }
        assert_eq!(take(1000), Count::new(1000, "items"));
        assert_eq!(take(12.rows()), Count::new(12, "rows"));
        assert_eq!(take(NonZeroUsize::new(3).unwrap()), 3.items());
    }
}
