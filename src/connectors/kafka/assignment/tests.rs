//! Unit tests of the assignment: epochs, pause and resume, rejections.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::ack::{AckSink, Outcome};
use crate::connectors::kafka::KafkaSourceBuilder;

fn assignment(max_in_flight: usize) -> Assignment {
    let settings = KafkaSourceBuilder::new("127.0.0.1:9092", "g")
        .topic("t")
        .max_in_flight_per_partition(max_in_flight)
        .commit_every(2)
        .settings()
        .unwrap();
    Assignment::new(settings, Arc::default(), None)
}

fn fetched(generation: u64, partition: i32, offset: i64) -> Fetched {
    Fetched {
        generation,
        message: Ok(KafkaMessage {
            topic: Arc::from("t"),
            partition,
            offset,
            key: None,
            payload: None,
            headers: Vec::new(),
            timestamp: None,
        }),
    }
}

fn slots(ready: &VecDeque<Ready>) -> Vec<(u32, u64)> {
    ready
        .iter()
        .filter_map(|r| match r {
            Ready::Message { slot, offset, .. } => Some((*slot, *offset)),
            Ready::Error(_) => None,
        })
        .collect()
}

#[test]
fn a_new_epoch_ignores_late_acknowledgements_and_stale_fetches() {
    let a = assignment(100);
    a.assign([("t", 0)].into_iter());
    let old = a.generation();
    let mut ready = VecDeque::new();
    a.register(
        [fetched(old, 0, 5), fetched(old, 0, 6)].into_iter(),
        &mut ready,
    );
    assert_eq!(slots(&ready), [(0, 5), (0, 6)]);

    // Revoked with nothing acknowledged: offset 5 is what may be committed.
    assert_eq!(a.revoke([("t", 0)].into_iter()), [(Arc::from("t"), 0, 5)]);
    a.assign([("t", 0)].into_iter());
    let new = a.generation();
    assert!(new > old);

    // The old epoch's obligation comes late: ignored.
    a.settle(0, 5..6, Outcome::Acked);
    assert_eq!((a.stats().late, a.stats().acked), (1, 0));
    assert_eq!(a.owned(), [(Arc::from("t"), 0, None)]);

    // A message fetched before the revocation is stale; one fetched after is new.
    ready.clear();
    a.register(
        [fetched(old, 0, 7), fetched(new, 0, 5)].into_iter(),
        &mut ready,
    );
    assert_eq!(slots(&ready), [(1, 5)]);
    assert_eq!(a.stats().stale, 1);
    a.settle(1, 5..6, Outcome::Acked);
    assert_eq!(a.owned(), [(Arc::from("t"), 0, Some(6))]);
}

#[test]
fn pause_at_the_bound_resume_at_half_and_commit_what_moved() {
    let a = assignment(2);
    a.assign([("t", 0), ("t", 1)].into_iter());
    let g = a.generation();
    let mut ready = VecDeque::new();
    let to_pause = a.register(
        [fetched(g, 0, 0), fetched(g, 0, 1), fetched(g, 1, 0)].into_iter(),
        &mut ready,
    );
    assert_eq!(to_pause, [(Arc::from("t"), 0)]);
    assert_eq!(a.stats().pauses, 1);
    let slot0 = slots(&ready)[0].0;

    assert!(!a.signal.take());
    a.settle(slot0, 0..1, Outcome::Acked); // 1 in flight: at the resume mark
    assert!(a.signal.take());
    assert_eq!(a.to_resume(), [(Arc::from("t"), 0)]);
    assert!(a.to_resume().is_empty());

    assert!(!a.commit_due()); // every 2 acknowledgements
    assert_eq!(a.take_commits(false), [(Arc::from("t"), 0, 1)]);
    assert!(a.take_commits(false).is_empty()); // nothing moved since
    let mut all = a.take_commits(true);
    all.sort();
    assert_eq!(all, [(Arc::from("t"), 0, 1), (Arc::from("t"), 1, 0)]);
    a.commit_failed([("t", 0)].into_iter());
    assert_eq!(a.take_commits(false), [(Arc::from("t"), 0, 1)]);
    assert_eq!(a.stats().commit_failures, 1);
}

#[test]
fn a_rejection_stops_its_partition_once_and_a_release_holds_the_commit() {
    let a = assignment(100);
    a.assign([("t", 3)].into_iter());
    let g = a.generation();
    let mut ready = VecDeque::new();
    a.register((0..4).map(|o| fetched(g, 3, o)), &mut ready);
    a.settle(0, 0..1, Outcome::Acked);
    a.settle(0, 1..2, Outcome::Rejected(&"bad"));
    a.settle(0, 2..3, Outcome::Rejected(&"worse"));
    a.settle(0, 3..4, Outcome::Released);
    let error = a.pop_error().unwrap();
    assert_eq!(
        (error.topic(), error.partition(), error.offset()),
        (Some("t"), Some(3), Some(1))
    );
    assert!(error.to_string().contains("bad"), "{error}");
    assert!(a.pop_error().is_none(), "reported once");
    assert_eq!(a.to_stop(), [(Arc::from("t"), 3)]);
    assert_eq!(a.owned(), [(Arc::from("t"), 3, Some(1))]);
    let stats = a.stats();
    assert_eq!((stats.acked, stats.rejected, stats.released), (1, 2, 1));
}
