//! The scale-out story across processes: two processes run the `kafka_group` example's
//! pipeline (source → per-key windows → sink) in one group over a topic with 4
//! partitions; one is killed with SIGKILL mid-stream and a third joins. At the end every
//! record is in some result at least once, duplicates are counted, and no key's results
//! are out of order.
//!
//! The members are this test binary run again (`group_member_child`, which does nothing
//! unless `SWEET_KAFKA_GROUP_CHILD` is set); the mock cluster lives in the parent and
//! listens on loopback ports, so the children reach it like a real broker.

#[path = "../../examples/kafka_group.rs"]
#[allow(dead_code, unreachable_pub)]
mod kafka_group;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::common::{cluster, unique};
use kafka_group::{MemberConfig, decode, demo_records, produce, run_member};

const CHILD: &str = "SWEET_KAFKA_GROUP_CHILD";
const KEYS: usize = 20;
const PER_KEY: u64 = 300;

/// A member process: `brokers|group|input|output|name` in `SWEET_KAFKA_GROUP_CHILD`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_member_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let mut config = MemberConfig::new(parts[0], parts[1], parts[2], parts[3]);
    config.name = parts[4].to_owned();
    config.out_of_orderness_ms = 3_000;
    // Longer than a dead member's session (3 s) plus a rebalance: its partitions come
    // back to the survivors before they call it a day.
    config.idle_exit = Some(Duration::from_secs(7));
    config.max_rate = Some(600);
    config.session_timeout_ms = 3_000;
    let report = run_member(&config).await.unwrap();
    println!(
        "REPORT {} delivered={} written={} committed={:?}",
        config.name, report.stats.delivered, report.summary.items_out, report.committed
    );
}

fn spawn(brokers: &str, group: &str, input: &str, output: &str, name: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "multiprocess::group_member_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{brokers}|{group}|{input}|{output}|{name}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// A written result: partition, offset, key, the member that wrote it, its sequence
/// numbers.
struct Written {
    key: String,
    member: String,
    seqs: Vec<u64>,
}

/// Every result in `topic`, in partition then offset order.
fn results(brokers: &str, topic: &str) -> Vec<Written> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("reader"))
        .set("enable.partition.eof", "true")
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in 0..4 {
        list.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let mut got = Vec::new();
    let mut eof = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while eof.len() < 4 {
        assert!(Instant::now() < deadline, "reading {topic} timed out");
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let member = m
                    .headers()
                    .and_then(|h| h.iter().find(|h| h.key == "member"))
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default();
                let payload = std::str::from_utf8(m.payload().unwrap()).unwrap();
                let output = decode(payload).unwrap_or_else(|| panic!("bad result {payload}"));
                got.push((
                    m.partition(),
                    m.offset(),
                    Written {
                        key: String::from_utf8_lossy(m.key().unwrap()).into_owned(),
                        member,
                        seqs: output.seqs,
                    },
                ));
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    got.sort_by_key(|(p, o, _)| (*p, *o));
    got.into_iter().map(|(_, _, w)| w).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_killed_mid_stream_loses_nothing_and_keys_stay_in_order() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let (input, output, group) = (unique("mp-in"), unique("mp-out"), unique("mp-group"));
    let cluster = cluster(&[(&input, 4), (&output, 4)]);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, &input, &demo_records(KEYS, PER_KEY))
        .await
        .unwrap();
    let total = KEYS as u64 * PER_KEY;

    let mut a = spawn(&brokers, &group, &input, &output, "a");
    let b = spawn(&brokers, &group, &input, &output, "b");

    // Kill A once it has written results for a good part of its share, mid-stream.
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "A wrote nothing"
        );
        let written = results(&brokers, &output);
        let by_a: usize = written
            .iter()
            .filter(|w| w.member == "a")
            .map(|w| w.seqs.len())
            .sum();
        if by_a >= 600 {
            assert!(
                by_a < total as usize / 2,
                "A finished before it could be killed"
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.kill().unwrap(); // SIGKILL: no commit, no LeaveGroup
    assert!(!a.wait().unwrap().success());
    let c = spawn(&brokers, &group, &input, &output, "c");

    for (name, child) in [("b", b), ("c", c)] {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "member {name} failed:\n{stdout}");
        let report = stdout.lines().find(|l| l.contains("REPORT")).unwrap_or("");
        eprintln!("{name}: {report}");
    }

    // Every record at least once; per key, results never run ahead of a record not yet
    // written (a replay after the crash may go back: those are the duplicates).
    let written = results(&brokers, &output);
    let mut copies: BTreeMap<(String, u64), u32> = BTreeMap::new();
    let mut next: BTreeMap<String, u64> = BTreeMap::new();
    let mut writers = BTreeSet::new();
    for w in &written {
        writers.insert(w.member.clone());
        let seen = next.entry(w.key.clone()).or_insert(0);
        for &seq in &w.seqs {
            assert!(
                seq <= *seen,
                "key {} out of order: {seq} written before {} (by {})",
                w.key,
                *seen,
                w.member
            );
            *seen = (*seen).max(seq + 1);
            *copies.entry((w.key.clone(), seq)).or_insert(0) += 1;
        }
    }
    assert_eq!(
        copies.len() as u64,
        total,
        "records missing from the results"
    );
    let duplicates: u32 = copies.values().map(|c| c - 1).sum();
    let most = copies.values().max().copied().unwrap_or(0);
    eprintln!(
        "{} results by {writers:?}: {total} records, {duplicates} duplicates, at most {most} copies",
        written.len()
    );
    // Each record is written again at most once per move of its partition to another
    // member (A's death, C's arrival, the start): far below the whole input.
    assert!(most <= 4, "a record was written {most} times");
    assert!(u64::from(duplicates) < total, "{duplicates} duplicates");
    // (C may find nothing left to do if B took A's partitions over first.)
    assert!(
        writers.contains("a") && writers.contains("b"),
        "{writers:?}"
    );
}
