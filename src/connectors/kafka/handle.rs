//! [`KafkaSourceHandle`]: stops a Kafka source, reads its counters and partitions, and
//! closes it with a final synchronous commit.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer as _};

use super::context::{describe, offsets_list};
use super::error::KafkaError;
use super::pump::Shared;
use super::stats::KafkaSourceStats;

/// How long [`close`](KafkaSourceHandle::close) waits for dead letters still being written.
const DEAD_LETTER_FLUSH: Duration = Duration::from_secs(30);

/// A partition a source owns, with the offset it would commit now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnedPartition {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The offset a commit would store now: the first offset not yet acknowledged
    /// (`None` before the first delivery of this assignment).
    pub committable: Option<i64>,
}

/// Controls a running Kafka source: made with it by
/// [`KafkaSourceBuilder::build`](super::KafkaSourceBuilder::build). Cheap to clone.
#[derive(Debug, Clone)]
pub struct KafkaSourceHandle {
    shared: Arc<Shared>,
}

impl KafkaSourceHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        KafkaSourceHandle { shared }
    }

    /// Ends the source stream at its next poll (downstream stages then finish what they
    /// hold: windows fire, sinks write). Events already handed out can still be
    /// acknowledged; call [`close`](Self::close) once the pipeline finished.
    pub fn stop(&self) {
        self.shared.assignment.signal.stop();
    }

    /// The source's counters so far.
    pub fn stats(&self) -> KafkaSourceStats {
        self.shared.assignment.stats()
    }

    /// The partitions the source owns now, sorted, with their committable offsets.
    pub fn assignment(&self) -> Vec<OwnedPartition> {
        self.shared
            .assignment
            .owned()
            .into_iter()
            .map(|(topic, partition, committable)| OwnedPartition {
                topic,
                partition,
                committable: committable.and_then(|o| i64::try_from(o).ok()),
            })
            .collect()
    }

    /// Stops the source, waits for dead letters still being written, commits every owned
    /// partition's committable offset **synchronously**, and lets go of the consumer (which
    /// leaves the group once the stream is dropped too). Returns the committed offsets as
    /// `(topic, partition, offset)`.
    ///
    /// Call it after the pipeline finished, so that every acknowledgement is in. The
    /// blocking librdkafka calls run on tokio's blocking pool, never on the async workers.
    ///
    /// # Errors
    ///
    /// [`KafkaError::Commit`] when the broker refused the commit (the offsets are then
    /// committed by the next owner of the partitions, or consumed again),
    /// [`KafkaError::NoRuntime`] outside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not cancel a commit that already started on the blocking
    /// pool; it finishes there.
    pub async fn close(self) -> Result<Vec<(Arc<str>, i32, i64)>, KafkaError> {
        self.stop();
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| KafkaError::NoRuntime)?;
        let shared = self.shared.clone();
        let committed = runtime
            .spawn_blocking(move || {
                let assignment = &shared.assignment;
                if let Some(dl) = &assignment.dead_letters
                    && let Err(reason) = dl.flush(DEAD_LETTER_FLUSH)
                {
                    tracing::warn!(%reason, "dead letters still in flight at close");
                }
                assignment.apply_dead_letters();
                let commits = assignment.take_commits(true);
                if !commits.is_empty() {
                    shared
                        .consumer
                        .commit(&offsets_list(&commits), CommitMode::Sync)
                        .map_err(|error| KafkaError::Commit {
                            offsets: describe(&commits),
                            error,
                        })?;
                }
                Ok::<_, KafkaError>(commits)
            })
            .await
            .map_err(|_| KafkaError::Interrupted {
                step: "the final commit",
            })??;
        // If this is the last owner, the consumer leaves its group here, off the workers.
        let shared = self.shared;
        let _ = runtime.spawn_blocking(move || drop(shared)).await;
        Ok(committed
            .into_iter()
            .map(|(t, p, o)| (t, p, i64::try_from(o).unwrap_or(i64::MAX)))
            .collect())
    }
}
