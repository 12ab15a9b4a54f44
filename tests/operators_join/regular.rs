//! Regular keyed join with a time-to-live and a cap (the typed overflow).

use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::join::{RegularJoinSpec, Side};
use sweet_async::operators::timed::Timed;

use super::{Out, alternating, at, drain, joined, run, timed};

type Row = (u8, i64);

fn key(r: &Row) -> u8 {
    r.0
}

#[test]
fn every_pair_with_equal_keys() {
    let left = timed(vec![at(0, 1), at(1, 2), at(0, 3)]);
    let right = timed(vec![at(0, 10), at(2, 11)]);
    let outs = run(left
        .join(right)
        .on(key, key)
        .regular(RegularJoinSpec::new(), |a: &Row, b: &Row| (a.1, b.1))
        .unwrap());
    let mut got: Vec<(i64, (i64, i64))> = outs
        .iter()
        .filter_map(|o| match o {
            Out::Joined(ts, x) => Some((*ts, *x)),
            _ => None,
        })
        .collect();
    got.sort();
    assert_eq!(got, vec![(10, (1, 10)), (10, (3, 10))]);
}

#[test]
fn ttl_expires_state_and_late_arrivals_are_values() {
    // ttl 5: left 1 lives while 6 > W.
    let left = alternating(vec![at(0, 1), Timed::Watermark(6), Timed::Watermark(6)]);
    let right = alternating(vec![
        Timed::Watermark(5),
        at(0, 2),
        Timed::Watermark(6),
        at(0, 4),
    ]);
    let mut join = left
        .join(right)
        .on(key, key)
        .regular(RegularJoinSpec::new().ttl(5), |a: &Row, b: &Row| (a.1, b.1))
        .unwrap();
    let outs = drain(&mut join);
    // R W5; L 1; R 2 joins 1; L W6 -> W = 5: 1 (alive while 6 > W) stays; R W6 -> W = 6:
    // 1 expires, 2 (until 7) stays; R 4: 4 + 5 = 9 > 6, joins nothing (1 is gone). At the
    // end the watermark is +inf: 2 and 4 expire too.
    assert_eq!(
        outs,
        vec![Out::Joined(2, (1, 2)), Out::Watermark(5), Out::Watermark(6),]
    );
    let stats = join.stats();
    assert_eq!(
        (stats.expired, stats.joined, stats.late, stats.held),
        (3, 1, 0, 0)
    );

    // An element whose ts + ttl <= W is late.
    let left = alternating(vec![Timed::Watermark(10), at(0, 5)]);
    let right = alternating(vec![Timed::Watermark(10)]);
    let outs = run(left
        .join(right)
        .on(key, key)
        .regular(RegularJoinSpec::new().ttl(5), |a: &Row, b: &Row| (a.1, b.1))
        .unwrap());
    assert_eq!(
        outs,
        vec![Out::Watermark(10), Out::Late(Side::Left((0, 5)))]
    );
}

#[test]
fn cap_evicts_the_oldest_as_a_value() {
    let left = timed(vec![at(0, 1), at(1, 2), at(2, 3)]);
    let right = timed(vec![]);
    let mut join = left
        .join(right)
        .on(key, key)
        .regular(RegularJoinSpec::new().max_state(2), |a: &Row, b: &Row| {
            (a.1, b.1)
        })
        .unwrap();
    let outs = drain(&mut join);
    assert_eq!(outs, vec![Out::Evicted(Side::Left((0, 1)))]);
    assert_eq!(join.stats().evicted, 1);
    assert_eq!(join.stats().held, 2);
    assert!(joined(&outs).is_empty());
}

#[test]
fn invalid_specs_are_config_errors() {
    let l = || timed(Vec::<Timed<Row>>::new());
    let f = |a: &Row, b: &Row| (a.1, b.1);
    assert!(matches!(
        l().join(l())
            .on(key, key)
            .regular(RegularJoinSpec::new().ttl(-1), f)
            .err(),
        Some(ConfigError::Invalid { .. })
    ));
    assert_eq!(
        l().join(l())
            .on(key, key)
            .regular(RegularJoinSpec::new().max_state(0), f)
            .err(),
        Some(ConfigError::Zero {
            setting: "join max state"
        })
    );
}

