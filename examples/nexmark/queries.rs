//! The Nexmark queries as dataflows of this crate's operators, inline (one task) or on
//! `n` keyed partitions. Semantics of the Nexmark Flink SQL suite; each query's output is
//! a sorted [`Output`] that `reference.rs` computes too.

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::Hash;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::ready;
use futures::{Stream, StreamExt, stream};
use nexmark::event::Event;
use rustc_hash::FxHashMap;
use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::join::{JoinEvent, RegularJoinSpec};
use sweet_async::operators::partition::PartitionError;
use sweet_async::operators::timed::{Timed, TimedStream};
use sweet_async::operators::window::{Sliding, Tumbling, WindowEvent};

use super::events::ts;

/// A boxed, sendable stream.
pub(crate) type Boxed<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// Flink SQL's `WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND` is
/// `max - 4000`; `with_watermarks` subtracts one more (DataStream's convention).
const OUT_OF_ORDERNESS: i64 = 3_999;
/// Queue bound of each fan-out branch.
const FAN_OUT: usize = 1024;
const TEN_SECONDS: i64 = 10_000;

/// Late, evicted or failed items seen by any query: none is expected on Nexmark data
/// (events in order); tests assert this stays 0.
pub(crate) static ANOMALIES: AtomicU64 = AtomicU64::new(0);

fn anomaly() {
    ANOMALIES.fetch_add(1, Ordering::Relaxed);
}

/// Where the query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// In the consumer's task, no partitions.
    Inline,
    /// On `n` keyed partitions, each its own task.
    Partitions(usize),
}

/// A query's result rows, in the order they came; [`Output::sorted`] makes results of
/// different runs comparable.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    /// q0: `(auction, bidder, price, dateTime)` of every bid.
    Q0(Vec<(usize, usize, usize, i64)>),
    /// q1: `(auction, bidder, 0.908 * price, dateTime)`.
    Q1(Vec<(usize, usize, f64, i64)>),
    /// q2: `(auction, price)` of bids with `auction % 123 == 0`.
    Q2(Vec<(usize, usize)>),
    /// q3: `(name, city, state, auction id)`.
    Q3(Vec<(String, String, String, usize)>),
    /// q4: `(category, sum of final prices, auctions)`; the average is `sum / auctions`.
    Q4(Vec<(usize, u64, u64)>),
    /// q5: `(window start, auction, bids)` of the hottest auctions per window.
    Q5(Vec<(i64, usize, u64)>),
    /// q7: `(auction, price, bidder, dateTime)` of the highest bids per window.
    Q7(Vec<(usize, usize, usize, i64)>),
    /// q8: `(person id, name, window start)`.
    Q8(Vec<(usize, String, i64)>),
}

impl Output {
    /// The rows sorted (floats by their total order).
    pub(crate) fn sorted(mut self) -> Output {
        match &mut self {
            Output::Q0(v) => v.sort_unstable(),
            Output::Q1(v) => v.sort_unstable_by(|a, b| {
                (a.0, a.1, a.3)
                    .cmp(&(b.0, b.1, b.3))
                    .then(a.2.total_cmp(&b.2))
            }),
            Output::Q2(v) => v.sort_unstable(),
            Output::Q3(v) => v.sort_unstable(),
            Output::Q4(v) => v.sort_unstable(),
            Output::Q5(v) => v.sort_unstable(),
            Output::Q7(v) => v.sort_unstable(),
            Output::Q8(v) => v.sort_unstable(),
        }
        self
    }

    /// Rows in the result.
    pub(crate) fn len(&self) -> usize {
        match self {
            Output::Q0(v) => v.len(),
            Output::Q1(v) => v.len(),
            Output::Q2(v) => v.len(),
            Output::Q3(v) => v.len(),
            Output::Q4(v) => v.len(),
            Output::Q5(v) => v.len(),
            Output::Q7(v) => v.len(),
            Output::Q8(v) => v.len(),
        }
    }
}

/// The queries this example runs.
pub(crate) const QUERIES: [&str; 8] = ["q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8"];

