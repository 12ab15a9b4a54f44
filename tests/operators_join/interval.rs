//! Interval join: Flink's `intervalJoin(..).between(lower, upper)`.

use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::join::Side;
use sweet_async::operators::timed::Timed;

use super::{Out, alternating, at, joined, run, timed};

type Row = (u8, i64);

fn key(r: &Row) -> u8 {
    r.0
}

#[test]
fn joins_within_inclusive_bounds_whichever_comes_first() {
    // b joins a when a.ts - 2 <= b.ts <= a.ts + 1.
    let left = timed(vec![at(0, 10), at(1, 10), at(0, 20)]);
    let right = timed(vec![at(0, 8), at(0, 11), at(0, 12), at(1, 9), at(0, 7)]);
    let outs = run(left
        .join(right)
        .on(key, key)
        .interval(-2, 1, |a: &Row, b: &Row| (a.0, a.1, b.1))
        .unwrap());
    let mut got: Vec<(i64, (u8, i64, i64))> = outs
        .iter()
        .filter_map(|o| match o {
            Out::Joined(ts, x) => Some((*ts, *x)),
            _ => None,
        })
        .collect();
    got.sort();
    // Results at max(a.ts, b.ts).
    assert_eq!(
        got,
        vec![(10, (0, 10, 8)), (10, (1, 10, 9)), (11, (0, 10, 11))]
    );
}

#[test]
fn elements_below_the_watermark_are_late_and_state_is_cleaned() {
    let left = alternating(vec![at(0, 5), Timed::Watermark(20), at(0, 30)]);
    let right = alternating(vec![Timed::Watermark(20), at(0, 6), at(0, 25), at(0, 31)]);
    let mut join = left
        .join(right)
        .on(key, key)
        .interval(0, 3, |a: &Row, b: &Row| (a.1, b.1))
        .unwrap();
    let outs = futures::executor::block_on(async {
        use futures::StreamExt;
        let mut v = Vec::new();
        while let Some(x) = join.next().await {
            v.push(Out::from(x));
        }
        v
    });
    // Right W20; left 5; right 6 (W still MIN: joins 5); left W20 -> W = 20, 5 (until 8)
    // and 6 (until 6) expire; right 25; left 30; right 31 joins 30.
    assert_eq!(joined(&outs), vec![(5, 6), (30, 31)]);
    assert!(outs.contains(&Out::Watermark(20)));
    let stats = join.stats();
    assert_eq!(
        (stats.left, stats.right, stats.late, stats.joined),
        (2, 3, 0, 2)
    );
    // 5 and 6 when W = 20, the other three at the end.
    assert_eq!((stats.expired, stats.held), (5, 0));

    let left = alternating(vec![Timed::Watermark(20), at(0, 5)]);
    let right = alternating(vec![Timed::Watermark(20), at(0, 19)]);
    let outs = run(left
        .join(right)
        .on(key, key)
        .interval(0, 30, |a: &Row, b: &Row| (a.1, b.1))
        .unwrap());
    assert_eq!(
        outs,
        vec![
            Out::Watermark(20),
            Out::Late(Side::Right((0, 19))),
            Out::Late(Side::Left((0, 5))),
        ]
    );
}

#[test]
fn lower_above_upper_is_a_config_error() {
    let l = timed(Vec::<Timed<Row>>::new());
    let r = timed(Vec::<Timed<Row>>::new());
    let err = l
        .join(r)
        .on(key, key)
        .interval(3, 2, |a: &Row, b: &Row| (a.1, b.1))
        .err();
    assert!(matches!(err, Some(ConfigError::Conflict { .. })));
}
