//! Keyed event-time windows: one window set per key, one watermark for the stream, and the
//! bound on open windows.

use futures::{StreamExt, stream};
use sweet_async::operators::DataflowExt;
use sweet_async::operators::window::{FireReason, Session, Tumbling};

use super::{Out, run};
use FireReason::{EndOfStream, Evicted, Watermark};

#[derive(Debug, Clone, PartialEq)]
struct Trade {
    symbol: &'static str,
    ts: i64,
    qty: u32,
}

fn t(symbol: &'static str, ts: i64, qty: u32) -> Trade {
    Trade { symbol, ts, qty }
}

#[test]
fn windows_per_key_share_one_watermark() {
    let trades = vec![
        t("ACME", 1, 10),
        t("INIT", 2, 5),
        t("ACME", 3, 1),
        // INIT's element moves the watermark for every key: [0, 5) fires for both.
        t("INIT", 6, 7),
        t("ACME", 8, 2),
    ];
    let windows = stream::iter(trades)
        .key_by(|t| t.symbol)
        .event_time_window(Tumbling::event_time(5), |t| t.ts)
        .unwrap()
        .fold_windows(0u32, |qty, t| qty + t.qty);
    assert_eq!(
        run(windows),
        vec![
            Out::Fired("ACME", 0, 5, 11, Watermark, false),
            Out::Fired("INIT", 0, 5, 5, Watermark, false),
            Out::Fired("INIT", 5, 10, 7, EndOfStream, false),
            Out::Fired("ACME", 5, 10, 2, EndOfStream, false),
        ]
    );
}

#[test]
fn the_open_window_bound_evicts_the_smallest_end_first() {
    let trades = vec![
        t("A", 12, 1),
        t("B", 3, 1),
        // Third window: B's [0, 10) has the smallest end and fires early.
        t("C", 14, 1),
        t("B", 4, 1),
    ];
    let mut windows = stream::iter(trades)
        .key_by(|t| t.symbol)
        .event_time_window(
            Tumbling::event_time(10)
                .out_of_orderness(100)
                .max_open_windows(2),
            |t| t.ts,
        )
        .unwrap()
        .fold_windows(Vec::new(), |mut v, t| {
            v.push(t.ts);
            v
        });
    let out: Vec<_> = futures::executor::block_on(async {
        let mut out = Vec::new();
        while let Some(event) = windows.next().await {
            out.push(Out::from(event));
            assert!(windows.stats().open_windows <= 2);
        }
        out
    });
    assert_eq!(
        out,
        vec![
            Out::Fired("B", 0, 10, vec![3], Evicted, false),
            // B's next element reopens [0, 10): A's and C's [10, 20) have equal ends, and
            // A, opened first, fires early to make room.
            Out::Fired("A", 10, 20, vec![12], Evicted, false),
            Out::Fired("B", 0, 10, vec![4], EndOfStream, false),
            Out::Fired("C", 10, 20, vec![14], EndOfStream, false),
        ]
    );
    let stats = windows.stats();
    assert_eq!((stats.evicted, stats.fired, stats.late), (2, 4, 0));
}

#[test]
fn keyed_sessions_do_not_merge_across_keys() {
    let trades = vec![t("A", 0, 1), t("B", 3, 1), t("A", 4, 1), t("B", 20, 1)];
    let windows = stream::iter(trades)
        .key_by(|t| t.symbol)
        .event_time_window(Session::event_time(5), |t| t.ts)
        .unwrap()
        .reduce_windows(|a, b| Trade {
            qty: a.qty + b.qty,
            ..a
        });
    let out: Vec<_> = run(windows)
        .into_iter()
        .map(|o| match o {
            Out::Fired(k, s, e, v, r, _) => (k, s, e, v.qty, r),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        out,
        vec![
            // Both fire at W = 19, in the order of their ends.
            ("B", 3, 8, 1, Watermark),
            ("A", 0, 9, 2, Watermark),
            ("B", 20, 25, 1, EndOfStream),
        ]
    );
}
