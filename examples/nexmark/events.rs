//! Nexmark events from RisingWave's generator, with a fixed base time so every run sees
//! the same events.

use nexmark::EventGenerator;
use nexmark::config::NexmarkConfig;
use nexmark::event::Event;

/// The base time of every run: 2023-11-14 22:13:20 UTC, in ms.
pub(crate) const BASE_TIME: u64 = 1_700_000_000_000;

/// The generator's default configuration (10 000 events per second of event time, 1
/// person : 3 auctions : 46 bids, events in order) with the fixed base time.
pub(crate) fn generator() -> EventGenerator {
    EventGenerator::new(NexmarkConfig {
        base_time: BASE_TIME,
        ..NexmarkConfig::default()
    })
}

/// The first `n` events, in memory.
pub(crate) fn events(n: usize) -> Vec<Event> {
    generator().take(n).collect()
}

/// An event's time in ms (the `dateTime` column).
#[inline]
pub(crate) fn ts(e: &Event) -> i64 {
    e.timestamp() as i64
}

/// The first `n` events, in memory for the rest of the process: queries read them by
/// reference, as an in-memory table (nothing is copied or freed while a query runs).
pub(crate) fn in_memory(n: usize) -> &'static [Event] {
    Box::leak(events(n).into_boxed_slice())
}