/// The rows of a stateless query (q0-q2), inline or on partitions split by `key`. No
/// operator downstream reads event time, so the stream carries no watermarks (Flink's
/// plans of q0-q2 have no watermark-driven operator either): a watermark per millisecond
/// of event time would be one more item per 10 events, and the pass-through would pay for
/// a clock nothing reads.
fn stateless<S, E, O, P, K, KF>(
    events: S,
    mode: Mode,
    mut project: P,
    key: KF,
) -> Result<Boxed<Timed<O>>, ConfigError>
where
    S: Stream<Item = E> + Send + 'static,
    E: Borrow<Event> + Send + 'static,
    O: Send + 'static,
    P: FnMut(&Event) -> Option<O> + Send + 'static,
    KF: FnMut(&O) -> K + Send + 'static,
    K: Hash + 'static,
{
    let rows = events
        .map(|e| Timed::item(ts(e.borrow()), e))
        .timed_filter_map(move |e: E| project(e.borrow()));
    Ok(match mode {
        Mode::Inline => Box::pin(rows),
        Mode::Partitions(n) => partitioned(rows, n, key, |input| Ok(Box::pin(input)))?,
    })
}

/// Runs `chain` on `n` partitions of `timed` split by `key`; a partition's failure is
/// printed and counted as an anomaly.
fn partitioned<T, In, K, KF, C, O>(
    timed: T,
    n: usize,
    key: KF,
    mut chain: C,
) -> Result<Boxed<Timed<O::Value>>, ConfigError>
where
    T: TimedStream<Value = In> + Send + 'static,
    In: Send + 'static,
    KF: FnMut(&In) -> K + Send + 'static,
    K: Hash + 'static,
    C: FnMut(Boxed<Timed<In>>) -> Result<O, ConfigError>,
    O: TimedStream + Send + 'static,
    O::Value: Send + 'static,
{
    Ok(Box::pin(
        timed
            .partition(n, key, |input| chain(Box::pin(input)))?
            // Not `futures`' `filter_map(ready)`: 81 instructions per q0 row on 1 partition
            // (callgrind), `partition_errors` a plain loop.
            .partition_errors(|_, e: PartitionError| {
                eprintln!("nexmark: {e}");
                anomaly();
            }),
    ))
}

/// Projects the events, then runs `chain` inline or on partitions split by `key`.
fn run<S, E, In, P, K, KF, C, O>(
    events: S,
    mode: Mode,
    mut project: P,
    key: KF,
    mut chain: C,
) -> Result<Boxed<Timed<O::Value>>, ConfigError>
where
    S: Stream<Item = E> + Send + 'static,
    E: Borrow<Event> + Send + 'static,
    In: Send + 'static,
    P: FnMut(&Event) -> Option<In> + Send + 'static,
    KF: FnMut(&In) -> K + Send + 'static,
    K: Hash + 'static,
    C: FnMut(Boxed<Timed<In>>) -> Result<O, ConfigError>,
    O: TimedStream + Send + 'static,
    O::Value: Send + 'static,
{
    let timed = events
        .with_watermarks(OUT_OF_ORDERNESS, |e| ts(e.borrow()))?
        .timed_filter_map(move |e: E| project(e.borrow()));
    Ok(match mode {
        Mode::Inline => Box::pin(chain(Box::pin(timed))?),
        Mode::Partitions(n) => partitioned(timed, n, key, chain)?,
    })
}

/// The joined result of a join event; late, evicted and error items are anomalies. For
/// `timed_filter_map`, not `futures`' `filter_map(ready)` (the state of a future per item:
/// about 70 instructions per q4 bid, callgrind).
fn joined<O, L, R>(e: JoinEvent<O, L, R>) -> Option<O> {
    match e {
        JoinEvent::Joined(o) => Some(o),
        _ => {
            anomaly();
            None
        }
    }
}

/// The fired window of a window event; late and error items are anomalies.
fn fired<K, A, T>(e: WindowEvent<K, A, T>) -> Option<sweet_async::operators::window::Window<K, A>> {
    match e {
        WindowEvent::Fired(w) => Some(w),
        _ => {
            anomaly();
            None
        }
    }
}

/// The elements of a timed stream, in order (watermarks dropped). A plain loop: `futures`'
/// `filter_map(ready).collect()` cost 65 instructions per q0 row (callgrind), this 32.
async fn values<T>(mut s: Boxed<Timed<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(s.size_hint().0);
    while let Some(t) = s.next().await {
        if let Timed::Item { value, .. } = t {
            out.push(value);
        }
    }
    out
}

fn bid(e: &Event) -> Option<&nexmark::event::Bid> {
    match e {
        Event::Bid(b) => Some(b),
        _ => None,
    }
}

fn q0_row(e: &Event) -> Option<(usize, usize, usize, i64)> {
    bid(e).map(|b| (b.auction, b.bidder, b.price, b.date_time as i64))
}

