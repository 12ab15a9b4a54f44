//! Backpressure-aware dataflow operators for every `Stream`, ours and anyone else's.
//!
//! [`DataflowExt`] adds the operators as methods. Each operator lives in its own file,
//! holds a bounded amount of state that the caller can see and set, and pulls from
//! upstream only as fast as downstream consumes. Invalid arguments (zero sizes, zero
//! durations, zero concurrency) are a [`ConfigError`](crate::error::ConfigError), never a
//! panic.

use futures::Stream;

// region: chunk (modules)
// endregion: chunk (modules)

// region: window (modules)
pub mod window;
// endregion: window (modules)

// region: sequence (modules)
// endregion: sequence (modules)

// region: par_map (modules)
// endregion: par_map (modules)

/// Dataflow operators on every [`Stream`].
pub trait DataflowExt: Stream {
    // region: chunk (methods)
    // endregion: chunk (methods)

    // region: window (methods)
    /// Groups elements into **event-time** windows: tumbling, sliding or session windows
    /// over a timestamp you read from each element, closed by a watermark.
    ///
    /// Follows Apache Flink's definitions exactly (`TumblingEventTimeWindows`,
    /// `SlidingEventTimeWindows`, `EventTimeSessionWindows`, `BoundedOutOfOrdernessWatermarks`,
    /// `EventTimeTrigger`, allowed lateness and a late side output):
    ///
    /// - `timestamp(&item)` gives the element's event time as an `i64` in your unit
    ///   (milliseconds, seconds...); sizes, slides, gaps, offsets, out-of-orderness and
    ///   lateness are in the same unit.
    /// - [`Tumbling::event_time(s)`](window::Tumbling::event_time): `t` belongs to
    ///   `[start, start + s)` with `start = t - (t - offset).rem_euclid(s)`.
    ///   [`Sliding::event_time(s, p)`](window::Sliding::event_time): `t` belongs to every
    ///   `[start, start + s)` with `start` a multiple of `p` (plus offset) and
    ///   `start <= t < start + s`. [`Session::event_time(g)`](window::Session::event_time):
    ///   `t` opens `[t, t + g)` and windows of the same key that overlap **or touch** merge
    ///   (events at 0 and 5 with gap 5 are one session `[0, 10)`).
    /// - The watermark is `W = max_timestamp_seen - out_of_orderness - 1` (no element with
    ///   a timestamp `<= W` is expected any more). Each element is processed under the
    ///   current watermark, then the watermark moves. A window fires once, when
    ///   `W >= end - 1` ([`FireReason::Watermark`](window::FireReason::Watermark)): with
    ///   size 5 and out-of-orderness 2, `[0, 5)` fires once an element with timestamp
    ///   `>= 7` has been seen, not at 6.
    /// - A fired window stays open for `allowed_lateness`: an element that arrives for it
    ///   while `end - 1 + allowed_lateness > W` is added and the window fires again at once
    ///   with its whole updated value ([`FireReason::LateUpdate`](window::FireReason::LateUpdate),
    ///   [`Window::update`](window::Window::update) set). A late element can bridge two
    ///   sessions: the merged session fires as an update.
    /// - An element whose windows are all closed (`end - 1 + allowed_lateness <= W`, which
    ///   implies `ts + allowed_lateness <= W`) comes out as
    ///   [`WindowEvent::Late`](window::WindowEvent::Late) in the same stream: never a silent
    ///   drop. (As in Flink, an element behind the watermark whose window is still open just
    ///   joins it.)
    /// - At the end of the input the watermark becomes `+inf` and every open window fires
    ///   ([`FireReason::EndOfStream`](window::FireReason::EndOfStream)).
    ///
    /// The stream yields [`WindowEvent`](window::WindowEvent)s: `Fired(Window)` with key
    /// (`()` here; see [`key_by`](DataflowExt::key_by)), `start`, `end`, the `value` (the
    /// elements in arrival order, or an aggregate), `count`, `reason` and `update`;
    /// `Late(item)`; or `Error` when a closure panicked. Instead of buffering the elements,
    /// aggregate each window with [`fold`](window::EventTimeWindow::fold),
    /// [`reduce`](window::EventTimeWindow::reduce),
    /// [`fold_with_merge`](window::EventTimeWindow::fold_with_merge) (sessions) or any
    /// [`WindowAggregate`](window::WindowAggregate). `stats()` counts windows fired,
    /// updates, late elements, evictions and open windows.
    ///
    /// # Memory and backpressure
    ///
    /// The operator holds the open windows only: windows not fired yet and fired windows
    /// kept for allowed lateness. Without aggregation each holds its elements (a sliding
    /// window element is cloned into each of its `size / slide` windows); with `fold` or
    /// `reduce` each holds one accumulator. The number of open windows is bounded by
    /// [`max_open_windows`](window::EventTimeSpec::max_open_windows) (default
    /// [`DEFAULT_MAX_OPEN_WINDOWS`](window::DEFAULT_MAX_OPEN_WINDOWS)): past it the window
    /// with the smallest end fires early as [`FireReason::Evicted`](window::FireReason::Evicted)
    /// (a fired window kept for lateness is just closed). Upstream is polled only when no
    /// output is waiting. Dropping the stream drops the open windows.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`](crate::error::ConfigError) before any work starts: a size, slide or
    /// gap `<= 0`, a negative out-of-orderness or lateness, a slide larger than the size
    /// (elements between windows would belong to no window), `|offset| >= size` (tumbling)
    /// or `>= slide` (sliding), or `max_open_windows` below the windows of one element.
    ///
    /// # Examples
    ///
    /// IoT temperature readings in 5-minute windows, averaged without keeping the readings,
    /// with readings up to 30 s out of order:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::{FireReason, Tumbling, WindowEvent};
    ///
    /// #[derive(Debug, Clone)]
    /// struct Reading { ts_ms: i64, celsius: f64 }
    ///
    /// const SECOND: i64 = 1_000;
    /// const MINUTE: i64 = 60 * SECOND;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let readings = stream::iter(vec![
    ///     Reading { ts_ms: 10 * SECOND, celsius: 20.5 },
    ///     Reading { ts_ms: 4 * MINUTE, celsius: 21.5 },
    ///     Reading { ts_ms: 6 * MINUTE, celsius: 22.0 }, // W = 5:29.999: [0, 5 min) fires
    ///     Reading { ts_ms: 2 * MINUTE, celsius: 30.0 }, // its window is closed: late
    /// ]);
    /// let mut averages = readings
    ///     .event_time_window(
    ///         Tumbling::event_time(5 * MINUTE).out_of_orderness(30 * SECOND),
    ///         |r| r.ts_ms,
    ///     )?
    ///     .fold((0.0, 0u32), |(sum, n), r| (sum + r.celsius, n + 1));
    ///
    /// let mut report = Vec::new();
    /// while let Some(event) = averages.next().await {
    ///     match event {
    ///         WindowEvent::Fired(w) => {
    ///             let (sum, n) = w.value;
    ///             report.push((w.start / MINUTE, w.end / MINUTE, sum / f64::from(n), w.reason));
    ///         }
    ///         WindowEvent::Late(r) => eprintln!("late reading at {} ms", r.ts_ms),
    ///         WindowEvent::Error(e) => eprintln!("window stream failed: {e}"),
    ///     }
    /// }
    /// assert_eq!(report, vec![
    ///     (0, 5, 21.0, FireReason::Watermark),
    ///     (5, 10, 22.0, FireReason::EndOfStream),
    /// ]);
    /// assert_eq!(averages.stats().late, 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Allowed lateness re-fires an updated window; sessions merge:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::{Session, Tumbling};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let windows = stream::iter([1i64, 2, 6, 3])
    ///     .event_time_window(Tumbling::event_time(5).allowed_lateness(3), |t| *t)?;
    /// let fired: Vec<(i64, i64, Vec<i64>, bool)> = windows
    ///     .filter_map(|e| async move { e.into_window() })
    ///     .map(|w| (w.start, w.end, w.value, w.update))
    ///     .collect()
    ///     .await;
    /// assert_eq!(fired, vec![
    ///     (0, 5, vec![1, 2], false),    // W = 5 >= 4
    ///     (0, 5, vec![1, 2, 3], true),  // 3 is within the lateness: an update
    ///     (5, 10, vec![6], false),      // end of input
    /// ]);
    ///
    /// // Gap 5: 0 and 5 touch and merge into [0, 10).
    /// let sessions: Vec<_> = stream::iter([0i64, 5, 20])
    ///     .event_time_window(Session::event_time(5), |t| *t)?
    ///     .filter_map(|e| async move { e.into_window() })
    ///     .map(|w| (w.start, w.end, w.value))
    ///     .collect()
    ///     .await;
    /// assert_eq!(sessions, vec![(0, 10, vec![0, 5]), (20, 25, vec![20])]);
    /// # Ok(())
    /// # }
    /// ```
    fn event_time_window<A, F>(
        self,
        spec: window::EventTimeSpec<A>,
        timestamp: F,
    ) -> Result<
        window::EventTimeWindow<Self, window::NoKey, F, A, window::Contents>,
        crate::error::ConfigError,
    >
    where
        Self: Sized,
        Self::Item: Clone,
        F: FnMut(&Self::Item) -> i64,
    {
        window::KeyBy::new(self, window::NoKey).event_time_window(spec, timestamp)
    }

