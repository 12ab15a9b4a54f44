//! Count windows: tumbling (`n`) and sliding (every `s` elements over the last `n`).

use futures::stream;
use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::window::{FireReason, Sliding, Tumbling};
use sweet_async::units::CountExt;

use super::{Out, run};
use FireReason::{Count, EndOfStream, Evicted};

type CountOut<A, K = ()> = Out<K, A, i32, u64>;

fn w<A>(start: u64, end: u64, value: A, reason: FireReason) -> CountOut<A> {
    Out::Fired((), start, end, value, reason, false)
}

#[test]
fn tumbling_count_with_a_partial_last_window() {
    let windows = stream::iter(1..=7)
        .count_window(Tumbling::count(3))
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            w(0, 3, vec![1, 2, 3], Count),
            w(3, 6, vec![4, 5, 6], Count),
            w(6, 7, vec![7], EndOfStream),
        ]
    );
}

#[test]
fn tumbling_count_with_no_partial_window() {
    let windows = stream::iter(1..=4)
        .count_window(Tumbling::count(2.rows()))
        .unwrap();
    assert_eq!(
        run(windows),
        vec![w(0, 2, vec![1, 2], Count), w(2, 4, vec![3, 4], Count)]
    );
}

#[test]
fn sliding_count_every_element_over_the_last_three() {
    // Flink's countWindow(3, 1): the first windows are partial.
    let windows = stream::iter(1..=4)
        .count_window(Sliding::count(3, 1))
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            w(0, 1, vec![1], Count),
            w(0, 2, vec![1, 2], Count),
            w(0, 3, vec![1, 2, 3], Count),
            w(1, 4, vec![2, 3, 4], Count),
        ]
    );
}

#[test]
fn sliding_count_every_two_over_the_last_four_fires_the_rest_at_the_end() {
    let windows = stream::iter(1..=5)
        .count_window(Sliding::count(4, 2))
        .unwrap();
    assert_eq!(
        run(windows),
        vec![
            w(0, 2, vec![1, 2], Count),
            w(0, 4, vec![1, 2, 3, 4], Count),
            // 5 was not emitted yet: the next window [2, 6) fires with what it has.
            w(2, 5, vec![3, 4, 5], EndOfStream),
        ]
    );
}

#[test]
fn sliding_count_fold() {
    let windows = stream::iter(1..=6)
        .count_window(Sliding::count(3, 2))
        .unwrap()
        .fold_windows(0, |sum, x| sum + x);
    assert_eq!(
        run(windows),
        vec![w(0, 2, 3, Count), w(1, 4, 9, Count), w(3, 6, 15, Count)]
    );
}

#[test]
fn keyed_count_windows_count_per_key_and_report_input_positions() {
    let input = vec![("a", 1), ("b", 2), ("a", 3), ("b", 4), ("a", 5)];
    let windows = stream::iter(input)
        .key_by(|t: &(&str, i32)| t.0)
        .count_window(Tumbling::count(2))
        .unwrap()
        .reduce_windows(|x, y| (x.0, x.1 + y.1));
    assert_eq!(
        run(windows),
        vec![
            Out::Fired("a", 0, 3, ("a", 4), Count, false),
            Out::Fired("b", 1, 4, ("b", 6), Count, false),
            Out::Fired("a", 4, 5, ("a", 5), EndOfStream, false),
        ]
    );
}

#[test]
fn the_open_window_bound_fires_the_oldest_window_early() {
    let input = vec![("a", 1), ("b", 2), ("c", 3), ("a", 4)];
    let windows = stream::iter(input)
        .key_by(|t: &(&str, i32)| t.0)
        .count_window(Tumbling::count(2).max_open_windows(2))
        .unwrap()
        .fold_windows(0, |sum, t| sum + t.1);
    assert_eq!(
        run(windows),
        vec![
            Out::Fired("a", 0, 1, 1, Evicted, false),
            Out::Fired("b", 1, 2, 2, Evicted, false),
            Out::Fired("c", 2, 3, 3, EndOfStream, false),
            Out::Fired("a", 3, 4, 4, EndOfStream, false),
        ]
    );
}

#[test]
fn invalid_count_specs_are_config_errors() {
    assert_eq!(
        stream::iter(1..=3)
            .count_window(Tumbling::count(0))
            .err()
            .unwrap(),
        ConfigError::Zero {
            setting: "window size"
        }
    );
    assert!(matches!(
        stream::iter(1..=3).count_window(Sliding::count(2, 3)).err(),
        Some(ConfigError::Conflict { .. })
    ));
    assert!(matches!(
        stream::iter(1..=3)
            .count_window(Sliding::count(4, 1).max_open_windows(3))
            .err(),
        Some(ConfigError::OutOfRange { min: 4, .. })
    ));
}