fn q1_row(e: &Event) -> Option<(usize, usize, f64, i64)> {
    bid(e).map(|b| {
        (
            b.auction,
            b.bidder,
            0.908 * b.price as f64,
            b.date_time as i64,
        )
    })
}

fn q2_row(e: &Event) -> Option<(usize, usize)> {
    bid(e)
        .filter(|b| b.auction % 123 == 0)
        .map(|b| (b.auction, b.price))
}

/// Runs query `q` (`"q0"`..`"q8"`) over `events` (owned, or borrowed from memory).
pub(crate) async fn query<S, E>(q: &str, events: S, mode: Mode) -> Result<Output, ConfigError>
where
    S: Stream<Item = E> + Send + 'static,
    E: Borrow<Event> + Send + 'static,
{
    Ok(match q {
        "q0" => {
            let v = values(stateless(events, mode, q0_row, |b| b.0)?).await;
            Output::Q0(v)
        }
        "q1" => {
            let v = values(stateless(events, mode, q1_row, |b| b.0)?).await;
            Output::Q1(v)
        }
        "q2" => {
            let v = values(stateless(events, mode, q2_row, |b| b.0)?).await;
            Output::Q2(v)
        }
        "q3" => Output::Q3(q3(events, mode).await?),
        "q4" => Output::Q4(q4(events, mode).await?),
        "q5" => Output::Q5(q5(events, mode).await?),
        "q7" => Output::Q7(q7(events, mode).await?),
        "q8" => Output::Q8(q8(events, mode).await?),
        other => {
            return Err(ConfigError::Invalid {
                setting: "query",
                reason: format!("unknown query {other}; one of {QUERIES:?}"),
            });
        }
    })
}

/// q3 inputs: persons in OR, ID or CA, auctions of category 10 (the generator writes
/// states in lower case).
#[derive(Debug, Clone)]
enum Q3In {
    Person {
        id: usize,
        name: String,
        city: String,
        state: String,
    },
    Auction {
        id: usize,
        seller: usize,
    },
}

async fn q3<S, E>(
    events: S,
    mode: Mode,
) -> Result<Vec<(String, String, String, usize)>, ConfigError>
where
    S: Stream<Item = E> + Send + 'static,
    E: Borrow<Event> + Send + 'static,
{
    let project = |e: &Event| match e {
        Event::Person(p) if matches!(p.state.as_str(), "or" | "id" | "ca") => Some(Q3In::Person {
            id: p.id,
            name: p.name.clone(),
            city: p.city.clone(),
            state: p.state.clone(),
        }),
        Event::Auction(a) if a.category == 10 => Some(Q3In::Auction {
            id: a.id,
            seller: a.seller,
        }),
        _ => None,
    };
    let key = |x: &Q3In| match x {
        Q3In::Person { id, .. } => *id,
        Q3In::Auction { seller, .. } => *seller,
    };
    // State kept 30 s of event time: sellers are among the last 1000 persons (5 s at the
    // generator's rate) and at most 10 persons ahead, so nothing that would join expires.
    let spec = RegularJoinSpec::new().ttl(30_000);
    let chain = |input: Boxed<Timed<Q3In>>| {
        let [persons, auctions] = input.fan_out(FAN_OUT, |x| match x {
            Q3In::Person { .. } => 0,
            Q3In::Auction { .. } => 1,
        })?;
        Ok(persons
            .join(auctions)
            .on(key, key)
            .regular(spec, |p: &Q3In, a: &Q3In| match (p, a) {
                (
                    Q3In::Person {
                        name, city, state, ..
                    },
                    Q3In::Auction { id, .. },
                ) => (name.clone(), city.clone(), state.clone(), *id),
                _ => (String::new(), String::new(), String::new(), 0),
            })?
            .timed_filter_map(joined))
    };
    let v = values(run(events, mode, project, key, chain)?).await;
    Ok(v)
}

/// q4 inputs: auctions with their interval, bids.
#[derive(Debug, Clone, Copy)]
enum Q4In {
    Auction {
        id: usize,
        category: usize,
        ts: i64,
        expires: i64,
    },
    Bid {
        auction: usize,
        price: usize,
        ts: i64,
    },
}

/// `(auction, category, expires, price)` of a bid within its auction's interval.
type Q4Pair = (usize, usize, i64, usize);

