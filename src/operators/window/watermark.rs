//! Flink's bounded-out-of-orderness watermark: `W = max_timestamp_seen - bound - 1`.

/// Tracks the largest timestamp seen; the watermark promises that no element with a
/// timestamp `<= W` is still expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BoundedOutOfOrderness {
    /// `i64::MIN` before the first element.
    max_timestamp: i64,
    seen: bool,
    bound: i64,
}

impl BoundedOutOfOrderness {
    /// A watermark that trails the largest timestamp by `bound` (validated `>= 0`).
    pub(crate) fn new(bound: i64) -> Self {
        BoundedOutOfOrderness {
            max_timestamp: i64::MIN,
            seen: false,
            bound,
        }
    }

    /// Records an element's timestamp.
    #[inline]
    pub(crate) fn observe(&mut self, timestamp: i64) {
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.seen = true;
    }

    /// The current watermark: `i64::MIN` before the first element (Flink's
    /// `Long.MIN_VALUE`), then `max_timestamp - bound - 1`, saturating.
    #[inline]
    pub(crate) fn current(&self) -> i64 {
        if self.seen {
            self.max_timestamp
                .saturating_sub(self.bound)
                .saturating_sub(1)
        } else {
            i64::MIN
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trails_the_max_by_bound_plus_one() {
        let mut w = BoundedOutOfOrderness::new(2);
        assert_eq!(w.current(), i64::MIN);
        w.observe(6);
        assert_eq!(w.current(), 3);
        w.observe(1);
        assert_eq!(w.current(), 3);
        w.observe(7);
        assert_eq!(w.current(), 4);
        w.observe(i64::MIN);
        assert_eq!(w.current(), 4);
    }
}
