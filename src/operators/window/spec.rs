//! Window specifications: what the `*_window` methods take, validated when the stream is
//! built.

use std::marker::PhantomData;
use std::time::Duration;

use super::assigner::{Shape, Sliding, Tumbling};
use crate::error::ConfigError;
use crate::units::Count;

/// The default bound on open windows (all keys together): past it, the window with the
/// smallest end fires early as [`FireReason::Evicted`](super::FireReason::Evicted).
pub const DEFAULT_MAX_OPEN_WINDOWS: usize = 65_536;

/// The default bound on the elements all open windows together hold, for aggregates that
/// keep their elements ([`Contents`](super::Contents), the default): past it, the window
/// with the smallest end fires early as [`FireReason::Full`](super::FireReason::Full) once
/// they hold that many.
/// 16 Mi elements: generous for a window's contents, and a watermark that never advances
/// (a stalled source, a bad timestamp far in the future) cannot grow memory forever.
/// Set it with `max_held_elements` on the spec; folds and reduces are not bounded by it
/// (their accumulators do not grow).
pub const DEFAULT_MAX_HELD_ELEMENTS: u64 = 1 << 24;

/// The most windows one element may belong to (`ceil(size / slide)` of a sliding window),
/// whatever [`max_open_windows`](EventTimeSpec::max_open_windows) allows: each element is
/// added to each of its windows, so a sliding window of size `i64::MAX` and slide 1 would
/// cost 2^63 steps per element, a hang no timeout can interrupt. A spec beyond it is a
/// [`ConfigError::OutOfRange`] (setting `"windows per element"`).
pub const MAX_WINDOWS_PER_ELEMENT: u64 = 1 << 20;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Tumbling {}
    impl Sealed for super::Sliding {}
}

/// Window shapes whose windows never merge (tumbling and sliding), so a `fold` needs no
/// merge function. Sessions use `fold_windows_with_merge` or `reduce_windows`.
pub trait NonMerging: sealed::Sealed {}
impl NonMerging for Tumbling {}
impl NonMerging for Sliding {}

impl Tumbling {
    /// Event-time windows `[start, start + size)` with `start` a multiple of `size` (plus
    /// the offset), in the unit of your timestamps.
    pub fn event_time(size: i64) -> EventTimeSpec<Tumbling> {
        EventTimeSpec::new(Shape::Tumbling { size, offset: 0 })
    }

    /// Processing-time windows of `size` on the tokio clock, aligned to the instant the
    /// stream is first polled (plus the offset).
    pub fn processing_time(size: Duration) -> ProcessingTimeSpec<Tumbling> {
        ProcessingTimeSpec::new(Shape::Tumbling {
            size: duration_nanos(size),
            offset: 0,
        })
    }

    /// Count windows of `size` elements (per key); the last one may be partial.
    pub fn count(size: impl Into<Count>) -> CountSpec {
        let size = size.into();
        CountSpec::new(size, size)
    }
}

impl Sliding {
    /// Event-time windows of `size` starting every `slide` (plus the offset).
    pub fn event_time(size: i64, slide: i64) -> EventTimeSpec<Sliding> {
        EventTimeSpec::new(Shape::Sliding {
            size,
            slide,
            offset: 0,
        })
    }

    /// Processing-time windows of `size` starting every `slide` on the tokio clock.
    pub fn processing_time(size: Duration, slide: Duration) -> ProcessingTimeSpec<Sliding> {
        ProcessingTimeSpec::new(Shape::Sliding {
            size: duration_nanos(size),
            slide: duration_nanos(slide),
            offset: 0,
        })
    }

    /// Count windows: every `slide` elements (per key), a window over the last `size`.
    pub fn count(size: impl Into<Count>, slide: impl Into<Count>) -> CountSpec {
        CountSpec::new(size.into(), slide.into())
    }
}

