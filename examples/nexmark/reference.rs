//! Each query written by hand as one single-threaded pass over the events, with the
//! Flink SQL semantics and no operator of this crate: the tests' batch reference and the
//! bench's limit ("the same query as a plain loop").

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};

use nexmark::event::Event;

use super::queries::Output;

const TEN_SECONDS: i64 = 10_000;

/// Runs query `q` over `events`; `None` for an unknown query.
pub(crate) fn query<E: Borrow<Event>>(
    q: &str,
    events: impl IntoIterator<Item = E>,
) -> Option<Output> {
    Some(match q {
        "q0" => {
            let v: Vec<_> = events
                .into_iter()
                .filter_map(|e| match e.borrow() {
                    Event::Bid(b) => Some((b.auction, b.bidder, b.price, b.date_time as i64)),
                    _ => None,
                })
                .collect();
            Output::Q0(v)
        }
        "q1" => {
            let v: Vec<_> = events
                .into_iter()
                .filter_map(|e| match e.borrow() {
                    Event::Bid(b) => Some((
                        b.auction,
                        b.bidder,
                        0.908 * b.price as f64,
                        b.date_time as i64,
                    )),
                    _ => None,
                })
                .collect();
            Output::Q1(v)
        }
        "q2" => {
            let v: Vec<_> = events
                .into_iter()
                .filter_map(|e| match e.borrow() {
                    Event::Bid(b) if b.auction % 123 == 0 => Some((b.auction, b.price)),
                    _ => None,
                })
                .collect();
            Output::Q2(v)
        }
        "q3" => Output::Q3(q3(events)),
        "q4" => Output::Q4(q4(events)),
        "q5" => Output::Q5(q5(events)),
        "q7" => Output::Q7(q7(events)),
        "q8" => Output::Q8(q8(events)),
        _ => return None,
    })
}

/// An unbounded hash join of filtered persons and auctions on `seller = id`.
fn q3<E: Borrow<Event>>(
    events: impl IntoIterator<Item = E>,
) -> Vec<(String, String, String, usize)> {
    let mut persons: HashMap<usize, (String, String, String)> = HashMap::new();
    let mut waiting: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut out = Vec::new();
    for e in events {
        match e.borrow() {
            Event::Person(p) if matches!(p.state.as_str(), "or" | "id" | "ca") => {
                for id in waiting.remove(&p.id).unwrap_or_default() {
                    out.push((p.name.clone(), p.city.clone(), p.state.clone(), id));
                }
                persons.insert(p.id, (p.name.clone(), p.city.clone(), p.state.clone()));
            }
            Event::Auction(a) if a.category == 10 => match persons.get(&a.seller) {
                Some((name, city, state)) => {
                    out.push((name.clone(), city.clone(), state.clone(), a.id));
                }
                None => waiting.entry(a.seller).or_default().push(a.id),
            },
            _ => {}
        }
    }
    out
}

/// Max bid within `[dateTime, expires]` per auction, then sum and count per category.
fn q4<E: Borrow<Event>>(events: impl IntoIterator<Item = E>) -> Vec<(usize, u64, u64)> {
    // Auction id -> (category, dateTime, expires); bids kept until their auction is known.
    let mut auctions: HashMap<usize, (usize, u64, u64)> = HashMap::new();
    let mut early_bids: HashMap<usize, Vec<(u64, usize)>> = HashMap::new();
    let mut max: HashMap<usize, usize> = HashMap::new();
    let mut offer = |auctions: &HashMap<usize, (usize, u64, u64)>, id: usize, ts: u64, price| {
        if let Some(&(_, start, expires)) = auctions.get(&id) {
            if start <= ts && ts <= expires {
                let m = max.entry(id).or_insert(0);
                *m = (*m).max(price);
            }
        }
    };
    for e in events {
        match e.borrow() {
            Event::Auction(a) => {
                auctions.insert(a.id, (a.category, a.date_time, a.expires));
                for (ts, price) in early_bids.remove(&a.id).unwrap_or_default() {
                    offer(&auctions, a.id, ts, price);
                }
            }
            Event::Bid(b) => {
                if auctions.contains_key(&b.auction) {
                    offer(&auctions, b.auction, b.date_time, b.price);
                } else {
                    early_bids
                        .entry(b.auction)
                        .or_default()
                        .push((b.date_time, b.price));
                }
            }
            Event::Person(_) => {}
        }
    }
    let mut by_category: HashMap<usize, (u64, u64)> = HashMap::new();
    for (id, price) in max {
        if let Some(&(category, _, _)) = auctions.get(&id) {
            let e = by_category.entry(category).or_default();
            e.0 += price as u64;
            e.1 += 1;
        }
    }
    let v: Vec<_> = by_category
        .into_iter()
        .map(|(c, (s, n))| (c, s, n))
        .collect();
    v
}

