//! Event-time session windows: merging of windows that overlap or touch, and a late element
//! bridging two fired sessions.

use futures::stream;
use sweet_async::error::TaskError;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::window::{FireReason, Session, WindowAggregate};

use super::{Out, fired, run, update};
use FireReason::{EndOfStream, Watermark};

#[test]
fn touching_windows_merge() {
    // Flink: events at 0 and 5 with gap 5 are one session [0, 10).
    let windows = stream::iter([0i64, 5, 20])
        .event_time_window(Session::event_time(5), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(0, 10, vec![0, 5], Watermark),
            fired(20, 25, vec![20], EndOfStream),
        ]
    );
}

#[test]
fn a_gap_longer_than_the_session_gap_splits() {
    let windows = stream::iter([0i64, 6, 1])
        .event_time_window(Session::event_time(5).out_of_orderness(10), |t| *t)
        .unwrap();
    // 0 and 1 are one session [0, 6), which touches [6, 11): all three merge into [0, 11).
    assert_eq!(run(windows), vec![fired(0, 11, vec![0, 6, 1], EndOfStream)]);

    let windows = stream::iter([0i64, 6])
        .event_time_window(Session::event_time(5), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(0, 5, vec![0], Watermark),
            fired(6, 11, vec![6], EndOfStream),
        ]
    );
}

#[test]
fn a_late_element_bridges_two_fired_sessions() {
    // Gap 5, lateness 20. [0, 5) and [10, 15) fire; 5 arrives within the lateness, its
    // window [5, 10) touches both, and the merged session [0, 15) fires at once as an
    // update (its contents: the merged sessions by start, then the new element).
    let windows = stream::iter([0i64, 10, 20, 5])
        .event_time_window(Session::event_time(5).allowed_lateness(20), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(0, 5, vec![0], Watermark),
            fired(10, 15, vec![10], Watermark),
            update(0, 15, vec![0, 10, 5]),
            fired(20, 25, vec![20], EndOfStream),
        ]
    );
}

#[test]
fn a_merge_that_absorbs_a_fired_session_is_an_update_when_it_fires() {
    // [0, 5) fires at W = 6. 4 (allowed late) opens [4, 9), which merges into [0, 9):
    // its end is beyond the watermark, so it fires later, marked as an update.
    let windows = stream::iter([0i64, 7, 4, 30])
        .event_time_window(Session::event_time(5).allowed_lateness(10), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(0, 5, vec![0], Watermark),
            Out::Fired((), 0, 12, vec![0, 7, 4], Watermark, true),
            fired(30, 35, vec![30], EndOfStream),
        ]
    );
}

#[test]
fn a_late_session_goes_to_the_late_output() {
    let windows = stream::iter([0i64, 20, 3])
        .event_time_window(Session::event_time(5), |t| *t)
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            fired(0, 5, vec![0], Watermark),
            Out::Late(3),
            fired(20, 25, vec![20], EndOfStream),
        ]
    );
}

#[test]
fn fold_with_merge_and_reduce_on_sessions() {
    // [0, 3) and [6, 9) are bridged by 3: [3, 6) touches both.
    let input = [(0i64, 1i64), (6, 2), (3, 4)];
    let folded = stream::iter(input)
        .event_time_window(Session::event_time(3).out_of_orderness(10), |r| r.0)
        .unwrap()
        .fold_windows_with_merge(0i64, |sum, r| sum + r.1, |a, b| a + b);
    assert_eq!(run(folded), vec![fired(0, 9, 7, EndOfStream)]);

    let reduced = stream::iter(input)
        .event_time_window(Session::event_time(3).out_of_orderness(10), |r| r.0)
        .unwrap()
        .reduce_windows(|a, b| (a.0.min(b.0), a.1 + b.1));
    assert_eq!(run(reduced), vec![fired(0, 9, (0, 7), EndOfStream)]);
}

/// A sum that cannot merge.
struct Sum;

impl WindowAggregate<i64> for Sum {
    type Acc = i64;
    type Output = i64;

    fn create(&mut self, first: i64) -> i64 {
        first
    }

    fn add(&mut self, acc: i64, item: i64) -> i64 {
        acc + item
    }

    fn output(&mut self, acc: &i64) -> i64 {
        *acc
    }
}

#[test]
fn an_aggregate_that_cannot_merge_ends_session_windows_with_an_error() {
    // 5 bridges [0, 5) and [10, 15): their accumulators must merge.
    let mut windows = stream::iter([0i64, 10, 5])
        .event_time_window(Session::event_time(5).out_of_orderness(10), |t| *t)
        .unwrap()
        .aggregate_windows(Sum);
    let out = futures::executor::block_on(futures::StreamExt::collect::<Vec<_>>(&mut windows));
    assert_eq!(out.len(), 1);
    assert!(matches!(
        out.into_iter().next().and_then(|e| e.into_error()),
        Some(TaskError::Config(_))
    ));
    assert_eq!(windows.stats().discarded, 3);
}
