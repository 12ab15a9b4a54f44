//! Units as methods on numbers: `30.seconds()`, `4.mb()`, `1000.rows()`.
//!
//! Three extension traits make settings read like prose:
//!
//! - [`TimeExt`] turns a number into a [`Duration`](std::time::Duration):
//!   `500.millis()`, `30.seconds()`, `1.hour()`, `2.5.seconds()`.
//! - [`SizeExt`] turns a number of units into a number of bytes, **1024-based**:
//!   `64.kb() == 65_536`.
//! - [`CountExt`] tags a number with what it counts: `1000.rows()` is a [`Count`], the
//!   chunk or batch size the operators take, validated to be non-zero before any work
//!   starts. A [`NonZeroUsize`](std::num::NonZeroUsize) is valid by construction: an
//!   operator given one cannot fail ([`CountArg`]).
//!
//! None of them panics or overflows: results saturate at the type's limit
//! (`u64::MAX.days() == Duration::MAX`, `u32::MAX.kb() == u32::MAX`), and negative or NaN
//! inputs give zero.
//!
//! The free `const fn`s ([`seconds`], [`minutes`], [`kib`], ...) compute the same values in
//! constants, where trait methods cannot be called:
//!
//! ```
//! use std::time::Duration;
//! use sweet_async::units;
//!
//! const REQUEST_TIMEOUT: Duration = units::seconds(30);
//! const IDLE_TIMEOUT: Duration = units::minutes(5);
//! const READ_BUFFER: u64 = units::kib(64);
//!
//! assert_eq!(REQUEST_TIMEOUT, Duration::from_secs(30));
//! assert_eq!(IDLE_TIMEOUT, Duration::from_secs(300));
//! assert_eq!(READ_BUFFER, 65_536);
//! ```

mod count;
mod count_arg;
mod size;
mod time;

pub use count::{Count, CountExt};
pub use count_arg::CountArg;
pub use size::{SizeExt, gb, gib, kb, kib, mb, mib, tb, tib};
pub use time::{TimeExt, days, hours, millis, minutes, seconds};

mod sealed {
    /// Keeps the unit traits closed so methods can be added without breaking anyone.
    pub trait Sealed {}

    /// The number behind a [`Count`](super::Count).
    pub trait CountValue: Sealed {
        /// The number as a `usize`: zero when negative, saturating when too large.
        fn count_value(self) -> usize;
    }

    macro_rules! sealed {
        ($($t:ty),*) => {$(impl Sealed for $t {})*};
    }

    sealed!(u8, u16, u32, u64, usize, i32, i64, f64);
    sealed!(std::num::NonZeroUsize, super::Count);
}