/// Bids per auction in every 10 s window starting each 2 s; the auctions with the most.
fn q5<E: Borrow<Event>>(events: impl IntoIterator<Item = E>) -> Vec<(i64, usize, u64)> {
    let mut counts: HashMap<(i64, usize), u64> = HashMap::new();
    for e in events {
        if let Event::Bid(b) = e.borrow() {
            let t = b.date_time as i64;
            let last = t - t.rem_euclid(2_000);
            let mut start = last;
            while start > t - TEN_SECONDS {
                *counts.entry((start, b.auction)).or_insert(0) += 1;
                start -= 2_000;
            }
        }
    }
    let mut max: HashMap<i64, u64> = HashMap::new();
    for (&(start, _), &n) in &counts {
        let m = max.entry(start).or_insert(0);
        *m = (*m).max(n);
    }
    let v: Vec<_> = counts
        .into_iter()
        .filter(|&((start, _), n)| max.get(&start) == Some(&n))
        .map(|((start, auction), n)| (start, auction, n))
        .collect();
    v
}

/// The highest price per 10 s window; the bids with that price and
/// `window_end - 1 - 10 s <= dateTime <= window_end - 1` (Flink's q7 join condition).
fn q7<E: Borrow<Event>>(events: impl IntoIterator<Item = E>) -> Vec<(usize, usize, usize, i64)> {
    let bids: Vec<(usize, usize, usize, i64)> = events
        .into_iter()
        .filter_map(|e| match e.borrow() {
            Event::Bid(b) => Some((b.auction, b.price, b.bidder, b.date_time as i64)),
            _ => None,
        })
        .collect();
    let mut max: HashMap<i64, usize> = HashMap::new();
    for b in &bids {
        let start = b.3 - b.3.rem_euclid(TEN_SECONDS);
        let m = max.entry(start).or_insert(0);
        *m = (*m).max(b.1);
    }
    let mut v = Vec::new();
    for b in &bids {
        // Windows whose [end - 1 - 10 s, end - 1] holds b: its own and the next one (when
        // b is the last millisecond of its window).
        let own = b.3 - b.3.rem_euclid(TEN_SECONDS);
        for start in [own, own + TEN_SECONDS] {
            let end_1 = start + TEN_SECONDS - 1;
            if end_1 - TEN_SECONDS <= b.3 && b.3 <= end_1 && max.get(&start) == Some(&b.1) {
                v.push(*b);
            }
        }
    }
    v
}

/// Persons who opened an auction in the 10 s window they were created in.
fn q8<E: Borrow<Event>>(events: impl IntoIterator<Item = E>) -> Vec<(usize, String, i64)> {
    let mut persons: HashMap<(i64, usize), String> = HashMap::new();
    let mut sellers: HashSet<(i64, usize)> = HashSet::new();
    for e in events {
        match e.borrow() {
            Event::Person(p) => {
                let t = p.date_time as i64;
                persons.insert((t - t.rem_euclid(TEN_SECONDS), p.id), p.name.clone());
            }
            Event::Auction(a) => {
                let t = a.date_time as i64;
                sellers.insert((t - t.rem_euclid(TEN_SECONDS), a.seller));
            }
            Event::Bid(_) => {}
        }
    }
    let v: Vec<_> = persons
        .into_iter()
        .filter(|(k, _)| sellers.contains(k))
        .map(|((start, id), name)| (id, name, start))
        .collect();
    v
}
