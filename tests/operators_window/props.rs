//! Property tests against brute-force reference models written from Flink's definitions:
//! window membership by enumeration, the watermark, lateness, session merging and count
//! windows; plus the accounting `items in = items in fired windows + late`.

use std::collections::{BTreeMap, HashMap};

use futures::stream;
use proptest::prelude::*;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::window::{FireReason, Session, Sliding, Tumbling};

use super::{Out, run};

type EtOut = Out<(), Vec<i64>, i64>;

/// Windows `[s, s + size)` containing `t` with `s ≡ offset (mod slide)`, found by
/// enumerating every candidate start, latest first.
fn windows_of(t: i64, size: i64, slide: i64, offset: i64) -> Vec<i64> {
    ((t - size + 1)..=t)
        .rev()
        .filter(|s| (s - offset).rem_euclid(slide) == 0)
        .collect()
}

#[derive(Default)]
struct ModelWindow {
    contents: Vec<i64>,
    fired: bool,
    emitted: bool,
}

/// Flink's `WindowOperator` with `EventTimeTrigger`, element by element.
fn model_fixed(
    events: &[i64],
    size: i64,
    slide: i64,
    offset: i64,
    ooo: i64,
    lateness: i64,
) -> Vec<EtOut> {
    let mut open: BTreeMap<i64, ModelWindow> = BTreeMap::new();
    let mut wm = i64::MIN;
    let mut max_ts = i64::MIN;
    let mut out = Vec::new();
    let closed = |s: i64, wm: i64| s + size - 1 + lateness <= wm;
    for &t in events {
        let accepted: Vec<i64> = windows_of(t, size, slide, offset)
            .into_iter()
            .filter(|s| !closed(*s, wm))
            .collect();
        if accepted.is_empty() {
            out.push(Out::Late(t));
        }
        for s in accepted {
            let w = open.entry(s).or_default();
            w.contents.push(t);
            if s + size - 1 <= wm {
                out.push(Out::Fired(
                    (),
                    s,
                    s + size,
                    w.contents.clone(),
                    FireReason::LateUpdate,
                    w.emitted,
                ));
                w.fired = true;
                w.emitted = true;
            }
        }
        max_ts = max_ts.max(t);
        wm = wm.max(max_ts - ooo - 1);
        for (&s, w) in open.iter_mut() {
            if !w.fired && s + size - 1 <= wm {
                out.push(Out::Fired(
                    (),
                    s,
                    s + size,
                    w.contents.clone(),
                    FireReason::Watermark,
                    w.emitted,
                ));
                w.fired = true;
                w.emitted = true;
            }
        }
        open.retain(|s, _| !closed(*s, wm));
    }
    for (s, w) in open {
        if !w.fired {
            out.push(Out::Fired(
                (),
                s,
                s + size,
                w.contents,
                FireReason::EndOfStream,
                w.emitted,
            ));
        }
    }
    out
}

struct ModelSession {
    start: i64,
    end: i64,
    contents: Vec<i64>,
    fired: bool,
    emitted: bool,
    seq: u64,
}

/// Flink's session windows (`MergingWindowSet`) with `EventTimeTrigger`.
fn model_sessions(events: &[i64], gap: i64, ooo: i64, lateness: i64) -> Vec<EtOut> {
    let mut sessions: Vec<ModelSession> = Vec::new();
    let mut wm = i64::MIN;
    let mut max_ts = i64::MIN;
    let mut seq = 0;
    let mut out = Vec::new();
    let fire = |s: &mut ModelSession, reason: FireReason, out: &mut Vec<EtOut>| {
        out.push(Out::Fired(
            (),
            s.start,
            s.end,
            s.contents.clone(),
            reason,
            s.emitted,
        ));
        s.fired = true;
        s.emitted = true;
    };
    for &t in events {
        let (start, end) = (t, t + gap);
        let (mut touching, rest): (Vec<_>, Vec<_>) = sessions
            .into_iter()
            .partition(|s| s.start <= end && s.end >= start);
        sessions = rest;
        if touching.is_empty() && end - 1 + lateness <= wm {
            out.push(Out::Late(t));
        } else {
            touching.sort_by_key(|s| s.start);
            let mut merged = ModelSession {
                start: touching.iter().map(|s| s.start).fold(start, i64::min),
                end: touching.iter().map(|s| s.end).fold(end, i64::max),
                contents: touching.iter().flat_map(|s| s.contents.clone()).collect(),
                fired: false,
                emitted: touching.iter().any(|s| s.emitted),
                seq,
            };
            if let [only] = touching.as_slice() {
                if only.start <= start && only.end >= end {
                    merged.fired = only.fired;
                    merged.seq = only.seq;
                }
            }
            seq += 1;
            merged.contents.push(t);
            if merged.end - 1 <= wm {
                fire(&mut merged, FireReason::LateUpdate, &mut out);
            }
            sessions.push(merged);
        }
        max_ts = max_ts.max(t);
        wm = wm.max(max_ts - ooo - 1);
        sessions.sort_by_key(|s| (s.end, s.seq));
        for s in sessions.iter_mut() {
            if !s.fired && s.end - 1 <= wm {
                fire(s, FireReason::Watermark, &mut out);
            }
        }
        sessions.retain(|s| s.end - 1 + lateness > wm);
    }
    sessions.sort_by_key(|s| (s.end, s.seq));
    for mut s in sessions {
        if !s.fired {
            fire(&mut s, FireReason::EndOfStream, &mut out);
        }
    }
    out
}

