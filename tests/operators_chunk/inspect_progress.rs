//! `inspect_progress(every, f)` and `inspect_progress_bytes`: reports every n items and at
//! the end, elapsed on paused time.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::{StreamExt, stream};
use sweet_async::operators::Progress;
use sweet_async::prelude::*;
use tokio::time::sleep;

use crate::{Counted, assert_fused, ms};

/// `items` items, one every 100 ms.
fn ticking(items: u64) -> impl futures::Stream<Item = u64> {
    stream::iter(0..items).then(|i| async move {
        sleep(ms(100)).await;
        i
    })
}

#[tokio::test(start_paused = true)]
async fn reports_every_n_items_and_at_the_end() {
    let mut reports: Vec<Progress> = Vec::new();
    let n = ticking(7)
        .inspect_progress(3.items(), |p| reports.push(*p))
        .unwrap()
        .count()
        .await;
    assert_eq!(n, 7);
    let seen: Vec<(u64, Option<u64>, Duration, f64, bool)> = reports
        .iter()
        .map(|p| (p.items, p.bytes, p.elapsed, p.rate, p.finished))
        .collect();
    assert_eq!(
        seen,
        vec![
            (3, None, ms(300), 10.0, false),
            (6, None, ms(600), 10.0, false),
            (7, None, ms(700), 10.0, true),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_last_report_comes_even_on_a_multiple_and_on_an_empty_stream() {
    let mut reports = Vec::new();
    ticking(4)
        .inspect_progress(2, |p| reports.push((p.items, p.finished)))
        .unwrap()
        .for_each(|_| async {})
        .await;
    assert_eq!(reports, vec![(2, false), (4, false), (4, true)]);

    let mut reports = Vec::new();
    stream::empty::<u8>()
        .inspect_progress(2, |p| reports.push((p.items, p.rate, p.finished)))
        .unwrap()
        .for_each(|_| async {})
        .await;
    assert_eq!(reports, vec![(0, 0.0, true)]);
}

#[tokio::test(start_paused = true)]
async fn counts_bytes_when_asked() {
    let mut reports = Vec::new();
    let lines = stream::iter(["ab", "cde", "f"]).then(|l| async move {
        sleep(ms(500)).await;
        l
    });
    lines
        .inspect_progress_bytes(
            2,
            |l| l.len() as u64,
            |p| reports.push((p.items, p.bytes, p.bytes_per_second())),
        )
        .unwrap()
        .for_each(|_| async {})
        .await;
    assert_eq!(
        reports,
        vec![(2, Some(5), Some(5.0)), (3, Some(6), Some(4.0))]
    );
}

#[tokio::test(start_paused = true)]
async fn elapsed_runs_from_the_first_poll() {
    let s = ticking(2).inspect_progress(1, |_| {}).unwrap();
    sleep(ms(5_000)).await; // built long before it is polled
    let mut s = Box::pin(s);
    assert_eq!(s.progress().elapsed, Duration::ZERO);
    s.next().await;
    let p = s.progress();
    assert_eq!((p.items, p.elapsed, p.finished), (1, ms(100), false));
}

#[test]
fn zero_interval_is_a_config_error() {
    assert_eq!(
        stream::iter([1]).inspect_progress(0, |_| {}).unwrap_err(),
        ConfigError::Zero {
            setting: "progress interval"
        }
    );
    assert!(
        stream::iter([1])
            .inspect_progress_bytes(0.rows(), |_| 1, |_| {})
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn fused_after_the_end_with_one_final_report() {
    let upstream = Counted::new(stream::iter(0..3));
    let polled_after_end = upstream.polled_after_end.clone();
    let mut finals = 0;
    {
        let mut s = upstream
            .inspect_progress(10, |p| finals += usize::from(p.finished))
            .unwrap();
        assert_eq!(s.by_ref().count().await, 3);
        assert_fused(&mut s);
    }
    assert_eq!(finals, 1);
    assert_eq!(polled_after_end.load(Ordering::SeqCst), 0);
}
