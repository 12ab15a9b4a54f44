//! Bound tests: an endless, always-ready producer never makes a window operator hold more
//! than its open windows' contents (items pulled - items emitted stays bounded).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{Stream, StreamExt, stream};
use sweet_async::operators::DataflowExt;
use sweet_async::operators::window::{Sliding, Tumbling, WindowEvent};

/// `0, 1, 2, ...` forever, counting what was pulled.
fn endless(pulled: Arc<AtomicU64>) -> impl Stream<Item = i64> + Unpin {
    stream::iter(0i64..).inspect(move |_| {
        pulled.fetch_add(1, Ordering::Relaxed);
    })
}

#[test]
fn event_time_tumbling_holds_at_most_its_open_windows() {
    const SIZE: i64 = 100;
    const OOO: i64 = 10;
    let pulled = Arc::new(AtomicU64::new(0));
    let mut windows = endless(pulled.clone())
        .event_time_window(Tumbling::event_time(SIZE).out_of_orderness(OOO), |t| *t)
        .unwrap();
    let mut emitted = 0u64;
    futures::executor::block_on(async {
        for _ in 0..2_000 {
            match windows.next().await {
                Some(WindowEvent::Fired(w)) => emitted += w.count,
                other => panic!("unexpected {other:?}"),
            }
            let held = pulled.load(Ordering::Relaxed) - emitted;
            let stats = windows.stats();
            // The window being filled plus the out-of-orderness tail of the previous one.
            assert!(held <= (SIZE + OOO + 1) as u64, "held {held}");
            assert_eq!(held, stats.held_elements);
            assert!(stats.open_windows <= 2);
        }
    });
    assert!(pulled.load(Ordering::Relaxed) >= 2_000 * SIZE as u64);
}

#[test]
fn sliding_fold_holds_one_accumulator_per_open_window() {
    let pulled = Arc::new(AtomicU64::new(0));
    let mut windows = endless(pulled.clone())
        .event_time_window(Sliding::event_time(30, 10), |t| *t)
        .unwrap()
        .fold_windows(0i64, |n, _| n + 1);
    futures::executor::block_on(async {
        for _ in 0..1_000 {
            assert!(windows.next().await.unwrap().is_fired());
            assert!(windows.stats().open_windows <= 3);
            assert!(windows.stats().held_elements <= 3 * 30);
        }
    });
}

#[test]
fn ever_new_keys_are_bounded_by_max_open_windows() {
    const MAX: usize = 64;
    let pulled = Arc::new(AtomicU64::new(0));
    let mut windows = endless(pulled.clone())
        .key_by(|t| *t)
        .event_time_window(
            Tumbling::event_time(1_000_000)
                .out_of_orderness(1_000_000)
                .max_open_windows(MAX),
            |t| *t,
        )
        .unwrap();
    let mut emitted = 0u64;
    futures::executor::block_on(async {
        for _ in 0..5_000 {
            match windows.next().await {
                Some(WindowEvent::Fired(w)) => emitted += w.count,
                other => panic!("unexpected {other:?}"),
            }
            let held = pulled.load(Ordering::Relaxed) - emitted;
            assert!(held <= MAX as u64, "held {held}");
            assert!(windows.stats().open_windows <= MAX);
        }
    });
    assert_eq!(windows.stats().evicted, 5_000);
}

#[test]
fn count_windows_hold_at_most_one_window_of_elements() {
    let pulled = Arc::new(AtomicU64::new(0));
    let mut windows = endless(pulled.clone())
        .count_window(Tumbling::count(50))
        .unwrap();
    let mut emitted = 0u64;
    futures::executor::block_on(async {
        for _ in 0..1_000 {
            let w = windows.next().await.unwrap().into_window().unwrap();
            emitted += w.count;
            assert!(pulled.load(Ordering::Relaxed) - emitted <= 50);
        }
    });
}

#[test]
fn an_endless_stream_without_output_still_yields_to_the_executor() {
    // Every element goes to the same never-closing window: the operator must return
    // `Pending` (after waking itself) now and then instead of looping forever.
    let mut windows = stream::repeat(5i64)
        .event_time_window(Tumbling::event_time(10), |t| *t)
        .unwrap();
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    let polled = std::pin::Pin::new(&mut windows).poll_next(&mut cx);
    assert!(polled.is_pending());
    assert!(windows.stats().elements > 0);
    assert_eq!(windows.stats().held_elements, windows.stats().elements);
}