#[test]
fn a_side_not_kept_only_probes_the_other() {
    // Right first: right 2 finds no left element and is not stored; left 1 is stored;
    // right 3 finds it.
    let left = alternating(vec![at(0, 1)]);
    let right = alternating(vec![at(0, 2), at(0, 3)]);
    let mut join = left
        .join(right)
        .on(key, key)
        .regular(
            RegularJoinSpec::new().keep_right(false),
            |a: &Row, b: &Row| (a.1, b.1),
        )
        .unwrap();
    let outs = drain(&mut join);
    assert_eq!(joined(&outs), vec![(1, 3)]);
    assert_eq!(join.stats().held, 1); // left 1 (no time-to-live); rights never stored
    let l = || timed(Vec::<Timed<Row>>::new());
    let neither = RegularJoinSpec::new().keep_left(false).keep_right(false);
    assert!(matches!(
        l().join(l())
            .on(key, key)
            .regular(neither, |a: &Row, b: &Row| (a.1, b.1))
            .err(),
        Some(ConfigError::Conflict { .. })
    ));
}

#[test]
fn a_unique_side_keeps_only_elements_read_before_their_match() {
    // Right first: R 10 (key 1) finds no left and is stored; L 1 (key 0) is stored; R 11
    // meets L 1, its only match, and is not stored; L 2 (key 1) meets R 10; R 12 meets L 1.
    let left = alternating(vec![at(0, 1), at(1, 2)]);
    let right = alternating(vec![at(1, 10), at(0, 11), at(0, 12)]);
    let mut join = left
        .join(right)
        .on(key, key)
        .regular(
            RegularJoinSpec::new().unique_left_keys(true),
            |a: &Row, b: &Row| (a.1, b.1),
        )
        .unwrap();
    let outs = drain(&mut join);
    assert_eq!(joined(&outs), vec![(1, 11), (2, 10), (1, 12)]);
    let stats = join.stats();
    // Held: L 1, L 2 and R 10; R 11 and R 12 left after probing.
    assert_eq!((stats.held, stats.expired, stats.joined), (3, 2, 3));
}

#[test]
fn a_unique_right_side_mirrors_the_left() {
    // Right first: R 1 (key 0) is stored; L 10 (key 1) finds nothing and is stored; R 2
    // meets L 10; L 11 and L 12 meet R 1, their only match, and are not stored.
    let left = alternating(vec![at(1, 10), at(0, 11), at(0, 12)]);
    let right = alternating(vec![at(0, 1), at(1, 2)]);
    let mut join = left
        .join(right)
        .on(key, key)
        .regular(
            RegularJoinSpec::new().unique_right_keys(true),
            |a: &Row, b: &Row| (a.1, b.1),
        )
        .unwrap();
    let outs = drain(&mut join);
    assert_eq!(joined(&outs), vec![(10, 2), (11, 1), (12, 1)]);
    let stats = join.stats();
    assert_eq!((stats.held, stats.expired, stats.joined), (3, 2, 3));
}

#[test]
fn a_key_held_twice_on_a_unique_side_is_an_error() {
    let left = timed(vec![at(0, 1), at(1, 2), at(0, 3)]);
    let right = timed(vec![]);
    let mut join = left
        .join(right)
        .on(key, key)
        .regular(
            RegularJoinSpec::new().unique_left_keys(true),
            |a: &Row, b: &Row| (a.1, b.1),
        )
        .unwrap();
    let outs = drain(&mut join);
    assert_eq!(outs.len(), 1);
    assert!(
        matches!(&outs[0], Out::Error(m) if m.contains("unique_left_keys")),
        "{outs:?}"
    );
    assert_eq!(join.stats().discarded, 3);
}
