//! `order_by_timestamp`: exact outputs, watermark timing, late elements, the hard cap,
//! panics, fusing, the bound, and a reference model.

use std::sync::atomic::Ordering as AtomicOrdering;
use std::task::Poll;

use futures::Stream;
use futures::channel::mpsc;
use futures::stream::FusedStream;
use futures::{StreamExt, poll, stream};
use proptest::prelude::*;
use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::Sequenced::{self, Item, Late};

use crate::{assert_balanced, counted, oks, run};

type Ev = (i64, char);

fn order(input: &[Ev], d: i64) -> Vec<Sequenced<Ev>> {
    oks(run(stream::iter(input.to_vec())
        .order_by_timestamp(d, |e| e.0)
        .unwrap()))
}

#[test]
fn orders_behind_the_watermark_and_reports_late_elements() {
    let input = [
        (10, 'a'),
        (12, 'b'),
        (11, 'c'),
        (16, 'd'),
        (9, 'e'),
        (20, 'f'),
    ];
    assert_eq!(
        order(&input, 2),
        [
            Item((10, 'a')),
            Item((11, 'c')),
            Item((12, 'b')),
            Late((9, 'e')),
            Item((16, 'd')),
            Item((20, 'f')),
        ]
    );
}

#[test]
fn equal_timestamps_keep_arrival_order() {
    let input = [(5, 'a'), (3, 'b'), (5, 'c'), (3, 'd'), (9, 'e'), (5, 'f')];
    assert_eq!(
        order(&input, 100),
        [
            Item((3, 'b')),
            Item((3, 'd')),
            Item((5, 'a')),
            Item((5, 'c')),
            Item((5, 'f')),
            Item((9, 'e')),
        ]
    );
}

#[test]
fn an_element_at_the_last_emitted_timestamp_is_not_late() {
    // d = 0: W = max - 1. 5 goes out when 6 arrives; the second 5 is behind the
    // watermark but not behind the last emitted timestamp, so it is still in order.
    let input = [(5, 'a'), (6, 'b'), (5, 'c'), (4, 'd')];
    assert_eq!(
        order(&input, 0),
        [
            Item((5, 'a')),
            Item((5, 'c')),
            Late((4, 'd')),
            Item((6, 'b')),
        ]
    );
}

#[tokio::test]
async fn releases_exactly_when_the_watermark_reaches_the_timestamp() {
    // Out-of-orderness 2: the element at 0 goes out once W = max - 3 >= 0, i.e. when an
    // element with ts >= 3 has been seen (Flink's check vector).
    let (tx, rx) = mpsc::unbounded::<i64>();
    let mut s = rx.order_by_timestamp(2, |ts| *ts).unwrap();
    tx.unbounded_send(0).unwrap();
    tx.unbounded_send(2).unwrap();
    assert!(poll!(s.next()).is_pending());
    assert_eq!(s.watermark(), Some(-1));
    tx.unbounded_send(3).unwrap();
    assert_eq!(s.next().await.unwrap().unwrap(), Item(0));
    assert!(poll!(s.next()).is_pending());
    tx.unbounded_send(5).unwrap();
    assert_eq!(s.next().await.unwrap().unwrap(), Item(2));
    assert!(poll!(s.next()).is_pending());
    drop(tx);
    assert_eq!(s.next().await.unwrap().unwrap(), Item(3));
    assert_eq!(s.next().await.unwrap().unwrap(), Item(5));
    assert!(s.next().await.is_none());
    let c = s.counts();
    assert_eq!(
        (c.items_in, c.emitted, c.late, c.out_of_order),
        (4, 4, 0, 0)
    );
    assert_balanced(c);
}

#[test]
fn counts_out_of_order_and_late() {
    let mut s = stream::iter([10_i64, 7, 15, 11, 3, 20])
        .order_by_timestamp(3, |ts| *ts)
        .unwrap();
    let out = oks(futures::executor::block_on((&mut s).collect::<Vec<_>>()));
    // 7 (< 10): out of order, buffered. 15: W = 11 releases 7, 10. 11 (< 15): out of
    // order, still in order. 3: late. 20: W = 16 releases 11, 15.
    assert_eq!(
        out,
        [Item(7), Item(10), Item(11), Late(3), Item(15), Item(20)]
    );
    let c = s.counts();
    assert_eq!(
        (c.items_in, c.emitted, c.out_of_order, c.late, c.forced),
        (6, 5, 3, 1, 0)
    );
    assert_balanced(c);
}

