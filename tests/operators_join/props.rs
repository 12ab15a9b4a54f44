//! Property tests against brute-force models: with each input's out-of-orderness at least
//! its real disorder no element is late, so each join's results must be exactly the pairs
//! its definition names (as multisets).

use futures::stream;
use proptest::prelude::*;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::join::RegularJoinSpec;
use sweet_async::operators::window::{Sliding, Tumbling};

use sweet_async::operators::timed::Timed;

use super::{Out, alternating, joined, run};

/// `(key, ts, id)`.
type Row = (u8, i64, usize);

fn rows() -> impl Strategy<Value = Vec<(u8, i64)>> {
    prop::collection::vec((0u8..3, 0i64..60), 0..25)
}

fn with_ids(v: Vec<(u8, i64)>) -> Vec<Row> {
    v.into_iter()
        .enumerate()
        .map(|(i, (k, t))| (k, t, i))
        .collect()
}

/// The largest amount by which a timestamp is behind the largest one before it.
fn disorder(v: &[Row]) -> i64 {
    let mut max = i64::MIN;
    let mut d = 0;
    for r in v {
        if r.1 < max {
            d = d.max(max - r.1);
        }
        max = max.max(r.1);
    }
    d
}

fn key(r: &Row) -> u8 {
    r.0
}

proptest! {
    #[test]
    fn window_join_is_the_pairs_in_common_windows(
        l in rows(), r in rows(), size in 1i64..12, slide_div in 1i64..4,
    ) {
        let (l, r) = (with_ids(l), with_ids(r));
        let slide = (size / slide_div).max(1);
        let (dl, dr) = (disorder(&l), disorder(&r));
        let left = stream::iter(l.clone()).with_watermarks(dl, |x| x.1).unwrap();
        let right = stream::iter(r.clone()).with_watermarks(dr, |x| x.1).unwrap();
        let outs = run(left
            .join(right)
            .on(key, key)
            .window(Sliding::event_time(size, slide), |a: &Row, b: &Row| (a.2, b.2))
            .unwrap());
        prop_assert!(outs.iter().all(|o| matches!(o, Out::Joined(..) | Out::Watermark(_))));
        let mut got: Vec<(i64, (usize, usize))> = outs
            .iter()
            .filter_map(|o| match o { Out::Joined(ts, x) => Some((*ts, *x)), _ => None })
            .collect();
        got.sort();
        let mut want = Vec::new();
        for a in &l {
            for b in &r {
                if a.0 != b.0 { continue; }
                // Every start s (multiple of slide) with s <= t < s + size for both.
                let lo = a.1.max(b.1) - size + 1;
                for s in lo..=a.1.min(b.1) {
                    if s.rem_euclid(slide) == 0 {
                        want.push((s + size - 1, (a.2, b.2)));
                    }
                }
            }
        }
        want.sort();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn tumbling_window_join_matches_model(l in rows(), r in rows(), size in 1i64..12) {
        let (l, r) = (with_ids(l), with_ids(r));
        let (dl, dr) = (disorder(&l), disorder(&r));
        let left = stream::iter(l.clone()).with_watermarks(dl, |x| x.1).unwrap();
        let right = stream::iter(r.clone()).with_watermarks(dr, |x| x.1).unwrap();
        let outs = run(left
            .join(right)
            .on(key, key)
            .window(Tumbling::event_time(size), |a: &Row, b: &Row| (a.2, b.2))
            .unwrap());
        let mut got = joined(&outs);
        got.sort();
        let mut want: Vec<(usize, usize)> = l.iter()
            .flat_map(|a| r.iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.0 == b.0 && a.1.div_euclid(size) == b.1.div_euclid(size))
            .map(|(a, b)| (a.2, b.2))
            .collect();
        want.sort();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn interval_join_is_the_pairs_within_bounds(
        l in rows(), r in rows(), lower in -10i64..5, width in 0i64..10,
    ) {
        let upper = lower + width;
        let (l, r) = (with_ids(l), with_ids(r));
        let (dl, dr) = (disorder(&l), disorder(&r));
        let left = stream::iter(l.clone()).with_watermarks(dl, |x| x.1).unwrap();
        let right = stream::iter(r.clone()).with_watermarks(dr, |x| x.1).unwrap();
        let outs = run(left
            .join(right)
            .on(key, key)
            .interval(lower, upper, |a: &Row, b: &Row| (a.2, b.2))
            .unwrap());
        prop_assert!(outs.iter().all(|o| matches!(o, Out::Joined(..) | Out::Watermark(_))));
        let mut got = joined(&outs);
        got.sort();
        let mut want: Vec<(usize, usize)> = l.iter()
            .flat_map(|a| r.iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.0 == b.0 && a.1 + lower <= b.1 && b.1 <= a.1 + upper)
            .map(|(a, b)| (a.2, b.2))
            .collect();
        want.sort();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn regular_join_without_ttl_is_every_equal_key_pair(l in rows(), r in rows()) {
        let (l, r) = (with_ids(l), with_ids(r));
        let left = stream::iter(l.clone()).with_watermarks(0, |x| x.1).unwrap();
        let right = stream::iter(r.clone()).with_watermarks(0, |x| x.1).unwrap();
        let outs = run(left
            .join(right)
            .on(key, key)
            .regular(RegularJoinSpec::new(), |a: &Row, b: &Row| (a.2, b.2))
            .unwrap());
        let mut got = joined(&outs);
        got.sort();
        let mut want: Vec<(usize, usize)> = l.iter()
            .flat_map(|a| r.iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.0 == b.0)
            .map(|(a, b)| (a.2, b.2))
            .collect();
        want.sort();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn regular_join_with_unique_left_keys_is_every_equal_key_pair(l in rows(), r in rows()) {
        // Each key once on the left, both inputs read in turns so that right elements
        // come both before and after their left match.
        let mut l = with_ids(l);
        let mut seen = [false; 3];
        l.retain(|x| !std::mem::replace(&mut seen[usize::from(x.0)], true));
        let r = with_ids(r);
        let items = |v: &[Row]| v.iter().map(|x| Timed::item(x.1, *x)).collect::<Vec<_>>();
        let outs = run(alternating(items(&l))
            .join(alternating(items(&r)))
            .on(key, key)
            .regular(RegularJoinSpec::new().unique_left_keys(true), |a: &Row, b: &Row| (a.2, b.2))
            .unwrap());
        let mut got = joined(&outs);
        got.sort();
        let mut want: Vec<(usize, usize)> = l.iter()
            .flat_map(|a| r.iter().map(move |b| (a, b)))
            .filter(|(a, b)| a.0 == b.0)
            .map(|(a, b)| (a.2, b.2))
            .collect();
        want.sort();
        prop_assert_eq!(got, want);
    }
}
