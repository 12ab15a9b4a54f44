//! [`SizeExt`] and the `const fn`s behind it: numbers of units as numbers of bytes.

use super::sealed;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

/// `n` KiB in bytes (`n * 1024`, saturating); usable in constants. Same value as [`kib`].
///
/// # Examples
///
/// ```
/// const BUFFER: u64 = sweet_async::units::kb(64);
/// assert_eq!(BUFFER, 65_536);
/// ```
pub const fn kb(n: u64) -> u64 {
    n.saturating_mul(KIB)
}

/// `n` MiB in bytes (`n * 1024²`, saturating); usable in constants. Same value as [`mib`].
///
/// # Examples
///
/// ```
/// const STACK: u64 = sweet_async::units::mb(4);
/// assert_eq!(STACK, 4 * 1024 * 1024);
/// ```
pub const fn mb(n: u64) -> u64 {
    n.saturating_mul(MIB)
}

/// `n` GiB in bytes (`n * 1024³`, saturating); usable in constants. Same value as [`gib`].
///
/// # Examples
///
/// ```
/// const MEMORY_LIMIT: u64 = sweet_async::units::gb(8);
/// assert_eq!(MEMORY_LIMIT, 8 * 1024 * 1024 * 1024);
/// ```
pub const fn gb(n: u64) -> u64 {
    n.saturating_mul(GIB)
}

/// `n` TiB in bytes (`n * 1024⁴`, saturating); usable in constants. Same value as [`tib`].
///
/// # Examples
///
/// ```
/// const QUOTA: u64 = sweet_async::units::tb(2);
/// assert_eq!(QUOTA, 2 << 40);
/// ```
pub const fn tb(n: u64) -> u64 {
    n.saturating_mul(TIB)
}

/// `n` KiB in bytes (`n * 1024`, saturating); usable in constants.
///
/// # Examples
///
/// ```
/// assert_eq!(sweet_async::units::kib(1), 1024);
/// ```
pub const fn kib(n: u64) -> u64 {
    kb(n)
}

/// `n` MiB in bytes (`n * 1024²`, saturating); usable in constants.
///
/// # Examples
///
/// ```
/// assert_eq!(sweet_async::units::mib(1), 1_048_576);
/// ```
pub const fn mib(n: u64) -> u64 {
    mb(n)
}

/// `n` GiB in bytes (`n * 1024³`, saturating); usable in constants.
///
/// # Examples
///
/// ```
/// assert_eq!(sweet_async::units::gib(1), 1_073_741_824);
/// ```
pub const fn gib(n: u64) -> u64 {
    gb(n)
}

/// `n` TiB in bytes (`n * 1024⁴`, saturating); usable in constants.
///
/// # Examples
///
/// ```
/// assert_eq!(sweet_async::units::tib(1), 1_099_511_627_776);
/// ```
pub const fn tib(n: u64) -> u64 {
    tb(n)
}

/// Numbers of units as numbers of bytes: `64usize.kb()`, `100u64.mb()`, `8u64.gb()`.
///
/// **All units are 1024-based.** `kb` means KiB (1024 bytes), `mb` MiB (1024² bytes),
/// `gb` GiB, `tb` TiB, as memory and buffer sizes are counted; `kb()` and `kib()` return
/// the same value. There are no 1000-based units here.
///
/// Implemented for `u32`, `u64` and `usize`, where the result has the receiver's type and
/// saturates at its maximum instead of overflowing (`u32::MAX.kb() == u32::MAX`,
/// `1u32.tb() == u32::MAX`), and for `i32`, the type of an unsuffixed literal, where the
/// result is a `u64` (so `4.mb()` and `file_size > 100.mb()` read as written and cannot
/// overflow at 2 GiB; a negative count is zero bytes). Where a `usize` is needed
/// (`vec![0u8; 64usize.kb()]`), suffix the literal.
///
/// # Examples
///
/// Network buffer sizing:
///
/// ```
/// use sweet_async::prelude::*;
///
/// let network_buffer = vec![0u8; 64usize.kb()];
/// let max_packet_size = 1500usize.bytes();
/// let jumbo_frame_size = 9usize.kb();
/// assert_eq!(network_buffer.len(), 65_536);
/// assert!(max_packet_size < jumbo_frame_size);
/// ```
///
/// File size checks:
///
/// ```
/// use sweet_async::prelude::*;
///
/// fn needs_streaming(file_len: u64) -> bool {
///     file_len > 100u64.mb()
/// }
/// assert!(needs_streaming(2u64.gb()));
/// assert!(!needs_streaming(512u64.kb()));
/// ```
pub trait SizeExt: sealed::Sealed + Copy {
    /// The type of the result: the receiver's own type.
    type Output;

    /// The value itself, as a number of bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1500usize.bytes(), 1500);
    /// ```
    fn bytes(self) -> Self::Output;

    /// Kilobytes in bytes, **1024-based** (`n * 1024`, saturating); same as
    /// [`kib`](SizeExt::kib).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(64usize.kb(), 65_536);
    /// assert_eq!(u32::MAX.kb(), u32::MAX);
    /// ```
    fn kb(self) -> Self::Output;

    /// Megabytes in bytes, **1024-based** (`n * 1024²`, saturating); same as
    /// [`mib`](SizeExt::mib).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(4u64.mb(), 4 * 1024 * 1024);
    /// ```
    fn mb(self) -> Self::Output;

    /// Gigabytes in bytes, **1024-based** (`n * 1024³`, saturating); same as
    /// [`gib`](SizeExt::gib).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(8u64.gb(), 8 * 1024 * 1024 * 1024);
    /// assert_eq!(8u32.gb(), u32::MAX);
    /// ```
    fn gb(self) -> Self::Output;

