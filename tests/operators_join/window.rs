//! Window join and co-group: Flink's `join(..).window(..)` and `coGroup(..).window(..)`.

use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::join::Side;
use sweet_async::operators::timed::Timed;
use sweet_async::operators::window::{Session, Sliding, Tumbling};

use super::{Out, alternating, at, joined, run, timed};

type Row = (u8, i64);

fn key(r: &Row) -> u8 {
    r.0
}

#[test]
fn tumbling_pairs_per_key_and_window_at_end_minus_one() {
    // Left: a@1 a@3 b@2 a@6; right: a@2 b@4 a@7 a@12 (a = 0, b = 1).
    let left = timed(vec![at(0, 1), at(0, 3), at(1, 2), at(0, 6)]);
    let right = timed(vec![at(0, 2), at(1, 4), at(0, 7), at(0, 12)]);
    let outs = run(left
        .join(right)
        .on(key, key)
        .window(Tumbling::event_time(5), |l: &Row, r: &Row| (l.0, l.1, r.1))
        .unwrap());
    // No watermarks: everything fires at the end, windows in order of their end.
    let mut got: Vec<(i64, (u8, i64, i64))> = outs
        .iter()
        .filter_map(|o| match o {
            Out::Joined(ts, x) => Some((*ts, *x)),
            _ => None,
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (4, (0, 1, 2)),
            (4, (0, 3, 2)),
            (4, (1, 2, 4)),
            (9, (0, 6, 7)),
        ]
    );
}

#[test]
fn fires_on_the_minimum_watermark_and_forwards_it() {
    let left = alternating(vec![at(0, 1), Timed::Watermark(10)]);
    let right = alternating(vec![at(0, 3), Timed::Watermark(3), Timed::Watermark(20)]);
    let outs = run(left
        .join(right)
        .on(key, key)
        .window(Tumbling::event_time(5), |l: &Row, r: &Row| (l.1, r.1))
        .unwrap());
    // Right first: item 3; left: item 1; right W3 (min is still MIN); left W10 -> min 3;
    // right W20 -> min 10: [0, 5) fires (10 >= 4), then W10 is forwarded.
    assert_eq!(
        outs,
        vec![
            Out::Watermark(3),
            Out::Joined(4, (1, 3)),
            Out::Watermark(10),
            Out::Watermark(20), // the left input ended: the right's watermark rules
        ]
    );
}

#[test]
fn late_elements_come_out_as_values() {
    let left = alternating(vec![at(0, 1), Timed::Watermark(10), at(0, 12)]);
    let right = alternating(vec![
        Timed::Watermark(10),
        Timed::Watermark(10),
        at(0, 3),
        at(0, 13),
    ]);
    let mut join = left
        .join(right)
        .on(key, key)
        .window(Tumbling::event_time(5), |l: &Row, r: &Row| (l.1, r.1))
        .unwrap();
    let outs = futures::executor::block_on(async {
        use futures::StreamExt;
        let mut v = Vec::new();
        while let Some(x) = join.next().await {
            v.push(Out::from(x));
        }
        v
    });
    assert!(outs.contains(&Out::Late(Side::Right((0, 3)))));
    assert_eq!(joined(&outs), vec![(12, 13)]);
    let stats = join.stats();
    assert_eq!(
        (stats.left, stats.right, stats.late, stats.joined),
        (2, 2, 1, 1)
    );
    assert_eq!(stats.held, 0);
}

#[test]
fn sliding_windows_pair_in_every_common_window() {
    // Size 10, slide 5: 7 is in [0, 10) and [5, 15); 12 in [5, 15) and [10, 20).
    let left = timed(vec![at(0, 7)]);
    let right = timed(vec![at(0, 12), at(0, 3)]);
    let outs = run(left
        .join(right)
        .on(key, key)
        .window(Sliding::event_time(10, 5), |l: &Row, r: &Row| (l.1, r.1))
        .unwrap());
    let mut got: Vec<(i64, (i64, i64))> = outs
        .iter()
        .filter_map(|o| match o {
            Out::Joined(ts, x) => Some((*ts, *x)),
            _ => None,
        })
        .collect();
    got.sort();
    assert_eq!(got, vec![(9, (7, 3)), (14, (7, 12))]);
}

#[test]
fn session_windows_merge_across_sides() {
    // Gap 5: left 0 and right 4 touch-merge with left 9: one session [0, 14).
    let left = timed(vec![at(0, 0), at(0, 9)]);
    let right = timed(vec![at(0, 4)]);
    let outs = run(left
        .join(right)
        .on(key, key)
        .window(Session::event_time(5), |l: &Row, r: &Row| (l.1, r.1))
        .unwrap());
    let mut got = joined(&outs);
    got.sort();
    assert_eq!(got, vec![(0, 4), (9, 4)]);
}

#[test]
fn cogroup_once_per_window_and_key() {
    // Persons (key = id) and auctions (key = seller) in 10-unit windows: one row per person
    // with at least one auction, however many.
    let persons = timed(vec![at(1, 1), at(2, 2), at(3, 15)]);
    let auctions = timed(vec![at(1, 3), at(1, 4), at(3, 8), at(3, 16)]);
    let outs = run(persons
        .join(auctions)
        .on(key, key)
        .window_cogroup(
            Tumbling::event_time(10),
            |k: &u8, ps: &[Row], auctions: &[Row]| {
                (!ps.is_empty() && !auctions.is_empty()).then_some((*k, auctions.len()))
            },
        )
        .unwrap());
    let mut got = joined(&outs);
    got.sort();
    assert_eq!(got, vec![(1, 2), (3, 1)]);
}

#[test]
fn panicking_join_function_is_an_error_item() {
    let left = timed(vec![at(0, 1)]);
    let right = timed(vec![at(0, 2)]);
    let outs = run(left
        .join(right)
        .on(key, key)
        .window(Tumbling::event_time(5), |_: &Row, _: &Row| -> i64 {
            panic!("boom")
        })
        .unwrap());
    assert_eq!(outs, vec![Out::Error("task panicked: boom".to_owned())]);
}

#[test]
fn invalid_specs_are_config_errors() {
    let l = timed(Vec::<Timed<Row>>::new());
    let r = timed(Vec::<Timed<Row>>::new());
    let err = l
        .join(r)
        .on(key, key)
        .window(Tumbling::event_time(0), |a: &Row, b: &Row| (a.1, b.1))
        .err();
    assert_eq!(
        err,
        Some(ConfigError::Zero {
            setting: "window size"
        })
    );
}
