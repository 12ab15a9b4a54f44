//! [`KafkaSourceStats`]: what a Kafka source delivered, settled, committed and paused.

/// Counters of a Kafka source, read with
/// [`KafkaSourceHandle::stats`](super::KafkaSourceHandle::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KafkaSourceStats {
    /// Messages handed to the pipeline.
    pub delivered: u64,
    /// Deliveries acknowledged (newly: an offset acknowledged twice counts once).
    pub acked: u64,
    /// Deliveries rejected.
    pub rejected: u64,
    /// Rejected deliveries written to the dead-letter topic (and then counted as handled).
    pub dead_lettered: u64,
    /// Deliveries released unsettled (dropped before a verdict): their partition's commit
    /// point stays behind them until the partition is revoked or the process restarts.
    pub released: u64,
    /// Settlements that came after their partition was revoked, ignored: the new owner
    /// of the partition redelivers those events.
    pub late: u64,
    /// Fetched messages dropped before they were handed out because their partition was
    /// revoked in between (the new owner delivers them).
    pub stale: u64,
    /// Commit requests sent (periodic, on revocation and on close).
    pub commits: u64,
    /// Commit requests that failed (the next commit covers their offsets again).
    pub commit_failures: u64,
    /// Partition assignments received.
    pub assignments: u64,
    /// Partition revocations received.
    pub revocations: u64,
    /// Times a partition was paused because its in-flight bound was reached.
    pub pauses: u64,
    /// The largest number of deliveries one partition had in flight.
    pub max_in_flight: u64,
}
