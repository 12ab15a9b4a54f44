//! `reorder_by_id`: exact outputs, gaps by bound, by timeout (paused time) and at the
//! end, duplicates and already-passed ids, panics, fusing, the bound, and a model.

use std::sync::atomic::Ordering as AtomicOrdering;
use std::time::Duration;

use futures::Stream;
use futures::channel::mpsc;
use futures::stream::FusedStream;
use futures::{StreamExt, poll, stream};
use proptest::prelude::*;
use sweet_async::error::{ConfigError, TaskError};
use sweet_async::operators::Sequenced::{self, AlreadyPassed, Duplicate, Gap, Item};
use sweet_async::operators::{DataflowExt, ReorderConfig};
use sweet_async::prelude::TimeExt;
use tokio::time::Instant;

use crate::{assert_balanced, counted, oks, run};

fn reorder(input: &[u64], config: impl Into<ReorderConfig>) -> Vec<Sequenced<u64, u64>> {
    oks(run(stream::iter(input.to_vec())
        .reorder_by_id(config, |id| *id)
        .unwrap()))
}

#[test]
fn restores_order_and_reports_duplicates_and_passed_ids() {
    assert_eq!(
        reorder(&[0, 2, 1, 1, 5, 5, 3, 4, 9], 8),
        [
            Item(0),
            Item(1),
            Item(2),
            AlreadyPassed(1),
            Duplicate(5),
            Item(3),
            Item(4),
            Item(5),
            Gap { from: 6, to: 8 },
            Item(9),
        ]
    );
}

#[test]
fn a_duplicate_of_a_buffered_id_is_reported_before_the_original_comes_out() {
    assert_eq!(
        reorder(&[0, 2, 2, 1], 4),
        [Item(0), Duplicate(2), Item(1), Item(2)]
    );
}

#[test]
fn overflowing_the_buffer_gives_up_the_missing_ids() {
    let mut s = stream::iter([0_u64, 3, 4, 5, 1, 2, 6])
        .reorder_by_id(2, |id| *id)
        .unwrap();
    let out = oks(futures::executor::block_on((&mut s).collect::<Vec<_>>()));
    assert_eq!(
        out,
        [
            Item(0),
            Gap { from: 1, to: 2 },
            Item(3),
            Item(4),
            Item(5),
            AlreadyPassed(1),
            AlreadyPassed(2),
            Item(6),
        ]
    );
    let c = s.counts();
    assert_eq!(
        (
            c.items_in,
            c.emitted,
            c.gaps,
            c.missing,
            c.already_passed,
            c.out_of_order
        ),
        (7, 5, 1, 2, 2, 3)
    );
    assert_eq!(c.peak_buffered, 3, "the overflowing element, for one poll");
    assert_balanced(c);
}

#[test]
fn end_of_stream_flushes_with_gap_markers_for_the_holes() {
    assert_eq!(
        reorder(&[0, 9, 2, 6, 5], 10),
        [
            Item(0),
            Gap { from: 1, to: 1 },
            Item(2),
            Gap { from: 3, to: 4 },
            Item(5),
            Item(6),
            Gap { from: 7, to: 8 },
            Item(9),
        ]
    );
    // Nothing buffered at the end: no gap, whatever id came last.
    assert_eq!(reorder(&[0, 1], 10), [Item(0), Item(1)]);
    assert_eq!(reorder(&[], 10), []);
}

#[test]
fn ids_far_ahead_of_the_next_one() {
    assert_eq!(
        reorder(&[0, 100, 3, 100, 2, 1, 50], 4),
        [
            Item(0),
            Duplicate(100),
            Item(1),
            Item(2),
            Item(3),
            Gap { from: 4, to: 49 },
            Item(50),
            Gap { from: 51, to: 99 },
            Item(100),
        ]
    );
    // 6 is buffered while far ahead; when the next id comes close to it, a second 6 is
    // still recognized as a duplicate.
    assert_eq!(
        reorder(&[0, 6, 2, 1, 6], 4),
        [
            Item(0),
            Item(1),
            Item(2),
            Duplicate(6),
            Gap { from: 3, to: 5 },
            Item(6),
        ]
    );
}