/// Closes each auction once the watermark passes its expiry: emits `(category, max
/// price)` at the expiry time (Flink's `GROUP BY A.id, A.category` of `MAX(B.price)`, whose
/// value cannot change after the auction expired).
struct CloseAuctions {
    input: Boxed<Timed<Q4Pair>>,
    // FxHash: with std's SipHash this map cost q4 inline 22 M of its 245 M instructions
    // (200 000 events, callgrind).
    open: FxHashMap<usize, (usize, usize)>,
    by_expiry: BTreeSet<(i64, usize)>,
    pending: VecDeque<Timed<(usize, usize)>>,
    done: bool,
}

impl CloseAuctions {
    fn new(input: Boxed<Timed<Q4Pair>>) -> Self {
        CloseAuctions {
            input,
            open: FxHashMap::default(),
            by_expiry: BTreeSet::new(),
            pending: VecDeque::new(),
            done: false,
        }
    }

    fn close_until(&mut self, w: i64) {
        while let Some(&(expires, id)) = self.by_expiry.first() {
            if expires >= w {
                break;
            }
            self.by_expiry.pop_first();
            if let Some((category, max)) = self.open.remove(&id) {
                self.pending
                    .push_back(Timed::item(expires, (category, max)));
            }
        }
    }
}

impl Stream for CloseAuctions {
    type Item = Timed<(usize, usize)>;

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = self.get_mut();
        loop {
            if let Some(out) = this.pending.pop_front() {
                return Poll::Ready(Some(out));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match this.input.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Timed::Item {
                    value: (id, category, expires, price),
                    ..
                })) => {
                    let entry = this.open.entry(id).or_insert((category, 0));
                    if entry.1 == 0 {
                        this.by_expiry.insert((expires, id));
                    }
                    entry.1 = entry.1.max(price);
                }
                Poll::Ready(Some(Timed::Watermark(w))) => {
                    this.close_until(w);
                    this.pending.push_back(Timed::Watermark(w));
                }
                Poll::Ready(None) => {
                    this.close_until(i64::MAX);
                    this.done = true;
                }
            }
        }
    }
}

async fn q4<S, E>(events: S, mode: Mode) -> Result<Vec<(usize, u64, u64)>, ConfigError>
where
    S: Stream<Item = E> + Send + 'static,
    E: Borrow<Event> + Send + 'static,
{
    let project = |e: &Event| match e {
        Event::Auction(a) => Some(Q4In::Auction {
            id: a.id,
            category: a.category,
            ts: a.date_time as i64,
            expires: a.expires as i64,
        }),
        Event::Bid(b) => Some(Q4In::Bid {
            auction: b.auction,
            price: b.price,
            ts: b.date_time as i64,
        }),
        Event::Person(_) => None,
    };
    let key = |x: &Q4In| match x {
        Q4In::Auction { id, .. } => *id,
        Q4In::Bid { auction, .. } => *auction,
    };
    // Auctions last at most about 0.33 s at the generator's rate: 2 s of state suffices.
    // Auction ids are unique: a bid that finds its auction is not stored; only bids read
    // before their auction are (one of the same millisecond may come first, the two
    // inputs being read in turns). Storing every bid for its 2 s plus the 4 s watermark
    // delay cost 58 M of q4's 202 M instructions (200 000 events, callgrind).
    let spec = RegularJoinSpec::new().ttl(2_000).unique_left_keys(true);
    let chain = |input: Boxed<Timed<Q4In>>| {
        let [auctions, bids] = input.fan_out(FAN_OUT, |x| match x {
            Q4In::Auction { .. } => 0,
            Q4In::Bid { .. } => 1,
        })?;
        let pairs = auctions
            .join(bids)
            .on(key, key)
            .regular(spec, |a: &Q4In, b: &Q4In| match (*a, *b) {
                (
                    Q4In::Auction {
                        id,
                        category,
                        ts,
                        expires,
                    },
                    Q4In::Bid {
                        price, ts: bid_ts, ..
                    },
                ) if ts <= bid_ts && bid_ts <= expires => Some((id, category, expires, price)),
                _ => None,
            })?
            .timed_filter_map(|e| joined(e).flatten());
        Ok(CloseAuctions::new(Box::pin(pairs)))
    };
    let finals = values(run(events, mode, project, key, chain)?).await;
    let mut by_category: HashMap<usize, (u64, u64)> = HashMap::new();
    for (category, price) in finals {
        let e = by_category.entry(category).or_default();
        e.0 += price as u64;
        e.1 += 1;
    }
    let v: Vec<_> = by_category
        .into_iter()
        .map(|(c, (s, n))| (c, s, n))
        .collect();
    Ok(v)
}