    /// Terabytes in bytes, **1024-based** (`n * 1024⁴`, saturating); same as
    /// [`tib`](SizeExt::tib).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(2u64.tb(), 2 << 40);
    /// assert_eq!(u64::MAX.tb(), u64::MAX);
    /// ```
    fn tb(self) -> Self::Output;

    /// Kibibytes in bytes (`n * 1024`, saturating).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1u64.kib(), 1024);
    /// ```
    fn kib(self) -> Self::Output {
        self.kb()
    }

    /// Mebibytes in bytes (`n * 1024²`, saturating).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1u64.mib(), 1_048_576);
    /// ```
    fn mib(self) -> Self::Output {
        self.mb()
    }

    /// Gibibytes in bytes (`n * 1024³`, saturating).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1u64.gib(), 1_073_741_824);
    /// ```
    fn gib(self) -> Self::Output {
        self.gb()
    }

    /// Tebibytes in bytes (`n * 1024⁴`, saturating).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::prelude::*;
    ///
    /// assert_eq!(1u64.tib(), 1_099_511_627_776);
    /// ```
    fn tib(self) -> Self::Output {
        self.tb()
    }
}

/// Implements [`SizeExt`] with saturating multiplication in the receiver's own type.
///
/// A unit too large for the type becomes the type's maximum: any `n >= 1` times the unit
/// is above the maximum too, so the saturating product is still right.
macro_rules! size_ext {
    ($($t:ty),* $(,)?) => {$(
        impl SizeExt for $t {
            type Output = $t;

            fn bytes(self) -> $t {
                self
            }
            fn kb(self) -> $t {
                self.saturating_mul(<$t>::try_from(KIB).unwrap_or(<$t>::MAX))
            }
            fn mb(self) -> $t {
                self.saturating_mul(<$t>::try_from(MIB).unwrap_or(<$t>::MAX))
            }
            fn gb(self) -> $t {
                self.saturating_mul(<$t>::try_from(GIB).unwrap_or(<$t>::MAX))
            }
            fn tb(self) -> $t {
                self.saturating_mul(<$t>::try_from(TIB).unwrap_or(<$t>::MAX))
            }
        }
    )*};
}

size_ext!(u32, u64, usize);

/// Plain literals (`4.mb()`, `64.kb()`) are `i32`: they count in `u64` bytes so they
/// cannot overflow at 2 GiB; a negative count is zero bytes.
impl SizeExt for i32 {
    type Output = u64;

    fn bytes(self) -> u64 {
        u64::try_from(self).unwrap_or(0)
    }
    fn kb(self) -> u64 {
        kb(self.bytes())
    }
    fn mb(self) -> u64 {
        mb(self.bytes())
    }
    fn gb(self) -> u64 {
        gb(self.bytes())
    }
    fn tb(self) -> u64 {
        tb(self.bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_literals_count_in_u64_bytes() {
        let file_size: u64 = 200 * 1024 * 1024;
        assert!(file_size > 100.mb());
        assert_eq!(4.mb(), 4_194_304u64);
        assert_eq!(3.gb(), 3u64 << 30);
        assert_eq!((-5).kb(), 0u64);
        assert_eq!(i32::MAX.kb(), (i32::MAX as u64) << 10);
        assert_eq!(i32::MAX.tb(), u64::MAX);
    }

    #[test]
    fn size_exact_values() {
        assert_eq!(1500usize.bytes(), 1500);
        assert_eq!(64usize.kb(), 65_536);
        assert_eq!(64u32.kib(), 65_536);
        assert_eq!(4u64.mb(), 4_194_304);
        assert_eq!(4u64.mib(), 4_194_304);
        assert_eq!(8u64.gb(), 8_589_934_592);
        assert_eq!(8usize.gib(), 8_589_934_592);
        assert_eq!(3u64.tb(), 3_298_534_883_328);
        assert_eq!(3u64.tib(), 3_298_534_883_328);
        assert_eq!(3u32.gb(), 3_221_225_472);
    }

    #[test]
    fn size_saturates() {
        assert_eq!(u32::MAX.kb(), u32::MAX);
        assert_eq!(4u32.gb(), u32::MAX);
        assert_eq!(0u32.tb(), 0);
        assert_eq!(1u32.tb(), u32::MAX);
        assert_eq!(u64::MAX.bytes(), u64::MAX);
        assert_eq!((u64::MAX / 1024).kb(), (u64::MAX / 1024) * 1024);
        assert_eq!((u64::MAX / 1024 + 1).kb(), u64::MAX);
        assert_eq!(usize::MAX.tib(), usize::MAX);
    }

    #[test]
    fn const_fns_work_in_constants() {
        const B: u64 = mib(3);
        assert_eq!(B, 3 * 1024 * 1024);
        assert_eq!(kib(2), kb(2));
        assert_eq!(mib(2), mb(2));
        assert_eq!(gib(2), gb(2));
        assert_eq!(tib(2), tb(2));
        assert_eq!(tib(u64::MAX), u64::MAX);
    }

    proptest! {
        #[test]
        fn kb_is_saturating_mul(n in any::<u64>()) {
            prop_assert_eq!(n.kb(), n.saturating_mul(1024));
            prop_assert_eq!(n.kib(), n.saturating_mul(1024));
            prop_assert_eq!(n.mb(), n.saturating_mul(1024 * 1024));
        }

        #[test]
        fn u32_kb_matches_wide_model(n in any::<u32>()) {
            let wide = u64::from(n) * 1024;
            prop_assert_eq!(u64::from(n.kb()), wide.min(u64::from(u32::MAX)));
        }
    }
}