#[test]
fn first_id_and_first_seen() {
    assert_eq!(
        reorder(&[9, 11, 10], ReorderConfig::new(4).first_id(10)),
        [AlreadyPassed(9), Item(10), Item(11)]
    );
    assert_eq!(
        reorder(&[5, 7, 6, 3], ReorderConfig::new(4).first_seen()),
        [Item(5), Item(6), Item(7), AlreadyPassed(3)]
    );
    // The default starts at 0: the ids before 5 are a gap at the end.
    assert_eq!(
        reorder(&[5, 6], 4),
        [Gap { from: 0, to: 4 }, Item(5), Item(6)]
    );
}

#[test]
fn the_last_id_does_not_overflow() {
    let max = u64::MAX;
    assert_eq!(
        reorder(
            &[max, max - 1, 5, max],
            ReorderConfig::new(4).first_id(max - 1)
        ),
        [
            Item(max - 1),
            Item(max),
            AlreadyPassed(5),
            AlreadyPassed(max)
        ]
    );
}

#[test]
fn invalid_settings_are_config_errors() {
    let err = stream::iter([0_u64])
        .reorder_by_id(0, |id| *id)
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::Zero {
            setting: "max buffered"
        }
    );
    let err = stream::iter([0_u64])
        .reorder_by_id(ReorderConfig::new(4).gap_timeout(Duration::ZERO), |id| *id)
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::ZeroDuration {
            setting: "gap timeout"
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_gap_is_given_up_after_the_timeout() {
    let start = Instant::now();
    let (tx, rx) = mpsc::unbounded::<u64>();
    let config = ReorderConfig::new(100).gap_timeout(5.seconds());
    let mut s = rx.reorder_by_id(config, |id| *id).unwrap();
    for id in [0, 2, 4] {
        tx.unbounded_send(id).unwrap();
    }
    assert_eq!(s.next().await.unwrap().unwrap(), Item(0));
    // Waiting for 1 since 2 arrived (t = 0).
    assert_eq!(s.next().await.unwrap().unwrap(), Gap { from: 1, to: 1 });
    assert_eq!(start.elapsed(), 5.seconds());
    assert_eq!(s.next().await.unwrap().unwrap(), Item(2));
    // Waiting for 3 since 2 was emitted (t = 5 s).
    assert_eq!(s.next().await.unwrap().unwrap(), Gap { from: 3, to: 3 });
    assert_eq!(start.elapsed(), 10.seconds());
    assert_eq!(s.next().await.unwrap().unwrap(), Item(4));
    // Nothing buffered: no timer, the stream just waits.
    tokio::time::sleep(60.seconds()).await;
    assert!(poll!(s.next()).is_pending());
    tx.unbounded_send(1).unwrap();
    assert_eq!(s.next().await.unwrap().unwrap(), AlreadyPassed(1));
    drop(tx);
    assert!(s.next().await.is_none());
    let c = s.counts();
    assert_eq!((c.gaps, c.missing, c.already_passed), (2, 2, 1));
    assert_balanced(c);
}

#[tokio::test(start_paused = true)]
async fn an_id_that_arrives_before_the_timeout_fills_the_gap() {
    let (tx, rx) = mpsc::unbounded::<u64>();
    let config = ReorderConfig::new(100).gap_timeout(5.seconds());
    let mut s = rx.reorder_by_id(config, |id| *id).unwrap();
    tx.unbounded_send(0).unwrap();
    tx.unbounded_send(2).unwrap();
    assert_eq!(s.next().await.unwrap().unwrap(), Item(0));
    assert!(poll!(s.next()).is_pending());
    tokio::time::advance(4.seconds()).await;
    assert!(poll!(s.next()).is_pending());
    tx.unbounded_send(1).unwrap();
    assert_eq!(s.next().await.unwrap().unwrap(), Item(1));
    assert_eq!(s.next().await.unwrap().unwrap(), Item(2));
    tokio::time::advance(10.seconds()).await;
    assert!(poll!(s.next()).is_pending());
    assert_eq!(s.counts().gaps, 0);
}

#[test]
fn a_timeout_without_a_runtime_is_an_error_not_a_panic() {
    let src = stream::iter([0_u64, 2]).chain(stream::pending());
    let config = ReorderConfig::new(100).gap_timeout(5.seconds());
    let mut s = src.reorder_by_id(config, |id| *id).unwrap();
    futures::executor::block_on(async {
        assert_eq!(s.next().await.unwrap().unwrap(), Item(0));
        let err = s.next().await.unwrap().unwrap_err();
        assert!(matches!(err.error(), TaskError::NoRuntime));
        assert_eq!(err.items(), [2]);
        assert!(s.next().await.is_none());
        assert!(s.is_terminated());
    });
}

#[test]
fn a_panicking_id_hands_back_everything_in_id_order() {
    let mut s = stream::iter([0_u64, 7, 3, 5, 99, 1])
        .reorder_by_id(10, |id| {
            assert!(*id < 50, "id out of range");
            *id
        })
        .unwrap();
    let out = futures::executor::block_on((&mut s).collect::<Vec<_>>());
    assert_eq!(out.len(), 2);
    let mut out = out.into_iter();
    assert_eq!(out.next().unwrap().unwrap(), Item(0));
    let err = out.next().unwrap().unwrap_err();
    assert!(err.to_string().contains("id out of range"), "{err}");
    assert_eq!(err.into_items(), [99, 3, 5, 7]);
    assert!(s.is_terminated());
    assert_balanced(s.counts());
}

#[tokio::test]
async fn is_fused() {
    let mut s = stream::iter([1_u64, 0]).reorder_by_id(4, |id| *id).unwrap();
    assert_eq!(s.size_hint(), (1, Some(4)));
    assert_eq!(s.next().await.unwrap().unwrap(), Item(0));
    assert_eq!(s.next().await.unwrap().unwrap(), Item(1));
    assert!(s.next().await.is_none());
    assert!(s.is_terminated());
    assert_eq!(s.size_hint(), (0, Some(0)));
    assert!(s.next().await.is_none());
}

fn held(pulled: u64, c: sweet_async::operators::SequenceCounts) -> u64 {
    pulled - (c.emitted + c.duplicates + c.already_passed)
}

#[tokio::test]
async fn endless_producer_never_exceeds_the_bound() {
    // Only odd ids: every even id is missing, so the buffer keeps overflowing.
    let (src, pulled) = counted((0_u64..).map(|i| 2 * i + 1));
    let mut s = src.reorder_by_id(64, |id| *id).unwrap();
    for _ in 0..10_000 {
        let out = s.next().await.unwrap().unwrap();
        let h = held(pulled.load(AtomicOrdering::Relaxed), s.counts());
        match out {
            Item(_) => assert!(h <= 64, "held {h} after an item"),
            Gap { .. } => assert!(h <= 65, "held {h} after a gap"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(s.counts().peak_buffered, 65);

    // Reversed blocks of 1000: far more disorder than the buffer can absorb.
    let (src, pulled) = counted((0_u64..).map(|i| (i / 1000) * 1000 + 999 - i % 1000));
    let mut s = src.reorder_by_id(64, |id| *id).unwrap();
    for _ in 0..10_000 {
        let out = s.next().await.unwrap().unwrap();
        let h = held(pulled.load(AtomicOrdering::Relaxed), s.counts());
        assert!(h <= if out.is_gap() { 65 } else { 64 }, "held {h}");
    }
    assert_balanced(s.counts());
}

/// Brute-force model: a plain list searched linearly.
fn model(ids: &[u64], max: usize, first: Option<u64>) -> Vec<Sequenced<u64, u64>> {
    let mut out = Vec::new();
    let mut next = first;
    let mut buf: Vec<u64> = Vec::new();
    let drain = |next: &mut u64, buf: &mut Vec<u64>, out: &mut Vec<_>| {
        while let Some(i) = buf.iter().position(|b| b == next) {
            buf.remove(i);
            out.push(Item(*next));
            *next += 1;
        }
    };
    for &id in ids {
        let n = next.get_or_insert(id);
        if id < *n {
            out.push(AlreadyPassed(id));
        } else if id == *n {
            out.push(Item(id));
            *n += 1;
            drain(n, &mut buf, &mut out);
        } else if buf.contains(&id) {
            out.push(Duplicate(id));
        } else {
            buf.push(id);
            if buf.len() > max {
                let m = *buf.iter().min().unwrap();
                out.push(Gap {
                    from: *n,
                    to: m - 1,
                });
                *n = m;
                drain(n, &mut buf, &mut out);
            }
        }
    }
    while let Some(&m) = buf.iter().min() {
        let n = next.as_mut().unwrap();
        out.push(Gap {
            from: *n,
            to: m - 1,
        });
        *n = m;
        drain(n, &mut buf, &mut out);
    }
    out
}

proptest! {
    #[test]
    fn matches_the_model_and_keeps_the_invariants(
        ids in prop::collection::vec(0_u64..40, 0..80),
        max in 1_usize..10,
        first in prop_oneof![Just(None), (0_u64..5).prop_map(Some)],
    ) {
        let config = match first {
            Some(f) => ReorderConfig::new(max).first_id(f),
            None => ReorderConfig::new(max).first_seen(),
        };
        let mut s = stream::iter(ids.clone()).reorder_by_id(config, |id| *id).unwrap();
        let out = oks(futures::executor::block_on((&mut s).collect::<Vec<_>>()));
        prop_assert_eq!(&out, &model(&ids, max, first));

        // Emitted ids strictly increase (so no duplicates are emitted).
        let items: Vec<u64> = out.iter().filter_map(|o| o.as_item().copied()).collect();
        prop_assert!(items.windows(2).all(|w| w[0] < w[1]));
        // Every id in [first, max] is emitted or inside exactly one gap, and gaps only
        // cover ids that were not emitted.
        let gaps: Vec<(u64, u64)> = out.iter().filter_map(Sequenced::gap).collect();
        let start = first.or(ids.first().copied());
        let end = items.iter().copied().chain(gaps.iter().map(|g| g.1)).max();
        if let (Some(start), Some(end)) = (start, end) {
            for id in start..=end {
                let emitted = usize::from(items.binary_search(&id).is_ok());
                let in_gaps = gaps.iter().filter(|(f, t)| (*f..=*t).contains(&id)).count();
                prop_assert_eq!(emitted + in_gaps, 1, "id {}", id);
            }
        }
        // Items in = items out + duplicates + already passed.
        let dups = out.iter().filter(|o| o.is_duplicate()).count();
        let passed = out.iter().filter(|o| o.is_already_passed()).count();
        prop_assert_eq!(ids.len(), items.len() + dups + passed);
        let c = s.counts();
        prop_assert_eq!(
            (c.emitted as usize, c.duplicates as usize, c.already_passed as usize, c.gaps as usize),
            (items.len(), dups, passed, gaps.len())
        );
        prop_assert!(c.peak_buffered as usize <= max + 1);
        assert_balanced(c);
    }
}

#[test]
fn an_unbounded_buffer_is_refused() {
    use sweet_async::operators::sequence::MAX_BUFFERED;
    for bound in [usize::MAX, MAX_BUFFERED + 1] {
        let built = stream::iter([1u64]).reorder_by_id(bound, |id| *id);
        assert_eq!(
            built.err(),
            Some(ConfigError::OutOfRange {
                setting: "max buffered",
                value: bound as u64,
                min: 1,
                max: MAX_BUFFERED as u64,
            })
        );
    }
    assert!(
        stream::iter([1u64])
            .reorder_by_id(MAX_BUFFERED, |id| *id)
            .is_ok()
    );
}

#[tokio::test]
async fn a_permanent_gap_never_grows_the_buffer_past_its_bound() {
    // Id 0 never comes, nor does one id in every thousand after it.
    let ids = (1..100_000u64).filter(|id| id % 1000 != 0);
    let mut s = Box::pin(stream::iter(ids).reorder_by_id(64, |id| *id).unwrap());
    let (mut items, mut gaps, mut peak) = (0u64, Vec::new(), 0);
    while let Some(out) = s.next().await {
        match out.unwrap() {
            Item(_) => items += 1,
            Gap { from, to } => gaps.push((from, to)),
            other => panic!("unexpected {other:?}"),
        }
        peak = peak.max(s.counts().buffered);
    }
    assert_eq!(items, 99_999 - 99);
    // Every missing id is reported once, as its own gap, in order.
    let expected: Vec<(u64, u64)> = (0..100_000u64).step_by(1000).map(|id| (id, id)).collect();
    assert_eq!(gaps, expected);
    assert!(peak <= 65, "buffered {peak} with a bound of 64");
    assert_eq!(s.counts().peak_buffered, 65);
}
