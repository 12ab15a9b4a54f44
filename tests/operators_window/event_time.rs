//! Event-time tumbling and sliding windows: Flink's assigners, watermark and lateness.

use futures::channel::mpsc;
use futures::{Stream, StreamExt, stream};
use sweet_async::error::{ConfigError, TaskError};
use sweet_async::operators::DataflowExt;
use sweet_async::operators::window::{FireReason, Sliding, Tumbling, WindowEvent};

use super::{Out, fired, run, update};
use FireReason::{EndOfStream, Watermark};

#[test]
fn tumbling_with_offset() {
    // Flink: start = t - (t - offset).rem_euclid(size); size 5, offset 2 -> [.., -3, 2, 7, 12 ..].
    let windows = stream::iter([1i64, 2, 6, 7, 11, 12])
        .event_time_window(Tumbling::event_time(5).offset(2), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(-3, 2, vec![1], Watermark),
            fired(2, 7, vec![2, 6], Watermark),
            fired(7, 12, vec![7, 11], Watermark),
            fired(12, 17, vec![12], EndOfStream),
        ]
    );
}

#[test]
fn tumbling_with_negative_offset_and_negative_timestamps() {
    // Offset -2 is offset 3: windows [-7, -2), [-2, 3), [3, 8).
    let windows = stream::iter([-7i64, -3, -2, 2, 3])
        .event_time_window(Tumbling::event_time(5).offset(-2), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(-7, -2, vec![-7, -3], Watermark),
            fired(-2, 3, vec![-2, 2], Watermark),
            fired(3, 8, vec![3], EndOfStream),
        ]
    );
}

#[test]
fn sliding_with_size_not_a_multiple_of_slide() {
    // Size 10, slide 4: t belongs to every [s, s + 10) with s a multiple of 4 and
    // s <= t < s + 10; 0 is in three windows, 3 in two.
    let windows = stream::iter([0i64, 3, 5, 9, 13])
        .event_time_window(Sliding::event_time(10, 4), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(-8, 2, vec![0], Watermark),
            fired(-4, 6, vec![0, 3, 5], Watermark),
            fired(0, 10, vec![0, 3, 5, 9], Watermark),
            fired(4, 14, vec![5, 9, 13], EndOfStream),
            fired(8, 18, vec![9, 13], EndOfStream),
            fired(12, 22, vec![13], EndOfStream),
        ]
    );
}

#[test]
fn sliding_with_offset() {
    // Size 6, slide 4, offset 1: starts ..., -3, 1, 5, ...
    let windows = stream::iter([1i64, 4, 5])
        .event_time_window(
            Sliding::event_time(6, 4).offset(1).out_of_orderness(100),
            |t| *t,
        )
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(-3, 3, vec![1], EndOfStream),
            fired(1, 7, vec![1, 4, 5], EndOfStream),
            fired(5, 11, vec![5], EndOfStream),
        ]
    );
}

#[test]
fn watermark_fires_exactly_at_end_minus_one() {
    // Check vector: size 5, out-of-orderness 2. W = max_ts - 2 - 1; [0, 5) fires when
    // W >= 4, i.e. once an element with ts >= 7 has been seen, not at 6.
    let (tx, rx) = mpsc::unbounded::<i64>();
    let mut windows = rx
        .event_time_window(Tumbling::event_time(5).out_of_orderness(2), |t| *t)
        .unwrap();
    assert_eq!(windows.watermark(), None);

    tx.unbounded_send(1).unwrap();
    assert!(windows.next().now_or_never_pending());
    tx.unbounded_send(6).unwrap();
    assert!(
        windows.next().now_or_never_pending(),
        "[0, 5) must not fire at ts 6"
    );
    assert_eq!(windows.watermark(), Some(3));

    // Behind the max but not behind the watermark: in order, joins [0, 5).
    tx.unbounded_send(4).unwrap();
    assert!(windows.next().now_or_never_pending());

    tx.unbounded_send(7).unwrap();
    let event = futures::executor::block_on(windows.next()).unwrap();
    assert_eq!(Out::from(event), fired(0, 5, vec![1, 4], Watermark));
    assert_eq!(windows.watermark(), Some(4));

    drop(tx);
    let rest = super::run(windows);
    assert_eq!(rest, vec![fired(5, 10, vec![6, 7], EndOfStream)]);
}

/// `true` if the future is pending right now (no waiting).
trait PendingNow {
    fn now_or_never_pending(self) -> bool;
}