/// An event-time window specification, built by [`Tumbling::event_time`],
/// [`Sliding::event_time`] or [`Session::event_time`](super::Session::event_time).
///
/// All durations are `i64` in the unit of your timestamps. Defaults: no out-of-orderness,
/// no allowed lateness, [`DEFAULT_MAX_OPEN_WINDOWS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a window spec does nothing until passed to a window method"]
pub struct EventTimeSpec<A> {
    shape: Shape,
    out_of_orderness: i64,
    allowed_lateness: i64,
    max_open_windows: usize,
    max_held_elements: u64,
    _shape: PhantomData<fn() -> A>,
}

impl<A> EventTimeSpec<A> {
    pub(crate) fn new(shape: Shape) -> Self {
        EventTimeSpec {
            shape,
            out_of_orderness: 0,
            allowed_lateness: 0,
            max_open_windows: DEFAULT_MAX_OPEN_WINDOWS,
            max_held_elements: DEFAULT_MAX_HELD_ELEMENTS,
            _shape: PhantomData,
        }
    }

    /// How far behind the largest timestamp seen an element may still arrive in order: the
    /// watermark is `max_timestamp - bound - 1` (Flink's `forBoundedOutOfOrderness`).
    pub fn out_of_orderness(mut self, bound: i64) -> Self {
        self.out_of_orderness = bound;
        self
    }

    /// How long after the watermark passed a window its elements are still accepted: each
    /// one re-fires the window as an update. Later elements go to the late output.
    pub fn allowed_lateness(mut self, lateness: i64) -> Self {
        self.allowed_lateness = lateness;
        self
    }

    /// The most windows open at once (all keys together); see
    /// [`DEFAULT_MAX_OPEN_WINDOWS`].
    pub fn max_open_windows(mut self, max: usize) -> Self {
        self.max_open_windows = max;
        self
    }

    /// The most elements all open windows together hold when the aggregate keeps them
    /// (the default contents); see [`DEFAULT_MAX_HELD_ELEMENTS`].
    pub fn max_held_elements(mut self, max: u64) -> Self {
        self.max_held_elements = max;
        self
    }

    pub(crate) fn validate(&self) -> Result<TimeConfig, ConfigError> {
        let shape = validate_shape(self.shape, Domain::EventTime)?;
        non_negative("out-of-orderness", self.out_of_orderness)?;
        non_negative("allowed lateness", self.allowed_lateness)?;
        Ok(TimeConfig {
            shape,
            out_of_orderness: self.out_of_orderness,
            allowed_lateness: self.allowed_lateness,
            max_open_windows: validate_max_open(self.max_open_windows, &shape)?,
            max_held_elements: validate_max_held(self.max_held_elements)?,
        })
    }
}

impl EventTimeSpec<Tumbling> {
    /// Shifts the window starts: `start = t - (t - offset).rem_euclid(size)`
    /// (`|offset| < size`, as in Flink), e.g. to align hourly windows to a time zone.
    pub fn offset(mut self, offset: i64) -> Self {
        if let Shape::Tumbling { offset: o, .. } = &mut self.shape {
            *o = offset;
        }
        self
    }
}

impl EventTimeSpec<Sliding> {
    /// Shifts the window starts by `offset` (`|offset| < slide`, as in Flink).
    pub fn offset(mut self, offset: i64) -> Self {
        if let Shape::Sliding { offset: o, .. } = &mut self.shape {
            *o = offset;
        }
        self
    }
}

/// A processing-time window specification, built by [`Tumbling::processing_time`],
/// [`Sliding::processing_time`] or [`Session::processing_time`](super::Session::processing_time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a window spec does nothing until passed to a window method"]
pub struct ProcessingTimeSpec<A> {
    shape: Shape,
    max_open_windows: usize,
    max_held_elements: u64,
    _shape: PhantomData<fn() -> A>,
}

impl<A> ProcessingTimeSpec<A> {
    pub(crate) fn new(shape: Shape) -> Self {
        ProcessingTimeSpec {
            shape,
            max_open_windows: DEFAULT_MAX_OPEN_WINDOWS,
            max_held_elements: DEFAULT_MAX_HELD_ELEMENTS,
            _shape: PhantomData,
        }
    }