#[test]
fn hard_cap_emits_the_oldest_early_and_never_drops() {
    let mut s = stream::iter([5_i64, 3, 8, 1, 9, 4])
        .order_by_timestamp(100, |ts| *ts)
        .unwrap()
        .with_max_buffered(2)
        .unwrap();
    assert_eq!(s.max_buffered(), 2);
    let out = oks(futures::executor::block_on((&mut s).collect::<Vec<_>>()));
    assert_eq!(out, [Item(3), Late(1), Item(5), Late(4), Item(8), Item(9)]);
    let c = s.counts();
    assert_eq!((c.forced, c.late, c.emitted, c.peak_buffered), (2, 2, 4, 2));
    assert_balanced(c);
}

#[test]
fn hard_cap_picks_the_new_element_when_it_is_the_oldest() {
    let out = oks(run(stream::iter([5_i64, 6, 2, 7])
        .order_by_timestamp(100, |ts| *ts)
        .unwrap()
        .with_max_buffered(2)
        .unwrap()));
    assert_eq!(out, [Item(2), Item(5), Item(6), Item(7)]);
}

#[test]
fn invalid_settings_are_config_errors() {
    let err = stream::iter([1_i64])
        .order_by_timestamp(-1, |ts| *ts)
        .unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Invalid {
            setting: "max out-of-orderness",
            ..
        }
    ));
    let err = stream::iter([1_i64])
        .order_by_timestamp(0, |ts| *ts)
        .unwrap()
        .with_max_buffered(0)
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::Zero {
            setting: "max buffered"
        }
    );
}

#[test]
fn extreme_timestamps_do_not_overflow() {
    let out = oks(run(stream::iter([i64::MAX, i64::MIN, 0])
        .order_by_timestamp(i64::MAX, |ts| *ts)
        .unwrap()));
    assert_eq!(out, [Item(i64::MIN), Item(0), Item(i64::MAX)]);
}

#[test]
fn a_panicking_key_hands_everything_back_and_ends() {
    let mut s = stream::iter([3_i64, 1, 2, -1, 5])
        .order_by_timestamp(10, |ts| {
            assert!(*ts >= 0, "negative timestamp");
            *ts
        })
        .unwrap();
    let out = futures::executor::block_on((&mut s).collect::<Vec<_>>());
    assert_eq!(out.len(), 1);
    let err = out.into_iter().next().unwrap().unwrap_err();
    assert_eq!(err.operator(), "order_by_timestamp");
    assert!(err.to_string().contains("negative timestamp"), "{err}");
    assert_eq!(err.into_items(), [-1, 1, 2, 3]);
    assert!(s.is_terminated());
    let c = s.counts();
    assert_eq!((c.items_in, c.handed_back), (4, 4));
    assert_balanced(c);
}

