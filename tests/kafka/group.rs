//! Two members of one group: the partitions are split, a leaving member hands its
//! partitions over at its committed offsets, and a revoked partition's late
//! acknowledgements are ignored.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use sweet_async::ack::{Acks, TakeAcks};
use sweet_async::connectors::kafka::{KafkaMessage, KafkaSourceBuilder, KafkaSourceHandle};
use sweet_async::prelude::*;
use tokio::task::JoinHandle;

use crate::common::{cluster, committed, produce_round_robin, unique};
use crate::source::member;

/// What one member saw: `(partition, offset)` in delivery order.
type Seen = Arc<Mutex<Vec<(i32, i64)>>>;

struct Member {
    handle: KafkaSourceHandle,
    seen: Seen,
    task: JoinHandle<()>,
}

/// Runs a member that hands each event's obligation to `settle` (which acks it, or keeps
/// it), until its handle stops it.
fn spawn_member<F>(builder: KafkaSourceBuilder, mut settle: F) -> Member
where
    F: FnMut(&KafkaMessage, Acks) + Send + 'static,
{
    let (source, handle) = builder.build().unwrap();
    let seen = Seen::default();
    let log = seen.clone();
    let task = tokio::spawn(async move {
        let mut events = AsyncTask::emits::<KafkaMessage>().sender(source);
        while let Some(item) = events.next().await {
            let mut event = item.unwrap();
            let acks = event.take_acks();
            log.lock()
                .unwrap()
                .push((event.data.partition, event.data.offset));
            settle(&event.data, acks);
        }
    });
    Member { handle, seen, task }
}

/// Polls `check` every 50 ms for up to 30 s.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn partitions(handle: &KafkaSourceHandle) -> BTreeSet<i32> {
    handle.assignment().iter().map(|p| p.partition).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_split_the_partitions_and_a_leaving_member_hands_its_over() {
    let topic = unique("split");
    let group = unique("g");
    let cluster = cluster(&[(&topic, 4)]);
    let brokers = cluster.bootstrap_servers();
    produce_round_robin(&brokers, &topic, 4, 200).await;

    let a = spawn_member(member(&brokers, &group, &topic), |_, acks| acks.ack());
    let b = spawn_member(member(&brokers, &group, &topic), |_, acks| acks.ack());
    let total = |a: &Seen, b: &Seen| a.lock().unwrap().len() + b.lock().unwrap().len();
    eventually(
        "both members to own two partitions and read everything",
        || {
            partitions(&a.handle).len() == 2
                && partitions(&b.handle).len() == 2
                && total(&a.seen, &b.seen) >= 200
        },
    )
    .await;
    let (pa, pb) = (partitions(&a.handle), partitions(&b.handle));
    assert!(pa.is_disjoint(&pb), "{pa:?} {pb:?}");
    assert_eq!(pa.union(&pb).copied().collect::<Vec<_>>(), [0, 1, 2, 3]);

    // A leaves: its final commit is synchronous, B takes over at A's offsets.
    let a_seen = a.seen.clone();
    a.handle.clone().close().await.unwrap();
    a.task.await.unwrap();
    eventually("B to own every partition", || {
        partitions(&b.handle).len() == 4
    })
    .await;
    produce_round_robin(&brokers, &topic, 4, 200).await;
    eventually("B to read the new records", || {
        total(&a_seen, &b.seen) >= 400
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Every record exactly once: nothing A handled comes again at B.
    let mut all: Vec<(i32, i64)> = a_seen.lock().unwrap().clone();
    all.extend(b.seen.lock().unwrap().iter().copied());
    let distinct: BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(distinct.len(), 400);
    assert_eq!(all.len(), 400, "duplicates after a clean handover");
    let stats = b.handle.stats();
    // Cooperative rebalancing: B kept its partitions (no revocation) and was given A's.
    assert_eq!((stats.assignments, stats.revocations), (2, 0), "{stats:?}");
    b.handle.clone().close().await.unwrap();
    b.task.await.unwrap();
    assert_eq!(committed(&brokers, &group, &topic, 4), [100, 100, 100, 100]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_partitions_late_acknowledgements_are_ignored() {
    let topic = unique("late");
    let group = unique("g");
    let cluster = cluster(&[(&topic, 2)]);
    let brokers = cluster.bootstrap_servers();
    produce_round_robin(&brokers, &topic, 2, 10).await;

    // A holds the obligation of partition 0's first event, acks the rest.
    let held: Arc<Mutex<Vec<Acks>>> = Arc::default();
    let keep = held.clone();
    let a = spawn_member(
        member(&brokers, &group, &topic).commit_every(1),
        move |m, acks| {
            if m.partition == 0 && m.offset == 0 && keep.lock().unwrap().is_empty() {
                keep.lock().unwrap().push(acks);
            } else {
                acks.ack();
            }
        },
    );
    eventually("A to read everything", || {
        a.seen.lock().unwrap().len() >= 10
    })
    .await;
    eventually("A to commit", || {
        committed(&brokers, &group, &topic, 2) == [0, 5]
    })
    .await;

    // B joins: A's partitions are revoked (and some come back in a new epoch).
    let b = spawn_member(member(&brokers, &group, &topic), |_, acks| acks.ack());
    eventually("the rebalance", || {
        a.handle.stats().revocations >= 1 && partitions(&b.handle).len() == 1
    })
    .await;
    // The held obligation is late now: ignored, the commit point does not move for it.
    held.lock().unwrap().drain(..).for_each(Acks::ack);
    assert_eq!(a.handle.stats().late, 1);
    // Partition 0 is read again from offset 0 by its new owner (A or B).
    let reads_of_first = |m: &Member| {
        m.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| **s == (0, 0))
            .count()
    };
    eventually("partition 0 to be redelivered", || {
        reads_of_first(&a) + reads_of_first(&b) == 2
    })
    .await;
    eventually("partition 0 to be committed", || {
        committed(&brokers, &group, &topic, 2)[0] == 5
    })
    .await;
    for m in [a, b] {
        m.handle.clone().close().await.unwrap();
        m.task.await.unwrap();
    }
}