impl<F: std::future::Future> PendingNow for F {
    fn now_or_never_pending(self) -> bool {
        futures::FutureExt::now_or_never(self).is_none()
    }
}

#[test]
fn allowed_lateness_refires_an_updated_result() {
    // Lateness 3: [0, 5) fires at W = 5, accepts elements until W >= 4 + 3.
    let windows = stream::iter([1i64, 2, 6, 3, 8, 4])
        .event_time_window(Tumbling::event_time(5).allowed_lateness(3), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(0, 5, vec![1, 2], Watermark),
            update(0, 5, vec![1, 2, 3]),
            // W = 7 = cleanup time of [0, 5): 4 is late (4 + 3 <= 7).
            Out::Late(4),
            fired(5, 10, vec![6, 8], EndOfStream),
        ]
    );
}

#[test]
fn allowed_lateness_update_of_a_fold() {
    let mut windows = stream::iter([1i64, 2, 6, 3, 8, 4])
        .event_time_window(Tumbling::event_time(5).allowed_lateness(3), |t| *t)
        .unwrap()
        .fold_windows(0i64, |sum, t| sum + t);
    let out = futures::executor::block_on(async {
        let mut out = Vec::new();
        while let Some(event) = windows.next().await {
            out.push(Out::from(event));
        }
        out
    });
    assert_eq!(
        out,
        vec![
            fired(0, 5, 3, Watermark),
            update(0, 5, 6),
            Out::Late(4),
            fired(5, 10, 14, EndOfStream),
        ]
    );
    let stats = windows.stats();
    assert_eq!(
        (stats.elements, stats.fired, stats.updates, stats.late),
        (6, 3, 1, 1)
    );
    assert_eq!((stats.open_windows, stats.held_elements), (0, 0));
}

#[test]
fn late_elements_come_out_of_the_same_stream() {
    let windows = stream::iter([1i64, 7, 3, 5])
        .event_time_window(Tumbling::event_time(5), |t| *t)
        .unwrap();
    let events = futures::executor::block_on(windows.collect::<Vec<_>>());
    assert!(events[0].is_fired());
    assert!(events[1].is_late());
    assert_eq!(events[1].late(), Some(&3));
    let late: Vec<i64> = events
        .into_iter()
        .filter_map(WindowEvent::into_late)
        .collect();
    assert_eq!(late, vec![3]);
}

#[test]
fn element_behind_the_watermark_joins_a_window_still_open() {
    // Flink drops an element only when every window it belongs to is late: 11 is behind
    // W = 11 but its window [10, 15) has not fired, so it joins it.
    let windows = stream::iter([10i64, 12, 11])
        .event_time_window(Tumbling::event_time(5), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![fired(10, 15, vec![10, 12, 11], EndOfStream)]
    );
}

#[test]
fn sliding_element_skips_only_its_closed_windows() {
    // Size 10, slide 5: 8 belongs to [0, 10) and [5, 15). At W = 10 [0, 10) is closed, so
    // 8 joins [5, 15) only and counts as skipped once; it is not late.
    let mut windows = stream::iter([1i64, 11, 8])
        .event_time_window(Sliding::event_time(10, 5), |t| *t)
        .unwrap();
    let out = futures::executor::block_on(async {
        let mut out = Vec::new();
        while let Some(event) = windows.next().await {
            out.push(Out::from(event));
        }
        out
    });
    assert_eq!(
        out,
        vec![
            fired(-5, 5, vec![1], Watermark),
            fired(0, 10, vec![1], Watermark),
            fired(5, 15, vec![11, 8], EndOfStream),
            fired(10, 20, vec![11], EndOfStream),
        ]
    );
    assert_eq!((windows.stats().skipped, windows.stats().late), (1, 0));
}

#[test]
fn end_of_stream_fires_every_open_window() {
    let windows = stream::iter([1i64, 7, 13, 2])
        .event_time_window(Tumbling::event_time(5).out_of_orderness(100), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(0, 5, vec![1, 2], EndOfStream),
            fired(5, 10, vec![7], EndOfStream),
            fired(10, 15, vec![13], EndOfStream),
        ]
    );
}

#[test]
fn end_of_stream_after_lateness_does_not_refire() {
    // [0, 5) fired and is kept for lateness: the end of input only cleans it up.
    let windows = stream::iter([1i64, 5])
        .event_time_window(Tumbling::event_time(5).allowed_lateness(10), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(0, 5, vec![1], Watermark),
            fired(5, 10, vec![5], EndOfStream)
        ]
    );
}