#[tokio::test]
async fn is_fused() {
    let mut s = stream::iter([2_i64, 1])
        .order_by_timestamp(5, |ts| *ts)
        .unwrap();
    assert!(!s.is_terminated());
    assert_eq!(s.size_hint(), (1, Some(2)));
    assert_eq!(s.next().await.unwrap().unwrap(), Item(1));
    assert_eq!(s.size_hint(), (1, Some(1)));
    assert_eq!(s.next().await.unwrap().unwrap(), Item(2));
    assert!(s.next().await.is_none());
    assert!(s.is_terminated());
    assert_eq!(s.size_hint(), (0, Some(0)));
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn endless_producer_never_exceeds_the_bound() {
    // Timestamps that never advance: the watermark never releases anything, so only the
    // hard cap keeps the buffer bounded.
    let (src, pulled) = counted(std::iter::repeat(42_i64));
    let mut s = src
        .order_by_timestamp(10, |ts| *ts)
        .unwrap()
        .with_max_buffered(100)
        .unwrap();
    for out in 1..=10_000_u64 {
        assert!(matches!(s.next().await, Some(Ok(Item(42)))));
        let held = pulled.load(AtomicOrdering::Relaxed) - out;
        assert!(held <= 100, "held {held}");
    }
    assert_eq!(s.counts().peak_buffered, 100);
    assert_balanced(s.counts());

    // Advancing timestamps with jitter: the watermark bounds the buffer by itself.
    let (src, pulled) = counted((0_i64..).map(|i| i * 10 + (i * 7919) % 50));
    let mut s = src.order_by_timestamp(60, |ts| *ts).unwrap();
    let mut outs = 0;
    while outs < 10_000 {
        match poll!(s.next()) {
            Poll::Ready(Some(Ok(_))) => outs += 1,
            other => panic!("{other:?}"),
        }
        assert!(pulled.load(AtomicOrdering::Relaxed) - outs <= 20);
    }
}

/// Brute-force model: a plain list, scanned for its minimum `(ts, arrival)`.
fn model(input: &[i64], d: i64, cap: usize) -> Vec<Sequenced<(usize, i64)>> {
    let mut out = Vec::new();
    let mut buf: Vec<(i64, usize)> = Vec::new();
    let mut max: Option<i64> = None;
    let mut last: Option<i64> = None;
    let mut release = i128::MIN;
    let take_min = |buf: &mut Vec<(i64, usize)>| {
        let i = (0..buf.len()).min_by_key(|&i| buf[i]).unwrap();
        buf.remove(i)
    };
    for (seq, &ts) in input.iter().enumerate() {
        if last.is_some_and(|l| ts < l) {
            out.push(Late((seq, ts)));
            continue;
        }
        if max.is_none_or(|m| ts > m) {
            max = Some(ts);
            release = release.max(i128::from(ts) - i128::from(d) - 1);
        }
        buf.push((ts, seq));
        if buf.len() > cap {
            let (t, s) = take_min(&mut buf);
            out.push(Item((s, t)));
            last = Some(t);
            release = release.max(i128::from(t));
        }
        while !buf.is_empty() {
            let (t, s) = *buf.iter().min().unwrap();
            if i128::from(t) > release {
                break;
            }
            take_min(&mut buf);
            out.push(Item((s, t)));
            last = Some(t);
            release = release.max(i128::from(t));
        }
    }
    buf.sort();
    out.extend(buf.into_iter().map(|(t, s)| Item((s, t))));
    out
}

proptest! {
    #[test]
    fn matches_the_model(
        input in prop::collection::vec(0_i64..60, 0..80),
        d in 0_i64..10,
        cap in prop_oneof![1_usize..8, Just(1_000)],
    ) {
        let tagged: Vec<(usize, i64)> = input.iter().copied().enumerate().collect();
        let mut s = stream::iter(tagged)
            .order_by_timestamp(d, |e| e.1)
            .unwrap()
            .with_max_buffered(cap)
            .unwrap();
        let out = oks(futures::executor::block_on((&mut s).collect::<Vec<_>>()));
        prop_assert_eq!(&out, &model(&input, d, cap));

        // Items only are non-decreasing; items in = items out + late.
        let items: Vec<i64> = out.iter().filter_map(|o| o.as_item().map(|e| e.1)).collect();
        prop_assert!(items.windows(2).all(|w| w[0] <= w[1]));
        let late = out.iter().filter(|o| o.is_late()).count();
        prop_assert_eq!(input.len(), items.len() + late);
        let c = s.counts();
        prop_assert_eq!(c.items_in as usize, input.len());
        prop_assert_eq!((c.emitted as usize, c.late as usize), (items.len(), late));
        prop_assert!(c.peak_buffered as usize <= cap);
        assert_balanced(c);
        // Every input element comes out exactly once.
        let mut seen: Vec<usize> = out.into_iter().filter_map(|o| o.into_element()).map(|e| e.0).collect();
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..input.len()).collect::<Vec<_>>());
    }
}

/// The seed's log-aggregation case: entries from several servers, up to 30 s late, put in
/// chronological order; late entries and silent periods counted in the final summary.
#[test]
fn log_aggregation_use_case() {
    #[derive(Debug, Clone, PartialEq)]
    struct LogEntry {
        server: &'static str,
        at_ms: i64,
    }
    let entry = |server, s: i64| LogEntry {
        server,
        at_ms: s * 1_000,
    };
    let entries = vec![
        entry("web-1", 0),
        entry("web-2", 20),
        entry("web-1", 5), // 15 s behind: reordered
        entry("db-1", 40),
        entry("web-2", 2), // behind 5 s, already emitted: late
        entry("db-1", 200),
        entry("web-1", 210),
    ];
    let mut ordered = stream::iter(entries)
        .order_by_timestamp(30_000, |e| e.at_ms)
        .unwrap();
    let out = oks(futures::executor::block_on(
        (&mut ordered).collect::<Vec<_>>(),
    ));
    let late: Vec<_> = out.iter().filter(|o| o.is_late()).collect();
    assert_eq!(late, [&Late(entry("web-2", 2))]);
    let in_order = out.into_iter().filter_map(Sequenced::into_item);
    // Periods longer than a minute without any log line.
    let mut gaps = stream::iter(in_order)
        .detect_gaps(60_000, |e| e.at_ms)
        .unwrap();
    let marked = oks(futures::executor::block_on((&mut gaps).collect::<Vec<_>>()));
    let servers: Vec<_> = marked
        .iter()
        .map(|o| match o {
            Item(e) => format!("{}@{}", e.server, e.at_ms / 1_000),
            other => format!("{:?}", other.gap()),
        })
        .collect();
    assert_eq!(
        servers,
        [
            "web-1@0",
            "web-1@5",
            "web-2@20",
            "db-1@40",
            "Some((40000, 200000))",
            "db-1@200",
            "web-1@210"
        ]
    );
    let (o, g) = (ordered.counts(), gaps.counts());
    assert_eq!((o.out_of_order, o.late, g.gaps), (2, 1, 1));
}