    /// Groups elements into **processing-time** windows on the tokio clock: tumbling,
    /// sliding or session windows over the instant each element arrives.
    ///
    /// Flink's `TumblingProcessingTimeWindows`, `SlidingProcessingTimeWindows` and
    /// `ProcessingTimeSessionWindows`, on [`tokio::time::Instant`] so tests run on paused
    /// time. Windows are aligned to the instant the stream is first polled (plus the
    /// offset): with 1 s tumbling windows, `[t0, t0 + 1 s)`, `[t0 + 1 s, t0 + 2 s)`...
    /// A window fires ([`FireReason::Timer`](window::FireReason::Timer)) when the clock
    /// reaches its end, **even if no element arrives**: the stream arms a tokio timer for
    /// the earliest window end whenever it waits for input. A session closes `gap` after its
    /// last element. Empty windows never fire; at the end of the input every open window
    /// fires at once. Nothing is ever late in processing time.
    ///
    /// The stream yields [`WindowEvent`](window::WindowEvent)s whose bounds are tokio
    /// `Instant`s; aggregate with [`fold`](window::ProcessingTimeWindow::fold),
    /// [`reduce`](window::ProcessingTimeWindow::reduce),
    /// [`fold_with_merge`](window::ProcessingTimeWindow::fold_with_merge) or
    /// [`aggregate`](window::ProcessingTimeWindow::aggregate).
    ///
    /// Memory: the open windows (bounded by
    /// [`max_open_windows`](window::ProcessingTimeSpec::max_open_windows)) and their
    /// contents or accumulators; upstream is polled only when no output is waiting.
    ///
    /// Polled outside a tokio runtime with timers, the stream yields
    /// [`WindowEvent::Error`](window::WindowEvent::Error) with
    /// [`TaskError::NoRuntime`](crate::error::TaskError::NoRuntime) and ends.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`](crate::error::ConfigError) before any work starts: a zero size,
    /// slide or gap ([`ConfigError::ZeroDuration`](crate::error::ConfigError::ZeroDuration)),
    /// a slide larger than the size, an offset not smaller than the size (tumbling) or
    /// slide (sliding), or `max_open_windows` below the windows of one element.
    ///
    /// # Examples
    ///
    /// Requests per second from a source that stalls: the second window fires on its timer
    /// although nothing arrives after it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::Tumbling;
    /// use sweet_async::units::TimeExt;
    /// use tokio::time::{Instant, sleep};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let start = Instant::now();
    /// // Requests at 400, 800 and 1200 ms, then a silent source.
    /// let requests = stream::iter(1..=3)
    ///     .then(|id| async move {
    ///         sleep(Duration::from_millis(400)).await;
    ///         id
    ///     })
    ///     .chain(stream::pending());
    /// let per_second = requests
    ///     .processing_time_window(Tumbling::processing_time(1.seconds()))?
    ///     .fold(0u32, |n, _| n + 1);
    /// let mut per_second = std::pin::pin!(per_second);
    ///
    /// let first = per_second.next().await.and_then(|e| e.into_window()).unwrap();
    /// assert_eq!((first.start, first.end, first.value), (start, start + 1.seconds(), 2));
    /// let second = per_second.next().await.and_then(|e| e.into_window()).unwrap();
    /// assert_eq!(second.value, 1);
    /// assert_eq!(Instant::now(), start + 2.seconds()); // fired on the timer
    /// # Ok(())
    /// # }
    /// ```
    fn processing_time_window<A>(
        self,
        spec: window::ProcessingTimeSpec<A>,
    ) -> Result<
        window::ProcessingTimeWindow<Self, window::NoKey, A, window::Contents>,
        crate::error::ConfigError,
    >
    where
        Self: Sized,
        Self::Item: Clone,
    {
        window::KeyBy::new(self, window::NoKey).processing_time_window(spec)
    }

