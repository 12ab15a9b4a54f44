//! The sink: each item written as a record, its events acknowledged once the broker
//! confirmed it (so the source commits past them), keys kept in order; a refused write
//! acknowledges nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use rdkafka::types::RDKafkaRespErr;
use sweet_async::connectors::kafka::{self, KafkaError, KafkaMessage, KafkaRecord};
use sweet_async::prelude::*;

use crate::common::{cluster, committed, produce, read_all, unique};
use crate::source::member;

/// 60 records over 5 keys: `(key, "key:seq", timestamp)`, each key's seq increasing.
fn keyed() -> Vec<(String, String, i64)> {
    (0..60)
        .map(|i| {
            let key = format!("c{}", i % 5);
            let seq = i / 5;
            let payload = format!("{key}:{seq}");
            (key, payload, 1_700_000_000_000 + i)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_is_acknowledged_after_its_record_was_confirmed_and_keys_stay_in_order() {
    let (input, output) = (unique("sink-in"), unique("sink-out"));
    let group = unique("g");
    let cluster = cluster(&[(&input, 2), (&output, 3)]);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, &input, &keyed()).await;

    let (source, handle) = member(&brokers, &group, &input).build().unwrap();
    let sink = kafka::sink(&brokers, &output)
        .max_in_flight(8)
        .build()
        .unwrap();
    let events = AsyncTask::emits::<KafkaMessage>().sender(source).take(60);
    let summary = tokio::time::timeout(
        Duration::from_secs(60),
        sink.write(events, |r| {
            r.map(|e| {
                let key = e.data.key.clone().unwrap_or_default();
                KafkaRecord::new(e.data.payload.clone().unwrap_or_default()).key(key)
            })
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((summary.items_out, summary.errors), (60, 0));
    assert_eq!(summary.acks.acked, 60);
    assert_eq!(handle.stats().acked, 60);
    handle.close().await.unwrap();
    let offsets = committed(&brokers, &group, &input, 2);
    assert_eq!(offsets.iter().sum::<i64>(), 60, "{offsets:?}");

    // Every record written once, each key's records in order within its partition.
    let written = read_all(&brokers, &output, 3);
    assert_eq!(written.len(), 60);
    let mut per_key: BTreeMap<String, (i32, Vec<u32>)> = BTreeMap::new();
    for (partition, _, key, payload) in written {
        let seq: u32 = payload.rsplit(':').next().unwrap().parse().unwrap();
        let entry = per_key.entry(key).or_insert((partition, Vec::new()));
        assert_eq!(entry.0, partition, "a key's records share a partition");
        entry.1.push(seq);
    }
    assert_eq!(per_key.len(), 5);
    for (key, (_, seqs)) in per_key {
        assert_eq!(seqs, (0..12).collect::<Vec<_>>(), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_broker_refuses_acknowledges_nothing() {
    let (input, output) = (unique("refuse-in"), unique("refuse-out"));
    let group = unique("g");
    let cluster = cluster(&[(&input, 1), (&output, 1)]);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, &input, &keyed()[..5]).await;
    cluster
        .topic_error(
            &output,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        )
        .unwrap();

    let (source, handle) = member(&brokers, &group, &input)
        .commit_every(1)
        .build()
        .unwrap();
    let sink = kafka::sink(&brokers, &output)
        .set("message.timeout.ms", "1500")
        .build()
        .unwrap();
    let events = AsyncTask::emits::<KafkaMessage>().sender(source).take(5);
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        sink.write(events, |r| {
            r.map(|e| KafkaRecord::new(e.data.payload.clone().unwrap_or_default()))
        }),
    )
    .await
    .unwrap();
    let error = result.unwrap_err();
    assert!(matches!(error, KafkaError::Delivery { .. }), "{error}");
    assert_eq!(error.topic(), Some(output.as_str()));
    let stats = handle.stats();
    assert_eq!(stats.acked, 0, "{stats:?}");
    assert!(stats.rejected >= 1, "{stats:?}");
    handle.close().await.unwrap();
    assert_eq!(committed(&brokers, &group, &input, 1), [0]);
}
