//! Buffers with bounds: window contents, the reorder buffer, line and record lengths.

use futures::StreamExt;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::window::{FireReason, Tumbling, WindowEvent};

#[tokio::test]
async fn window_contents_are_bounded_when_the_watermark_never_advances() {
    // Every element has the same timestamp: the watermark never passes the window's end.
    let mut windows = futures::stream::iter(0..10_500u32)
        .event_time_window(Tumbling::event_time(1_000).max_held_elements(1_000), |_| 5)
        .unwrap();
    let mut fired = Vec::new();
    while let Some(event) = windows.next().await {
        match event {
            WindowEvent::Fired(w) => {
                assert!(w.value.len() <= 1_000);
                fired.push((w.value.len(), w.reason));
                // Never more held than the bound, whatever the input.
                assert!(windows.stats().held_elements <= 1_000);
            }
            other => panic!("{other:?}"),
        }
    }
    let full = fired.iter().filter(|(_, r)| *r == FireReason::Full).count();
    assert_eq!(full, 10);
    assert_eq!(fired.iter().map(|(n, _)| n).sum::<usize>(), 10_500);
    assert_eq!(fired.last(), Some(&(500, FireReason::EndOfStream)));
    assert_eq!(windows.stats().full, 10);
}

#[tokio::test]
async fn count_window_contents_are_bounded_too() {
    let w: Vec<(usize, FireReason)> = futures::stream::iter(0..2_500u32)
        .count_window(Tumbling::count(1usize << 40).max_held_elements(1_000))
        .unwrap()
        .filter_map(|e| async move { e.into_window().map(|w| (w.value.len(), w.reason)) })
        .collect()
        .await;
    assert_eq!(
        w,
        vec![
            (1_000, FireReason::Full),
            (1_000, FireReason::Full),
            (500, FireReason::EndOfStream)
        ]
    );
}

#[tokio::test]
async fn a_fold_is_not_bounded_by_the_element_cap() {
    let sums: Vec<u64> = futures::stream::iter(0..10_000u64)
        .event_time_window(Tumbling::event_time(1_000).max_held_elements(10), |_| 5)
        .unwrap()
        .fold_windows(0u64, |a, x| a + x)
        .filter_map(|e| async move { e.into_window().map(|w| w.value) })
        .collect()
        .await;
    assert_eq!(sums, vec![(0..10_000).sum::<u64>()]);
}

#[test]
fn a_zero_element_cap_is_a_config_error() {
    let built = futures::stream::iter([1i64])
        .event_time_window(Tumbling::event_time(5).max_held_elements(0), |t| *t);
    assert!(matches!(
        built.map(|_| ()),
        Err(sweet_async::error::ConfigError::Zero {
            setting: "max held elements"
        })
    ));
}

#[tokio::test]
async fn sequence_buffers_without_a_bound_are_rejected() {
    use sweet_async::error::ConfigError;
    use sweet_async::operators::sequence::MAX_BUFFERED;
    let out_of_range = |e: ConfigError| matches!(e, ConfigError::OutOfRange { max, .. } if max == MAX_BUFFERED as u64);
    let ids = futures::stream::iter([0u64, 2]);
    assert!(out_of_range(
        ids.reorder_by_id(usize::MAX, |id| *id)
            .map(|_| ())
            .unwrap_err()
    ));
    let s = futures::stream::iter([1]);
    assert!(out_of_range(
        s.sort_bounded(usize::MAX, |a: &i32, b: &i32| a.cmp(b))
            .map(|_| ())
            .unwrap_err()
    ));
    let s = futures::stream::iter([1]);
    assert!(out_of_range(
        s.sort_chunks(usize::MAX, |a: &i32, b: &i32| a.cmp(b))
            .map(|_| ())
            .unwrap_err()
    ));
    // A small bound: a gap that never fills is reported once the buffer is full.
    use sweet_async::operators::Sequenced::{Gap, Item};
    let ids = futures::stream::iter((1..=3u64).chain(5..=6));
    let out: Vec<_> = ids
        .reorder_by_id(2, |id| *id)
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(
        out,
        vec![
            Gap { from: 0, to: 0 },
            Item(1),
            Item(2),
            Item(3),
            Gap { from: 4, to: 4 },
            Item(5),
            Item(6)
        ]
    );
}