/// The hottest auctions of one hop window: the largest count and who has it.
#[derive(Debug, Clone, Default)]
struct Top {
    start: i64,
    count: u64,
    auctions: Vec<usize>,
}

impl Top {
    fn add(mut self, start: i64, auction: usize, count: u64) -> Top {
        self.start = start;
        if count > self.count {
            self.count = count;
            self.auctions.clear();
        }
        if count == self.count {
            self.auctions.push(auction);
        }
        self
    }

    fn merge(mut self, other: Top) -> Top {
        self.start = other.start;
        if other.count > self.count {
            return other;
        }
        if other.count == self.count {
            self.auctions.extend(other.auctions);
        }
        self
    }
}

async fn q5<S, E>(events: S, mode: Mode) -> Result<Vec<(i64, usize, u64)>, ConfigError>
where
    S: Stream<Item = E> + Send + 'static,
    E: Borrow<Event> + Send + 'static,
{
    let project = |e: &Event| bid(e).map(|b| b.auction);
    // Per partition: bids per auction in each 2 s pane (one window, a map of counts), then
    // per 10 s window the sum of its five panes (Flink's sliced hop windows: one update per
    // bid, not five), then the local maximum per window (one 2 s tumbling window holds one
    // hop window's end).
    let chain = |input: Boxed<Timed<usize>>| {
        Ok(input
            .timed_window(Tumbling::event_time(2_000))?
            .fold(
                FxHashMap::default(),
                |mut counts: FxHashMap<usize, u64>, a| {
                    *counts.entry(a).or_insert(0) += 1;
                    counts
                },
            )
            .timed_filter_map(fired)
            .flat_map(|t| {
                // A pane's counts at its end - 1; a watermark as it is (no allocation).
                let (watermark, panes) = match t {
                    Timed::Item { ts, value } => (None, Some((ts, value.value))),
                    Timed::Watermark(w) => (Some(Timed::Watermark(w)), None),
                };
                let panes = panes.into_iter().flat_map(|(ts, counts)| {
                    counts.into_iter().map(move |pane| Timed::item(ts, pane))
                });
                stream::iter(watermark.into_iter().chain(panes))
            })
            .timed_window_by(
                Sliding::event_time(TEN_SECONDS, 2_000),
                |p: &(usize, u64)| p.0,
            )?
            .fold(0u64, |n, p| n + p.1)
            .timed_filter_map(fired)
            .map(|t| t.map(|w| (w.start, w.key, w.value)))
            .timed_window(Tumbling::event_time(2_000))?
            .fold(Top::default(), |top, (start, auction, n)| {
                top.add(start, auction, n)
            })
            .timed_filter_map(fired)
            .map(|t| t.map(|w| w.value)))
    };
    let locals = run(events, mode, project, |a| *a, chain)?;
    // Global: the maximum over the partitions' maxima, per window.
    let tops = locals
        .timed_window(Tumbling::event_time(2_000))?
        .fold(Top::default(), Top::merge)
        .timed_filter_map(fired)
        .map(|t| t.map(|w| w.value));
    let v: Vec<(i64, usize, u64)> = values(Box::pin(tops))
        .await
        .into_iter()
        .flat_map(|top| {
            let (start, count) = (top.start, top.count);
            top.auctions.into_iter().map(move |a| (start, a, count))
        })
        .collect();
    Ok(v)
}

/// A q7 bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct B7 {
    auction: usize,
    price: usize,
    bidder: usize,
    ts: i64,
}

/// The highest price of a window, its bids at that price, and its bids of its last
/// millisecond (any price: they may match the next window's highest price).
#[derive(Debug, Clone, Default)]
struct Highest {
    max: usize,
    bids: Vec<B7>,
    last_ms: Vec<B7>,
}

impl Highest {
    fn add(mut self, b: B7) -> Highest {
        if b.ts.rem_euclid(TEN_SECONDS) == TEN_SECONDS - 1 {
            self.last_ms.push(b);
        }
        if b.price > self.max {
            self.max = b.price;
            self.bids.clear();
        }
        if b.price == self.max {
            self.bids.push(b);
        }
        self
    }

    fn merge(mut self, other: Highest) -> Highest {
        if other.max > self.max {
            self.max = other.max;
            self.bids = other.bids;
        } else if other.max == self.max {
            self.bids.extend(other.bids);
        }
        self.last_ms.extend(other.last_ms);
        self
    }
}