    /// The most windows open at once (all keys together); see
    /// [`DEFAULT_MAX_OPEN_WINDOWS`].
    pub fn max_open_windows(mut self, max: usize) -> Self {
        self.max_open_windows = max;
        self
    }

    /// The most elements all open windows together hold when the aggregate keeps them
    /// (the default contents); see [`DEFAULT_MAX_HELD_ELEMENTS`].
    pub fn max_held_elements(mut self, max: u64) -> Self {
        self.max_held_elements = max;
        self
    }

    pub(crate) fn validate(&self) -> Result<TimeConfig, ConfigError> {
        let shape = validate_shape(self.shape, Domain::ProcessingTime)?;
        Ok(TimeConfig {
            shape,
            out_of_orderness: 0,
            allowed_lateness: 0,
            max_open_windows: validate_max_open(self.max_open_windows, &shape)?,
            max_held_elements: validate_max_held(self.max_held_elements)?,
        })
    }
}

impl ProcessingTimeSpec<Tumbling> {
    /// Shifts the window starts by `offset` (`offset < size`).
    pub fn offset(mut self, offset: Duration) -> Self {
        if let Shape::Tumbling { offset: o, .. } = &mut self.shape {
            *o = duration_nanos(offset);
        }
        self
    }
}

impl ProcessingTimeSpec<Sliding> {
    /// Shifts the window starts by `offset` (`offset < slide`).
    pub fn offset(mut self, offset: Duration) -> Self {
        if let Shape::Sliding { offset: o, .. } = &mut self.shape {
            *o = duration_nanos(offset);
        }
        self
    }
}

/// A count window specification, built by [`Tumbling::count`] or [`Sliding::count`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a window spec does nothing until passed to a window method"]
pub struct CountSpec {
    size: Count,
    slide: Count,
    max_open_windows: usize,
    max_held_elements: u64,
}

impl CountSpec {
    pub(crate) fn new(size: Count, slide: Count) -> Self {
        CountSpec {
            size,
            slide,
            max_open_windows: DEFAULT_MAX_OPEN_WINDOWS,
            max_held_elements: DEFAULT_MAX_HELD_ELEMENTS,
        }
    }

    /// The most windows open at once (all keys together); see
    /// [`DEFAULT_MAX_OPEN_WINDOWS`]. The oldest window fires early past it.
    pub fn max_open_windows(mut self, max: usize) -> Self {
        self.max_open_windows = max;
        self
    }

    /// The most elements all open windows together hold when the aggregate keeps them
    /// (the default contents); see [`DEFAULT_MAX_HELD_ELEMENTS`].
    pub fn max_held_elements(mut self, max: u64) -> Self {
        self.max_held_elements = max;
        self
    }

    pub(crate) fn validate(&self) -> Result<CountConfig, ConfigError> {
        let size = self.size.validate("window size")?.get() as u64;
        let slide = self.slide.validate("window slide")?.get() as u64;
        if slide > size {
            return Err(ConfigError::Conflict {
                reason: format!(
                    "window slide ({}) is larger than window size ({}): elements between \
                     windows would belong to no window",
                    self.slide, self.size
                ),
            });
        }
        let per_key = size.div_ceil(slide);
        ConfigError::check_range("windows per element", per_key, 1, MAX_WINDOWS_PER_ELEMENT)?;
        if self.max_open_windows == 0 {
            return Err(ConfigError::Zero {
                setting: "max open windows",
            });
        }
        ConfigError::check_range(
            "max open windows",
            self.max_open_windows as u64,
            per_key,
            u64::MAX,
        )?;
        Ok(CountConfig {
            size,
            slide,
            max_open_windows: self.max_open_windows,
            max_held_elements: validate_max_held(self.max_held_elements)?,
        })
    }
}

/// Validated settings of a time window operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeConfig {
    pub(crate) shape: Shape,
    pub(crate) out_of_orderness: i64,
    pub(crate) allowed_lateness: i64,
    pub(crate) max_open_windows: usize,
    pub(crate) max_held_elements: u64,
}

