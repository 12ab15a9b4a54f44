//! Each query written by hand as one single-threaded pass over the events, with the
//! Flink SQL semantics and no operator of this crate: the tests' batch reference and the
//! bench's limit ("the same query as a plain loop").

use std::collections::{HashMap, HashSet};

use nexmark::event::Event;

use super::queries::Output;

const TEN_SECONDS: i64 = 10_000;

/// Runs query `q` over `events`; `None` for an unknown query.
pub(crate) fn query(q: &str, events: impl IntoIterator<Item = Event>) -> Option<Output> {
    Some(match q {
        "q0" => {
            let mut v: Vec<_> = events
                .into_iter()
                .filter_map(|e| match e {
                    Event::Bid(b) => Some((b.auction, b.bidder, b.price, b.date_time as i64)),
                    _ => None,
                })
                .collect();
            v.sort_unstable();
            Output::Q0(v)
        }
        "q1" => {
            let mut v: Vec<_> = events
                .into_iter()
                .filter_map(|e| match e {
                    Event::Bid(b) => Some((
                        b.auction,
                        b.bidder,
                        0.908 * b.price as f64,
                        b.date_time as i64,
                    )),
                    _ => None,
                })
                .collect();
            v.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            Output::Q1(v)
        }
        "q2" => {
            let mut v: Vec<_> = events
                .into_iter()
                .filter_map(|e| match e {
                    Event::Bid(b) if b.auction % 123 == 0 => Some((b.auction, b.price)),
                    _ => None,
                })
                .collect();
            v.sort_unstable();
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
fn q3(events: impl IntoIterator<Item = Event>) -> Vec<(String, String, String, usize)> {
    let mut persons: HashMap<usize, (String, String, String)> = HashMap::new();
    let mut waiting: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::Person(p) if matches!(p.state.as_str(), "or" | "id" | "ca") => {
                for id in waiting.remove(&p.id).unwrap_or_default() {
                    out.push((p.name.clone(), p.city.clone(), p.state.clone(), id));
                }
                persons.insert(p.id, (p.name, p.city, p.state));
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
    out.sort_unstable();
    out
}

/// Max bid within `[dateTime, expires]` per auction, then sum and count per category.
fn q4(events: impl IntoIterator<Item = Event>) -> Vec<(usize, u64, u64)> {
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
        match e {
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
    let mut v: Vec<_> = by_category
        .into_iter()
        .map(|(c, (s, n))| (c, s, n))
        .collect();
    v.sort_unstable();
    v
}

/// Bids per auction in every 10 s window starting each 2 s; the auctions with the most.
fn q5(events: impl IntoIterator<Item = Event>) -> Vec<(i64, usize, u64)> {
    let mut counts: HashMap<(i64, usize), u64> = HashMap::new();
    for e in events {
        if let Event::Bid(b) = e {
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
    let mut v: Vec<_> = counts
        .into_iter()
        .filter(|&((start, _), n)| max.get(&start) == Some(&n))
        .map(|((start, auction), n)| (start, auction, n))
        .collect();
    v.sort_unstable();
    v
}

/// The highest price per 10 s window; the bids with that price and
/// `window_end - 1 - 10 s <= dateTime <= window_end - 1` (Flink's q7 join condition).
fn q7(events: impl IntoIterator<Item = Event>) -> Vec<(usize, usize, usize, i64)> {
    let bids: Vec<(usize, usize, usize, i64)> = events
        .into_iter()
        .filter_map(|e| match e {
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
    v.sort_unstable();
    v
}

/// Persons who opened an auction in the 10 s window they were created in.
fn q8(events: impl IntoIterator<Item = Event>) -> Vec<(usize, String, i64)> {
    let mut persons: HashMap<(i64, usize), String> = HashMap::new();
    let mut sellers: HashSet<(i64, usize)> = HashSet::new();
    for e in events {
        match e {
            Event::Person(p) => {
                let t = p.date_time as i64;
                persons.insert((t - t.rem_euclid(TEN_SECONDS), p.id), p.name);
            }
            Event::Auction(a) => {
                let t = a.date_time as i64;
                sellers.insert((t - t.rem_euclid(TEN_SECONDS), a.seller));
            }
            Event::Bid(_) => {}
        }
    }
    let mut v: Vec<_> = persons
        .into_iter()
        .filter(|(k, _)| sellers.contains(k))
        .map(|((start, id), name)| (id, name, start))
        .collect();
    v.sort_unstable();
    v
}
