//! One member: every partition consumed and committed, commits stop at the first
//! unacknowledged offset, a restart resumes there, slow pipelines pause partitions,
//! rejections stop a partition or go to the dead-letter topic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use sweet_async::ack::{Acks, TakeAcks};
use sweet_async::collect::Collector;
use sweet_async::connectors::kafka::{self, KafkaError, KafkaMessage, KafkaSourceBuilder};
use sweet_async::prelude::*;
use sweet_async::stream::SourceError;

use crate::common::{cluster, committed, produce_round_robin, read_all, unique};

/// Settings every test member uses: quick group joins and heartbeats.
pub(crate) fn member(brokers: &str, group: &str, topic: &str) -> KafkaSourceBuilder {
    kafka::source(brokers, group)
        .topic(topic)
        .set("session.timeout.ms", "3000")
        .set("heartbeat.interval.ms", "200")
}

/// Drives `builder`'s source by hand until `n` events were handled, `each` deciding per
/// message (`Ok`: acknowledge, `Err`: reject; it may also take the obligation to settle
/// it later); returns the payloads seen in order.
async fn consume<F>(
    builder: KafkaSourceBuilder,
    n: u64,
    mut each: F,
) -> (Vec<String>, kafka::KafkaSourceHandle)
where
    F: FnMut(&KafkaMessage, &mut Acks) -> Result<(), String>,
{
    let (source, handle) = builder.build().unwrap();
    let mut events = AsyncTask::emits::<KafkaMessage>().sender(source);
    let mut seen = Vec::new();
    let run = async {
        while let Some(item) = events.next().await {
            let mut event = item.unwrap();
            let mut acks = event.take_acks();
            seen.push(event.data.payload_str().unwrap_or("").to_owned());
            match each(&event.data, &mut acks) {
                Ok(()) => acks.ack(),
                Err(reason) => acks.reject(&reason),
            }
            if seen.len() as u64 == n {
                handle.stop();
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("pipeline timed out");
    (seen, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_consumes_every_partition_and_commits_what_it_acked() {
    let topic = unique("every");
    let group = unique("g");
    let cluster = cluster(&[(&topic, 4)]);
    let brokers = cluster.bootstrap_servers();
    produce_round_robin(&brokers, &topic, 4, 100).await;

    let builder = member(&brokers, &group, &topic).commit_every(7);
    let (seen, handle) = consume(builder, 100, |_, _| Ok(())).await;
    let mut sorted: Vec<u64> = seen.iter().map(|p| p.parse().unwrap()).collect();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    let stats = handle.stats();
    assert_eq!(
        (stats.delivered, stats.acked, stats.released),
        (100, 100, 0)
    );
    assert!(stats.commits >= 2, "{stats:?}");
    let owned = handle.assignment();
    assert_eq!(owned.len(), 4);
    assert!(owned.iter().all(|p| p.committable == Some(25)), "{owned:?}");
    let mut closed = handle.close().await.unwrap();
    closed.sort();
    assert_eq!(
        closed.iter().map(|c| (c.1, c.2)).collect::<Vec<_>>(),
        [(0, 25), (1, 25), (2, 25), (3, 25)]
    );
    assert_eq!(committed(&brokers, &group, &topic, 4), [25, 25, 25, 25]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_stop_at_the_first_unacknowledged_offset_and_a_restart_resumes_there() {
    let topic = unique("gap");
    let group = unique("g");
    let cluster = cluster(&[(&topic, 1)]);
    let brokers = cluster.bootstrap_servers();
    produce_round_robin(&brokers, &topic, 1, 10).await;

    // Offset 3's obligation is held (neither acked nor rejected) until the end.
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    let builder = member(&brokers, &group, &topic).commit_every(1);
    let (seen, handle) = consume(builder, 10, move |m, acks| {
        if m.offset == 3 {
            keep.lock().unwrap().push(acks.take());
        }
        Ok(())
    })
    .await;
    assert_eq!(seen.len(), 10);
    assert_eq!(handle.stats().acked, 9);
    assert_eq!(handle.assignment()[0].committable, Some(3));
    let closed = handle.close().await.unwrap();
    assert_eq!(closed[0].2, 3);
    assert_eq!(committed(&brokers, &group, &topic, 1), [3]);
    drop(held); // released: the commit point stays

    // A new member of the group starts at offset 3: 3 is redelivered, and so are the
    // handled 4..10 (the duplicates at-least-once allows), nothing before.
    let builder = member(&brokers, &group, &topic);
    let (again, handle) = consume(builder, 7, |_, _| Ok(())).await;
    assert_eq!(again, ["3", "4", "5", "6", "7", "8", "9"]);
    handle.close().await.unwrap();
    assert_eq!(committed(&brokers, &group, &topic, 1), [10]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_pipeline_pauses_its_partition_at_the_in_flight_bound() {
    let topic = unique("slow");
    let group = unique("g");
    let cluster = cluster(&[(&topic, 1)]);
    let brokers = cluster.bootstrap_servers();
    produce_round_robin(&brokers, &topic, 1, 2_000).await;

    // Obligations are held until `release` is set; then everything is acked.
    let held: Arc<Mutex<Vec<Acks>>> = Arc::default();
    let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (keep, go) = (held.clone(), release.clone());
    let builder = member(&brokers, &group, &topic)
        .max_in_flight_per_partition(100)
        .fetch_batch(10);
    let (source, handle) = builder.build().unwrap();
    let stop = handle.clone();
    let pipeline = tokio::spawn(async move {
        let mut events = AsyncTask::emits::<KafkaMessage>().sender(source);
        let mut handled = 0u64;
        while let Some(item) = events.next().await {
            let mut event = item.unwrap();
            let acks = event.take_acks();
            if go.load(Ordering::SeqCst) {
                keep.lock().unwrap().drain(..).for_each(Acks::ack);
                acks.ack();
            } else {
                keep.lock().unwrap().push(acks);
            }
            handled += 1;
            if event.data.offset == 1_999 {
                stop.stop();
            }
        }
        handled
    });
    // Wait until delivery stalls at the bound.
    let mut last = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = handle.stats().delivered;
        if now > 0 && now == last {
            break;
        }
        last = now;
    }
    let stats = handle.stats();
    assert!(
        stats.delivered >= 100 && stats.delivered <= 110,
        "{stats:?}"
    );
    assert_eq!(stats.pauses, 1);
    // Release: everything held is acked by the next event, and the partition resumes.
    release.store(true, Ordering::SeqCst);
    held.lock().unwrap().drain(..).for_each(Acks::ack);
    let handled = tokio::time::timeout(Duration::from_secs(60), pipeline)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(handled, 2_000);
    let stats = handle.stats();
    assert_eq!(stats.delivered, 2_000);
    assert!(stats.max_in_flight <= 110, "{stats:?}");
    handle.close().await.unwrap();
    assert_eq!(committed(&brokers, &group, &topic, 1), [2_000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_stops_its_partition_with_a_typed_error_and_the_others_go_on() {
    let topic = unique("reject");
    let group = unique("g");
    let cluster = cluster(&[(&topic, 2)]);
    let brokers = cluster.bootstrap_servers();
    produce_round_robin(&brokers, &topic, 2, 40).await; // even payloads in 0, odd in 1

    let (source, handle) = member(&brokers, &group, &topic).build().unwrap();
    let stop = handle.clone();
    let handled = Arc::new(AtomicU64::new(0));
    let count = handled.clone();
    let events: Vec<_> = tokio::time::timeout(
        Duration::from_secs(60),
        AsyncTask::emits::<KafkaMessage>()
            .sender(source)
            .receiver(ReceiverStrategy::Serial, move |e, _: Collector<(), ()>| {
                let payload: u64 = e.data.payload_str().unwrap().parse().unwrap();
                if count.fetch_add(1, Ordering::SeqCst) + 1 == 40 {
                    stop.stop();
                }
                async move {
                    if payload == 10 {
                        Err(format!("cannot handle {payload}"))
                    } else {
                        Ok(payload)
                    }
                }
            })
            .collect::<Vec<_>>(),
    )
    .await
    .unwrap();
    // Exactly one source error: partition 0 stopped at offset 5 (payload 10).
    let errors: Vec<&KafkaError> = events
        .iter()
        .filter_map(|r| match r {
            sweet_async::collect::Received::Failed(e) => e.source_error().and_then(|s| match s {
                SourceError::Item(b) => b.downcast_ref::<KafkaError>(),
                _ => None,
            }),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "{events:?}");
    let e = errors[0];
    assert!(matches!(e, KafkaError::Rejected { .. }), "{e}");
    assert_eq!(
        (e.topic(), e.partition(), e.offset()),
        (Some(topic.as_str()), Some(0), Some(5))
    );
    assert!(e.to_string().contains("cannot handle 10"), "{e}");
    assert_eq!(handle.stats().rejected, 1);
    handle.close().await.unwrap();
    // Partition 0's commit point stays at the rejected event; partition 1 is done.
    assert_eq!(committed(&brokers, &group, &topic, 2), [5, 20]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_event_goes_to_the_dead_letter_topic_and_then_counts_as_handled() {
    let topic = unique("dlq-in");
    let dead = unique("dlq");
    let group = unique("g");
    let cluster = cluster(&[(&topic, 1), (&dead, 1)]);
    let brokers = cluster.bootstrap_servers();
    produce_round_robin(&brokers, &topic, 1, 10).await;

    let builder = member(&brokers, &group, &topic).dead_letter_topic(dead.clone());
    let (seen, handle) = consume(builder, 10, |m, _| {
        if m.offset == 4 {
            Err("bad payload".to_owned())
        } else {
            Ok(())
        }
    })
    .await;
    assert_eq!(seen.len(), 10);
    let after = handle.clone();
    let closed = handle.close().await.unwrap();
    let stats = after.stats();
    assert_eq!(
        (stats.acked, stats.rejected, stats.dead_lettered),
        (9, 1, 1)
    );
    assert_eq!(
        closed[0].2, 10,
        "the dead-lettered event no longer holds the commit"
    );
    assert_eq!(committed(&brokers, &group, &topic, 1), [10]);
    let letters = read_all(&brokers, &dead, 1);
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0].2.as_str(), letters[0].3.as_str()), ("k4", "4"));
}
