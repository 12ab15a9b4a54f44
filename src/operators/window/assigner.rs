//! Tumbling and sliding window assigners (Flink's `TumblingEventTimeWindows`,
//! `SlidingEventTimeWindows` and their processing-time and count twins).

/// Tumbling windows: fixed size, no overlap, every element in exactly one window.
///
/// A namespace for the constructors; pass the spec to a `*_window` method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tumbling {}

/// Sliding windows: fixed size, a new window every `slide`, an element in every window
/// that covers it (`size / slide` of them, rounded up or down).
///
/// A namespace for the constructors; pass the spec to a `*_window` method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sliding {}

/// A validated window shape in integer time (event-time units or nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Tumbling { size: i64, offset: i64 },
    Sliding { size: i64, slide: i64, offset: i64 },
    Session { gap: i64 },
}

impl Shape {
    /// The most windows one element can belong to.
    pub(crate) fn windows_per_element(&self) -> u64 {
        match *self {
            Shape::Sliding { size, slide, .. } if slide > 0 => {
                size.unsigned_abs().div_ceil(slide.unsigned_abs())
            }
            _ => 1,
        }
    }
}

/// Flink's `TimeWindow.getWindowStartWithOffset`: `t - (t - offset).rem_euclid(size)`,
/// computed without overflow and saturated to `i64`. `size` must be positive.
#[inline]
pub(crate) fn window_start(timestamp: i64, offset: i64, size: i64) -> i64 {
    // Fast path in i64; i128 only where `timestamp - offset - rem` could overflow.
    if let Some(d) = timestamp.checked_sub(offset) {
        if let Some(start) = timestamp.checked_sub(d.rem_euclid(size.max(1))) {
            return start;
        }
    }
    // In i128, differences of i64 values cannot overflow, and `size` is at least 1.
    let t = i128::from(timestamp);
    #[allow(clippy::arithmetic_side_effects)]
    let start = t - (t - i128::from(offset)).rem_euclid(i128::from(size.max(1)));
    saturate(start)
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// The starts of the sliding windows that contain `timestamp`, latest first (Flink's
/// `SlidingEventTimeWindows.assignWindows` order).
pub(crate) fn sliding_starts(
    timestamp: i64,
    size: i64,
    slide: i64,
    offset: i64,
) -> impl Iterator<Item = i64> {
    let lowest = timestamp.saturating_sub(size);
    let mut next = Some(window_start(timestamp, offset, slide));
    std::iter::from_fn(move || {
        let start = next.filter(|s| *s > lowest)?;
        next = start.checked_sub(slide);
        Some(start)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_start_with_offset() {
        assert_eq!(window_start(7, 0, 5), 5);
        assert_eq!(window_start(-1, 0, 5), -5);
        assert_eq!(window_start(7, 2, 5), 7);
        assert_eq!(window_start(6, 2, 5), 2);
        assert_eq!(window_start(i64::MIN, 1, 5), i64::MIN);
    }

    #[test]
    fn sliding_starts_latest_first() {
        let v: Vec<i64> = sliding_starts(7, 10, 4, 0).collect();
        assert_eq!(v, vec![4, 0]);
        let v: Vec<i64> = sliding_starts(8, 10, 4, 0).collect();
        assert_eq!(v, vec![8, 4, 0]);
    }
}