    /// Groups elements into **count** windows: tumbling ([`Tumbling::count(n)`](window::Tumbling::count),
    /// `n` elements each) or sliding ([`Sliding::count(n, s)`](window::Sliding::count):
    /// every `s` elements, a window over the last `n`).
    ///
    /// Flink's `countWindow(n)` and `countWindow(n, s)`: the first sliding windows are
    /// partial (`countWindow(3, 1)` over `1, 2, 3, 4` gives `[1]`, `[1, 2]`, `[1, 2, 3]`,
    /// `[2, 3, 4]`). A window fires as soon as its count is reached
    /// ([`FireReason::Count`](window::FireReason::Count)). Unlike Flink, nothing stays
    /// behind at the end of the input: if elements arrived since the last firing, the next
    /// window fires with what it has ([`FireReason::EndOfStream`](window::FireReason::EndOfStream)).
    /// `start..end` are input positions (0-based): the element index range for a stream
    /// without a key, the span of the key's elements otherwise.
    ///
    /// Memory: at most `ceil(n / s)` windows per key, each holding its elements or one
    /// accumulator, and at most [`max_open_windows`](window::CountSpec::max_open_windows)
    /// in all (past it the oldest window fires early as
    /// [`FireReason::Evicted`](window::FireReason::Evicted)). Upstream is polled only when
    /// no output is waiting.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`](crate::error::ConfigError) for a zero size or slide, a slide
    /// larger than the size, or `max_open_windows` below `ceil(n / s)`.
    ///
    /// # Examples
    ///
    /// A moving sum over the last three readings, every reading, and batches of two:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::{Sliding, Tumbling};
    /// use sweet_async::units::CountExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let moving: Vec<(u64, u64, i32)> = stream::iter([1, 2, 3, 4, 5])
    ///     .count_window(Sliding::count(3, 1))?
    ///     .fold(0, |sum, x| sum + x)
    ///     .filter_map(|e| async move { e.into_window() })
    ///     .map(|w| (w.start, w.end, w.value))
    ///     .collect()
    ///     .await;
    /// assert_eq!(moving, vec![(0, 1, 1), (0, 2, 3), (0, 3, 6), (1, 4, 9), (2, 5, 12)]);
    ///
    /// let batches: Vec<Vec<i32>> = stream::iter([1, 2, 3, 4, 5])
    ///     .count_window(Tumbling::count(2.rows()))?
    ///     .filter_map(|e| async move { e.into_window().map(|w| w.value) })
    ///     .collect()
    ///     .await;
    /// assert_eq!(batches, vec![vec![1, 2], vec![3, 4], vec![5]]);
    /// # Ok(())
    /// # }
    /// ```
    fn count_window(
        self,
        spec: window::CountSpec,
    ) -> Result<window::CountWindow<Self, window::NoKey, window::Contents>, crate::error::ConfigError>
    where
        Self: Sized,
        Self::Item: Clone,
    {
        window::KeyBy::new(self, window::NoKey).count_window(spec)
    }

