//! Each Nexmark query of `examples/nexmark`, inline and on 1 and 3 keyed partitions,
//! checked against the hand-written single-pass loop of the same query over the same
//! 100 000 events.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub,
    dead_code
)]

#[path = "../../examples/nexmark/events.rs"]
mod events;
#[path = "../../examples/nexmark/queries.rs"]
mod queries;
#[path = "../../examples/nexmark/reference.rs"]
mod reference;

use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use futures::stream;
use nexmark::event::Event;
use queries::{Mode, Output};

const EVENTS: usize = 100_000;

fn data() -> &'static [Event] {
    static DATA: OnceLock<&'static [Event]> = OnceLock::new();
    DATA.get_or_init(|| events::in_memory(EVENTS))
}

fn check(q: &str) {
    let want = reference::query(q, data().iter()).unwrap().sorted();
    assert!(want.len() > 0, "{q}: the reference finds no rows");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for mode in [Mode::Inline, Mode::Partitions(1), Mode::Partitions(3)] {
        let got: Output = rt
            .block_on(queries::query(q, stream::iter(data().iter()), mode))
            .unwrap()
            .sorted();
        assert_eq!(got, want, "{q} {mode:?}");
    }
    // Owned events (as from the live generator) give the same.
    let owned = stream::iter(data()[..EVENTS / 2].to_vec());
    let got = rt
        .block_on(queries::query(q, owned, Mode::Partitions(2)))
        .unwrap();
    let half = reference::query(q, data()[..EVENTS / 2].iter()).unwrap();
    assert_eq!(got.sorted(), half.sorted(), "{q} owned");
    assert_eq!(queries::ANOMALIES.load(Ordering::Relaxed), 0);
}

#[test]
fn q0_pass_through() {
    check("q0");
}

#[test]
fn q1_currency_conversion() {
    check("q1");
}

#[test]
fn q2_selection() {
    check("q2");
}

#[test]
fn q3_local_item_suggestion() {
    check("q3");
}

#[test]
fn q4_average_price_per_category() {
    check("q4");
}

#[test]
fn q5_hot_items() {
    check("q5");
}

#[test]
fn q7_highest_bid() {
    check("q7");
}

#[test]
fn q8_monitor_new_users() {
    check("q8");
}

#[test]
fn the_generator_is_reproducible() {
    assert_eq!(events::events(1000), events::events(1000));
    assert_eq!(events::ts(&data()[0]), events::BASE_TIME as i64);
}