/// Validated settings of a count window operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CountConfig {
    pub(crate) size: u64,
    pub(crate) slide: u64,
    pub(crate) max_open_windows: usize,
    pub(crate) max_held_elements: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Domain {
    EventTime,
    ProcessingTime,
}

/// A `Duration` in nanoseconds, saturating at `i64::MAX` (292 years).
pub(crate) fn duration_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn positive(setting: &'static str, value: i64, domain: Domain) -> Result<i64, ConfigError> {
    match value {
        0 if domain == Domain::ProcessingTime => Err(ConfigError::ZeroDuration { setting }),
        0 => Err(ConfigError::Zero { setting }),
        v if v < 0 => Err(ConfigError::Invalid {
            setting,
            reason: format!("must be positive, got {v}"),
        }),
        v => Ok(v),
    }
}

fn non_negative(setting: &'static str, value: i64) -> Result<i64, ConfigError> {
    if value < 0 {
        Err(ConfigError::Invalid {
            setting,
            reason: format!("must not be negative, got {value}"),
        })
    } else {
        Ok(value)
    }
}

fn offset_within(offset: i64, limit: i64, of: &str) -> Result<(), ConfigError> {
    if offset.unsigned_abs() >= limit.unsigned_abs() {
        Err(ConfigError::Invalid {
            setting: "window offset",
            reason: format!(
                "|offset| must be smaller than the window {of} ({limit}), got {offset}"
            ),
        })
    } else {
        Ok(())
    }
}

fn validate_shape(shape: Shape, domain: Domain) -> Result<Shape, ConfigError> {
    match shape {
        Shape::Tumbling { size, offset } => {
            positive("window size", size, domain)?;
            offset_within(offset, size, "size")?;
        }
        Shape::Sliding {
            size,
            slide,
            offset,
        } => {
            positive("window size", size, domain)?;
            positive("window slide", slide, domain)?;
            if slide > size {
                return Err(ConfigError::Conflict {
                    reason: format!(
                        "window slide ({slide}) is larger than window size ({size}): elements \
                         between windows would belong to no window"
                    ),
                });
            }
            offset_within(offset, slide, "slide")?;
        }
        Shape::Session { gap } => {
            positive("session gap", gap, domain)?;
        }
    }
    Ok(shape)
}

fn validate_max_held(max: u64) -> Result<u64, ConfigError> {
    if max == 0 {
        return Err(ConfigError::Zero {
            setting: "max held elements",
        });
    }
    Ok(max)
}

fn validate_max_open(max: usize, shape: &Shape) -> Result<usize, ConfigError> {
    ConfigError::check_range(
        "windows per element",
        shape.windows_per_element(),
        1,
        MAX_WINDOWS_PER_ELEMENT,
    )?;
    if max == 0 {
        return Err(ConfigError::Zero {
            setting: "max open windows",
        });
    }
    ConfigError::check_range(
        "max open windows",
        max as u64,
        shape.windows_per_element(),
        u64::MAX,
    )?;
    Ok(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operators::window::Session;

    #[test]
    fn rejects_bad_settings() {
        assert_eq!(
            Tumbling::event_time(0).validate(),
            Err(ConfigError::Zero {
                setting: "window size"
            })
        );
        assert_eq!(
            Tumbling::processing_time(Duration::ZERO).validate(),
            Err(ConfigError::ZeroDuration {
                setting: "window size"
            })
        );
        assert!(matches!(
            Tumbling::event_time(5).offset(5).validate(),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            Sliding::event_time(5, 6).validate(),
            Err(ConfigError::Conflict { .. })
        ));
        assert!(matches!(
            Session::event_time(-1).validate(),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            Tumbling::event_time(5).allowed_lateness(-1).validate(),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            Sliding::event_time(10, 3).max_open_windows(3).validate(),
            Err(ConfigError::OutOfRange { min: 4, .. })
        ));
        assert!(matches!(
            Sliding::count(4, 5).validate(),
            Err(ConfigError::Conflict { .. })
        ));
        assert!(Sliding::count(4, 2).validate().is_ok());
    }
}