    /// Splits the stream by `key(&item)` so the next window call keeps one set of windows
    /// per key (Flink's `keyBy(..).window(..)`).
    ///
    /// Returns a [`KeyBy`](window::KeyBy): choose the windows with its
    /// [`event_time_window`](window::KeyBy::event_time_window),
    /// [`processing_time_window`](window::KeyBy::processing_time_window) or
    /// [`count_window`](window::KeyBy::count_window). Each fired
    /// [`Window`](window::Window) carries its key. Event-time windows of all keys share one
    /// watermark (as in Flink: any element moves time for every key); count windows count
    /// each key's elements. Sessions merge within a key only.
    ///
    /// Keys are `K: Hash + Eq + Clone`; the key function runs once per element, and a panic
    /// in it ends the stream with [`WindowEvent::Error`](window::WindowEvent::Error).
    /// With many keys, bound memory with `max_open_windows` on the spec: the open windows of
    /// all keys together never exceed it (the window with the smallest end fires early,
    /// marked [`FireReason::Evicted`](window::FireReason::Evicted), never dropped).
    ///
    /// # Examples
    ///
    /// Traded volume per symbol and minute, with at most 10 000 windows open:
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::DataflowExt;
    /// use sweet_async::operators::window::{FireReason, Tumbling};
    ///
    /// #[derive(Debug, Clone)]
    /// struct Trade { symbol: String, ts_ms: i64, qty: u64 }
    ///
    /// fn trade(symbol: &str, ts_ms: i64, qty: u64) -> Trade {
    ///     Trade { symbol: symbol.to_owned(), ts_ms, qty }
    /// }
    ///
    /// const MINUTE: i64 = 60_000;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sweet_async::error::ConfigError> {
    /// let trades = stream::iter(vec![
    ///     trade("ACME", 1_000, 100),
    ///     trade("INIT", 2_000, 5),
    ///     trade("ACME", 30_000, 50),
    ///     trade("INIT", 61_000, 7), // the watermark passes 1 min for every symbol
    /// ]);
    /// let volumes: Vec<(String, i64, u64, FireReason)> = trades
    ///     .key_by(|t| t.symbol.clone())
    ///     .event_time_window(Tumbling::event_time(MINUTE).max_open_windows(10_000), |t| t.ts_ms)?
    ///     .fold(0, |qty, t| qty + t.qty)
    ///     .filter_map(|e| async move { e.into_window() })
    ///     .map(|w| (w.key, w.start / MINUTE, w.value, w.reason))
    ///     .collect()
    ///     .await;
    /// assert_eq!(volumes, vec![
    ///     ("ACME".to_owned(), 0, 150, FireReason::Watermark),
    ///     ("INIT".to_owned(), 0, 5, FireReason::Watermark),
    ///     ("INIT".to_owned(), 1, 7, FireReason::EndOfStream),
    /// ]);
    /// # Ok(())
    /// # }
    /// ```
    fn key_by<K, F>(self, key: F) -> window::KeyBy<Self, F>
    where
        Self: Sized,
        F: FnMut(&Self::Item) -> K,
        K: std::hash::Hash + Eq + Clone,
    {
        window::KeyBy::new(self, key)
    }
    // endregion: window (methods)

    // region: sequence (methods)
    // endregion: sequence (methods)

    // region: par_map (methods)
    // endregion: par_map (methods)
}

impl<S: Stream + ?Sized> DataflowExt for S {}