#[test]
fn reduce_keeps_one_value_per_window() {
    let windows = stream::iter([3i64, 1, 4, 1, 5, 9, 2, 6])
        .event_time_window(Tumbling::event_time(4).out_of_orderness(10), |t| *t)
        .unwrap()
        .reduce_windows(i64::max);
    assert_eq!(
        run(windows),
        vec![
            fired(0, 4, 3, EndOfStream),
            fired(4, 8, 6, EndOfStream),
            fired(8, 12, 9, EndOfStream),
        ]
    );
}

#[test]
fn sliding_fold_keeps_one_accumulator_per_window() {
    let windows = stream::iter([0i64, 3, 5, 9, 13])
        .event_time_window(Sliding::event_time(10, 4), |t| *t)
        .unwrap()
        .fold_windows((0i64, 0u32), |(sum, n), t| (sum + t, n + 1));
    assert_eq!(
        run(windows),
        vec![
            fired(-8, 2, (0, 1), Watermark),
            fired(-4, 6, (8, 3), Watermark),
            fired(0, 10, (17, 4), Watermark),
            fired(4, 14, (27, 3), EndOfStream),
            fired(8, 18, (22, 2), EndOfStream),
            fired(12, 22, (13, 1), EndOfStream),
        ]
    );
}

#[test]
fn invalid_specs_are_config_errors() {
    fn e<T>(r: Result<T, ConfigError>) -> ConfigError {
        r.err().unwrap()
    }
    assert_eq!(
        e(stream::iter([1i64]).event_time_window(Tumbling::event_time(0), |t| *t)),
        ConfigError::Zero {
            setting: "window size"
        }
    );
    assert!(matches!(
        e(stream::iter([1i64]).event_time_window(Sliding::event_time(5, -1), |t| *t)),
        ConfigError::Invalid {
            setting: "window slide",
            ..
        }
    ));
    assert!(matches!(
        e(stream::iter([1i64])
            .event_time_window(Tumbling::event_time(5).out_of_orderness(-1), |t| *t)),
        ConfigError::Invalid {
            setting: "out-of-orderness",
            ..
        }
    ));
    assert!(matches!(
        e(stream::iter([1i64])
            .event_time_window(Tumbling::event_time(5).allowed_lateness(-3), |t| *t)),
        ConfigError::Invalid {
            setting: "allowed lateness",
            ..
        }
    ));
    assert_eq!(
        e(stream::iter([1i64])
            .event_time_window(Tumbling::event_time(5).max_open_windows(0), |t| *t)),
        ConfigError::Zero {
            setting: "max open windows"
        }
    );
}

#[test]
fn a_panicking_timestamp_closure_ends_the_stream_with_an_error() {
    let mut windows = stream::iter([1i64, 7, 3, 9])
        .event_time_window(Tumbling::event_time(5), |t| {
            if *t == 3 {
                panic!("bad reading at 3");
            }
            *t
        })
        .unwrap();
    let out = futures::executor::block_on(async {
        let mut out = Vec::new();
        while let Some(event) = windows.next().await {
            out.push(event);
        }
        out
    });
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[0].window().map(|w| w.value.clone()),
        Some(vec![1]),
        "[0, 5) fired before the panic"
    );
    match &out[1] {
        WindowEvent::Error(TaskError::Panicked { message }) => {
            assert_eq!(message, "bad reading at 3")
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    // 7 (in the open window [5, 10)) and 3 itself are reported as discarded.
    assert_eq!(windows.stats().discarded, 2);
}

#[test]
fn a_panicking_fold_ends_the_stream_with_an_error() {
    let windows = stream::iter([1i64, 2, 3])
        .event_time_window(Tumbling::event_time(5), |t| *t)
        .unwrap()
        .fold_windows(0i64, |sum, t| {
            assert!(t != 2, "cannot add 2");
            sum + t
        });
    let out = run(windows);
    assert_eq!(out, vec![Out::Error("task panicked: cannot add 2".into())]);
}

#[test]
fn size_hint_is_honest() {
    let windows = stream::iter([1i64, 2])
        .event_time_window(Tumbling::event_time(5), |t| *t)
        .unwrap();
    assert_eq!(windows.size_hint(), (0, None));
}