/// The last firing of each window (updates replace earlier firings), then checks
/// `Σ windows-by-definition(t) over inputs = Σ last counts + late·windows + skipped`.
fn element_window_pairs_in_fired(out: &[EtOut]) -> (usize, Vec<i64>) {
    let mut last: BTreeMap<(i64, i64), usize> = BTreeMap::new();
    let mut late = Vec::new();
    for o in out {
        match o {
            Out::Fired(_, s, e, v, _, _) => {
                last.insert((*s, *e), v.len());
            }
            Out::Late(t) => late.push(*t),
            Out::Error(e) => panic!("unexpected error {e}"),
        }
    }
    (last.values().sum(), late)
}

fn events() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(-20i64..40, 0..40)
}

/// Distinct timestamps, so an element identifies the session lineage it went into.
fn distinct_events() -> impl Strategy<Value = Vec<i64>> {
    events().prop_map(|v| {
        let mut seen = std::collections::HashSet::new();
        v.into_iter().filter(|t| seen.insert(*t)).collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tumbling_matches_the_model(
        events in events(),
        size in 1i64..8,
        offset_raw in 0i64..64,
        ooo in 0i64..6,
        lateness in 0i64..6,
    ) {
        let offset = offset_raw % (2 * size - 1) - (size - 1);
        let windows = stream::iter(events.clone())
            .event_time_window(
                Tumbling::event_time(size)
                    .offset(offset)
                    .out_of_orderness(ooo)
                    .allowed_lateness(lateness),
                |t| *t,
            )
            .unwrap();
        let out = run(windows);
        prop_assert_eq!(&out, &model_fixed(&events, size, size, offset, ooo, lateness));
        // Every element is in exactly one window, or late.
        let (in_windows, late) = element_window_pairs_in_fired(&out);
        prop_assert_eq!(in_windows + late.len(), events.len());
    }

    #[test]
    fn sliding_matches_the_model(
        events in events(),
        size in 1i64..10,
        slide_raw in 0i64..10,
        offset_raw in 0i64..64,
        ooo in 0i64..6,
        lateness in 0i64..6,
    ) {
        let slide = 1 + slide_raw % size;
        let offset = offset_raw % (2 * slide - 1) - (slide - 1);
        let mut windows = stream::iter(events.clone())
            .event_time_window(
                Sliding::event_time(size, slide)
                    .offset(offset)
                    .out_of_orderness(ooo)
                    .allowed_lateness(lateness),
                |t| *t,
            )
            .unwrap();
        let out = run(&mut windows);
        prop_assert_eq!(&out, &model_fixed(&events, size, slide, offset, ooo, lateness));
        // Element-window pairs: in = fired (last firing of each window) + late + skipped.
        let pairs_in: usize = events.iter().map(|t| windows_of(*t, size, slide, offset).len()).sum();
        let (in_windows, late) = element_window_pairs_in_fired(&out);
        let late_pairs: usize = late.iter().map(|t| windows_of(*t, size, slide, offset).len()).sum();
        let stats = windows.stats();
        prop_assert_eq!(pairs_in, in_windows + late_pairs + stats.skipped as usize);
        prop_assert_eq!(stats.held_elements, 0);
        prop_assert_eq!(stats.elements as usize, events.len());
    }

    #[test]
    fn sliding_membership_is_the_definition(
        events in events(),
        size in 1i64..10,
        slide_raw in 0i64..10,
    ) {
        // With an unbounded out-of-orderness nothing is late: each window holds exactly
        // the elements t with start <= t < start + size.
        let slide = 1 + slide_raw % size;
        let windows = stream::iter(events.clone())
            .event_time_window(Sliding::event_time(size, slide).out_of_orderness(1_000), |t| *t)
            .unwrap();
        let mut expected: BTreeMap<(i64, i64), Vec<i64>> = BTreeMap::new();
        for &t in &events {
            for s in windows_of(t, size, slide, 0) {
                expected.entry((s, s + size)).or_default().push(t);
            }
        }
        let got: BTreeMap<(i64, i64), Vec<i64>> = run(windows)
            .into_iter()
            .map(|o| match o {
                Out::Fired(_, s, e, v, _, _) => ((s, e), v),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn sessions_match_the_model(
        events in distinct_events(),
        gap in 1i64..8,
        ooo in 0i64..6,
        lateness in 0i64..8,
    ) {
        let mut windows = stream::iter(events.clone())
            .event_time_window(
                Session::event_time(gap).out_of_orderness(ooo).allowed_lateness(lateness),
                |t| *t,
            )
            .unwrap();
        let out = run(&mut windows);
        prop_assert_eq!(&out, &model_sessions(&events, gap, ooo, lateness));
        // Items in = items in the final sessions + late: a firing is superseded by a
        // later update that holds all its elements (timestamps are distinct).
        let mut finals: Vec<&Vec<i64>> = Vec::new();
        let mut late = 0;
        for o in out.iter().rev() {
            match o {
                Out::Fired(_, _, _, v, _, _) => {
                    if !finals.iter().any(|f| v.iter().all(|t| f.contains(t))) {
                        finals.push(v);
                    }
                }
                Out::Late(_) => late += 1,
                Out::Error(e) => panic!("unexpected error {e}"),
            }
        }
        let mut in_sessions: Vec<i64> = finals.into_iter().flatten().copied().collect();
        in_sessions.sort_unstable();
        let mut not_late: Vec<i64> = events
            .iter()
            .copied()
            .filter(|t| !out.contains(&Out::Late(*t)))
            .collect();
        not_late.sort_unstable();
        prop_assert_eq!(in_sessions.len() + late, events.len());
        prop_assert_eq!(in_sessions, not_late);
        prop_assert_eq!(windows.stats().held_elements, 0);
    }

    #[test]
    fn session_membership_is_the_definition(events in events(), gap in 1i64..8) {
        // Nothing late: sessions are the runs of sorted timestamps with steps <= gap,
        // each covering [first, last + gap).
        let windows = stream::iter(events.clone())
            .event_time_window(Session::event_time(gap).out_of_orderness(1_000), |t| *t)
            .unwrap();
        let mut sorted = events.clone();
        sorted.sort_unstable();
        let mut expected: Vec<(i64, i64, Vec<i64>)> = Vec::new();
        for t in sorted {
            match expected.last_mut() {
                Some((_, end, members)) if t <= *end => {
                    *end = t + gap;
                    members.push(t);
                }
                _ => expected.push((t, t + gap, vec![t])),
            }
        }
        let mut got: Vec<(i64, i64, Vec<i64>)> = run(windows)
            .into_iter()
            .map(|o| match o {
                Out::Fired(_, s, e, mut v, _, _) => {
                    v.sort_unstable();
                    (s, e, v)
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        got.sort();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn keyed_count_windows_match_the_definition(
        keys in prop::collection::vec(0u8..3, 0..60),
        size in 1u64..6,
        slide_raw in 0u64..6,
    ) {
        let slide = 1 + slide_raw % size;
        let input: Vec<(u8, usize)> = keys.iter().copied().zip(0..).collect();
        let windows = stream::iter(input.clone())
            .key_by(|x| x.0)
            .count_window(Sliding::count(size as usize, slide as usize))
            .unwrap();
        let out = run(windows);
        // Per key: window c (a multiple of the slide) holds its elements
        // max(0, c - size)..c; at the end, the next window fires if some elements were
        // not emitted yet. Bounds are input positions.
        let mut expected: HashMap<u8, Vec<(u64, u64, Vec<usize>)>> = HashMap::new();
        for key in 0u8..3 {
            let positions: Vec<usize> = input.iter().filter(|x| x.0 == key).map(|x| x.1).collect();
            let m = positions.len() as u64;
            let mut ends: Vec<u64> = (1..=m / slide).map(|k| k * slide).collect();
            if m % slide != 0 {
                ends.push(m);
            }
            let windows = ends
                .into_iter()
                .map(|c| {
                    let first = c.div_ceil(slide) * slide;
                    let lo = first.saturating_sub(size) as usize;
                    let members = positions[lo..c as usize].to_vec();
                    (members[0] as u64, *members.last().unwrap() as u64 + 1, members)
                })
                .collect();
            expected.insert(key, windows);
        }
        let mut got: HashMap<u8, Vec<(u64, u64, Vec<usize>)>> = HashMap::new();
        for o in out {
            match o {
                Out::Fired(k, s, e, v, _, _) => {
                    got.entry(k).or_default().push((s, e, v.iter().map(|x| x.1).collect()));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        for key in 0u8..3 {
            prop_assert_eq!(
                got.remove(&key).unwrap_or_default(),
                expected.remove(&key).unwrap_or_default()
            );
        }
    }
}