async fn q7<S, E>(events: S, mode: Mode) -> Result<Vec<(usize, usize, usize, i64)>, ConfigError>
where
    S: Stream<Item = E> + Send + 'static,
    E: Borrow<Event> + Send + 'static,
{
    let project = |e: &Event| {
        bid(e).map(|b| B7 {
            auction: b.auction,
            price: b.price,
            bidder: b.bidder,
            ts: b.date_time as i64,
        })
    };
    // Flink's q7 joins each window's highest price back to the bids with that price in
    // [end - 1 - 10 s, end - 1]: the window's own bids and those of the millisecond before
    // it. One tumbling window per partition (split by price) keeps only the bids at its
    // running maximum and those of its last millisecond.
    let chain = |input: Boxed<Timed<B7>>| {
        Ok(input
            .timed_window(Tumbling::event_time(TEN_SECONDS))?
            .fold(Highest::default(), Highest::add)
            .timed_filter_map(fired)
            .map(|t| t.map(|w| (w.start, w.value))))
    };
    let locals = run(events, mode, project, |b| b.price, chain)?;
    // Global: the highest price over the partitions, per window.
    let best = locals
        .timed_window(Tumbling::event_time(TEN_SECONDS))?
        .fold((0, Highest::default()), |(_, h), (start, local)| {
            (start, h.merge(local))
        })
        .timed_filter_map(fired)
        .map(|t| t.map(|w| w.value));
    let mut windows = values(Box::pin(best)).await;
    windows.sort_unstable_by_key(|w| w.0);
    // The bids of the previous window's last millisecond with this window's price.
    let mut rows = Vec::new();
    let mut previous: Option<(i64, Vec<B7>)> = None;
    for (start, h) in windows {
        rows.extend(h.bids.iter().copied());
        if let Some((prev_start, last_ms)) = &previous {
            if *prev_start + TEN_SECONDS == start {
                rows.extend(last_ms.iter().filter(|b| b.price == h.max).copied());
            }
        }
        previous = Some((start, h.last_ms));
    }
    Ok(rows
        .into_iter()
        .map(|b| (b.auction, b.price, b.bidder, b.ts))
        .collect())
}

/// q8 inputs.
#[derive(Debug, Clone)]
enum Q8In {
    Person { id: usize, name: String },
    Auction { seller: usize },
}

async fn q8<S, E>(events: S, mode: Mode) -> Result<Vec<(usize, String, i64)>, ConfigError>
where
    S: Stream<Item = E> + Send + 'static,
    E: Borrow<Event> + Send + 'static,
{
    let project = |e: &Event| match e {
        Event::Person(p) => Some(Q8In::Person {
            id: p.id,
            name: p.name.clone(),
        }),
        Event::Auction(a) => Some(Q8In::Auction { seller: a.seller }),
        Event::Bid(_) => None,
    };
    let key = |x: &Q8In| match x {
        Q8In::Person { id, .. } => *id,
        Q8In::Auction { seller } => *seller,
    };
    // Persons and sellers of the same 10 s window: one row per person (GROUP BY in both
    // subqueries), however many auctions.
    let chain = |input: Boxed<Timed<Q8In>>| {
        let [persons, auctions] = input.fan_out(FAN_OUT, |x| match x {
            Q8In::Person { .. } => 0,
            Q8In::Auction { .. } => 1,
        })?;
        Ok(persons
            .join(auctions)
            .on(key, key)
            .window_cogroup(
                Tumbling::event_time(TEN_SECONDS),
                |_, persons: &[Q8In], auctions: &[Q8In]| {
                    if auctions.is_empty() {
                        return None;
                    }
                    let mut rows: Vec<(usize, String)> = persons
                        .iter()
                        .filter_map(|p| match p {
                            Q8In::Person { id, name } => Some((*id, name.clone())),
                            Q8In::Auction { .. } => None,
                        })
                        .collect();
                    rows.dedup();
                    Some(rows)
                },
            )?
            .timed_filter_map(joined))
    };
    let out = run(events, mode, project, key, chain)?;
    let v: Vec<(usize, String, i64)> = out
        .filter_map(|t| {
            ready(match t {
                Timed::Item { ts, value } => Some((ts + 1 - TEN_SECONDS, value)),
                Timed::Watermark(_) => None,
            })
        })
        .flat_map(|(start, rows)| {
            stream::iter(rows.into_iter().map(move |(id, name)| (id, name, start)))
        })
        .collect()
        .await;
    Ok(v)
}
