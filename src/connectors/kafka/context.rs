//! [`GroupContext`]: the consumer's rebalance and commit callbacks.
//!
//! librdkafka calls them from inside the source's poll of the consumer queue, so they run
//! on the source's task, between two fetched messages.

use std::sync::Arc;

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::assignment::{Assignment, Commit};

/// Keeps the [`Assignment`] in step with the group: new slots on assignment; on
/// revocation, a commit of what is committable and the end of the revoked slots.
pub(crate) struct GroupContext {
    pub(crate) assignment: Arc<Assignment>,
}

impl std::fmt::Debug for GroupContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupContext").finish_non_exhaustive()
    }
}

impl ClientContext for GroupContext {
    /// librdkafka's log lines go to `tracing` (target `librdkafka`), like the crate's own.
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
        }
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                let elements = list.elements();
                self.assignment
                    .assign(elements.iter().map(|e| (e.topic(), e.partition())));
            }
            Rebalance::Revoke(list) => {
                let elements = list.elements();
                let commits = self
                    .assignment
                    .revoke(elements.iter().map(|e| (e.topic(), e.partition())));
                if commits.is_empty() {
                    return;
                }
                // Asynchronous, yet done before the group moves on: librdkafka counts the
                // commit as outstanding and holds the rejoin (and any new assignment's
                // start offsets) until it completed (`wait_commit_cnt` in
                // rdkafka_assignment.c). The poll that runs this callback never blocks.
                self.assignment.count_commit();
                if let Err(error) = consumer.commit(&offsets_list(&commits), CommitMode::Async) {
                    tracing::warn!(offsets = %describe(&commits), %error, "commit on revocation failed");
                }
            }
            Rebalance::Error(error) => self.assignment.rebalance_failed(error.clone()),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        // A request-level error fails every partition; otherwise each partition carries
        // its own result.
        let elements = offsets.elements();
        let failed: Vec<(&str, i32)> = elements
            .iter()
            .filter(|e| result.is_err() || e.error().is_err())
            .map(|e| (e.topic(), e.partition()))
            .collect();
        if !failed.is_empty() {
            let error = match &result {
                Err(e) => e.to_string(),
                Ok(()) => elements
                    .iter()
                    .find_map(|e| e.error().err())
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
            };
            tracing::debug!(%error, partitions = failed.len(), "offset commit failed; the next commit covers it");
            self.assignment.commit_failed(failed.into_iter());
        }
    }
}

/// `commits` as a librdkafka list: each offset as given (the next offset to read), which
/// is what `commit` and `store_offsets` take; `store_offset` would add one.
pub(crate) fn offsets_list(commits: &[Commit]) -> TopicPartitionList {
    let mut list = TopicPartitionList::with_capacity(commits.len());
    for (topic, partition, offset) in commits {
        if let Ok(offset) = i64::try_from(*offset) {
            let _ = list.add_partition_offset(topic, *partition, Offset::Offset(offset));
        }
    }
    list
}

/// `topic/partition@offset, ...` for messages.
pub(crate) fn describe(commits: &[Commit]) -> String {
    commits
        .iter()
        .map(|(t, p, o)| format!("{t}/{p}@{o}"))
        .collect::<Vec<_>>()
        .join(", ")
}
