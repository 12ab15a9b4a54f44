//! [`KafkaSourceHandle`]: stops a Kafka source, reads its counters and partitions, and
//! closes it with a final synchronous commit.

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures::StreamExt;
use rdkafka::consumer::{CommitMode, Consumer as _};
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};

use super::context::{describe, offsets_list};
use super::error::KafkaError;
use super::pump::Shared;
use super::stats::KafkaSourceStats;

/// How long [`close`](KafkaSourceHandle::close) waits for dead letters still being written.
const DEAD_LETTER_FLUSH: Duration = Duration::from_secs(30);
/// How long [`close`](KafkaSourceHandle::close) serves the consumer until its partitions
/// are revoked.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Final commits tried while a rebalance refuses them, and the first wait between them
/// (growing by as much each time: about 3 s in all).
const COMMIT_ATTEMPTS: u32 = 5;
const COMMIT_RETRY: Duration = Duration::from_millis(200);

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
    /// partition's committable offset **synchronously**, and leaves the consumer group (its
    /// partitions go to the other members at once, starting at these offsets). Returns the
    /// committed offsets as `(topic, partition, offset)`.
    ///
    /// Call it after the pipeline finished, so that every acknowledgement is in. The
    /// blocking librdkafka calls run on tokio's blocking pool, never on the async workers.
    ///
    /// # Errors
    ///
    /// [`KafkaError::Commit`] when the broker refused the commit (retried for about 3 s
    /// while a rebalance refuses it; the events are then consumed again by the next
    /// owner of the partitions),
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
        blocking(&runtime, "flushing dead letters", move || {
            let assignment = &shared.assignment;
            if let Some(dl) = &assignment.dead_letters
                && let Err(reason) = dl.flush(DEAD_LETTER_FLUSH)
            {
                tracing::warn!(%reason, "dead letters still in flight at close");
            }
            assignment.apply_dead_letters();
        })
        .await?;
        let mut attempt = 0u32;
        let committed = loop {
            let shared = self.shared.clone();
            let result = blocking(&runtime, "the final commit", move || {
                let commits = shared.assignment.take_commits(true);
                let Some(consumer) = shared.consumer() else {
                    return Ok(Vec::new());
                };
                if commits.is_empty() {
                    return Ok(commits);
                }
                match consumer.commit(&offsets_list(&commits), CommitMode::Sync) {
                    Ok(()) => Ok(commits),
                    Err(error) => Err((commits, error)),
                }
            })
            .await?;
            match result {
                Ok(commits) => break commits,
                Err((_, error)) if attempt < COMMIT_ATTEMPTS && retriable(&error) => {
                    // A rebalance is running: serve it (its callbacks run in the
                    // consumer's poll), then commit what this member still owns.
                    attempt = attempt.saturating_add(1);
                    self.serve(|| false, COMMIT_RETRY.saturating_mul(attempt))
                        .await;
                }
                Err((commits, error)) => {
                    return Err(KafkaError::Commit {
                        offsets: describe(&commits),
                        error,
                    });
                }
            }
        };
        // Leave the group: the revocation that follows runs in the consumer's poll.
        let shared = self.shared.clone();
        blocking(&runtime, "unsubscribing", move || {
            if let Some(consumer) = shared.consumer() {
                consumer.unsubscribe();
            }
        })
        .await?;
        let assignment = self.shared.assignment.clone();
        if !self
            .serve(|| assignment.owns_nothing(), LEAVE_TIMEOUT)
            .await
        {
            tracing::warn!(
                "the consumer did not leave its group in time; the session timeout will"
            );
        }
        // If this is the last owner, the consumer is destroyed now, off the workers.
        let shared = self.shared;
        let _ = runtime.spawn_blocking(move || drop(shared)).await;
        Ok(committed
            .into_iter()
            .map(|(t, p, o)| (t, p, i64::try_from(o).unwrap_or(i64::MAX)))
            .collect())
    }

    /// Polls the consumer (so that rebalance callbacks run) until `done` or `timeout`;
    /// returns `done()`. Messages that come are dropped: they were never handed out, so
    /// they lie beyond the committed offsets.
    async fn serve(&self, done: impl Fn() -> bool, timeout: Duration) -> bool {
        let Some(consumer) = self.shared.consumer() else {
            return done();
        };
        let mut messages = consumer.stream();
        // Callbacks run inside polls that return no message: look after each poll.
        let served = futures::future::poll_fn(|cx| {
            loop {
                if done() {
                    return Poll::Ready(());
                }
                match messages.poll_next_unpin(cx) {
                    Poll::Ready(Some(_)) => {}
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            }
        });
        let _ = tokio::time::timeout(timeout, served).await;
        done()
    }
}

/// Runs a blocking librdkafka call on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    runtime: &tokio::runtime::Handle,
    step: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, KafkaError> {
    runtime
        .spawn_blocking(f)
        .await
        .map_err(|_| KafkaError::Interrupted { step })
}

/// Commit errors that go away once the group's rebalance is over.
fn retriable(error: &RdKafkaError) -> bool {
    matches!(
        error,
        RdKafkaError::ConsumerCommit(
            RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::CoordinatorLoadInProgress
                | RDKafkaErrorCode::WaitingForCoordinator
                | RDKafkaErrorCode::RequestTimedOut
        )
    )
}
