//! What an orchestra hands back: [`TaskOutcome`] per task, [`OrchestraReport`] for a
//! run, [`GroupReport`] for a group.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::OnceLock;

use crate::error::{BoxError, TaskError};
use crate::orchestra::{OrchestraError, TaskKey};
use crate::task::{CancellationLevel, TaskResult};

/// How one task of an orchestra ended.
///
/// `I` is the orchestra's id type (the `because` of a skipped task).
#[must_use = "an outcome may hold an error"]
#[non_exhaustive]
pub enum TaskOutcome<T, E = BoxError, I = &'static str> {
    /// The task ran: its value or error, after its retries and its recovery fallback.
    /// A panic is `Err(TaskError::Panicked)`, a cancellation while it ran is
    /// `Err(TaskError::Cancelled)`.
    Finished(TaskResult<T, E>),
    /// Never ran: the dependency `because` (or one of its own dependencies) did not
    /// succeed, under [`FailureStrategy::ContinueSkipDependents`](crate::orchestra::FailureStrategy).
    Skipped {
        /// The task whose failure or cancellation caused the skip.
        because: I,
    },
    /// Never ran: cancelled before its first attempt (`cancel_group`, or fail-fast after
    /// another task failed).
    Cancelled {
        /// The level asked for.
        level: CancellationLevel,
    },
}

/// The four ways a task can end, for counting and filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutcomeKind {
    /// Produced a value.
    Succeeded,
    /// Ran and failed (panics included).
    Failed,
    /// Cancelled, before or while it ran.
    Cancelled,
    /// Never ran because a dependency did not succeed.
    Skipped,
}

impl<T, E, I> TaskOutcome<T, E, I> {
    /// Which of the four endings this is.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            TaskOutcome::Finished(r) => match r.error() {
                None => OutcomeKind::Succeeded,
                Some(TaskError::Cancelled { .. }) => OutcomeKind::Cancelled,
                Some(_) => OutcomeKind::Failed,
            },
            TaskOutcome::Skipped { .. } => OutcomeKind::Skipped,
            TaskOutcome::Cancelled { .. } => OutcomeKind::Cancelled,
        }
    }

    /// `true` when the task produced a value.
    pub fn is_success(&self) -> bool {
        self.kind() == OutcomeKind::Succeeded
    }

    /// The value, when the task produced one.
    pub fn value(&self) -> Option<&T> {
        match self {
            TaskOutcome::Finished(r) => r.value(),
            _ => None,
        }
    }

    /// The error, when the task ran and failed or was cancelled while running.
    pub fn error(&self) -> Option<&TaskError<E>> {
        match self {
            TaskOutcome::Finished(r) => r.error(),
            _ => None,
        }
    }

    /// The full result, when the task ran.
    pub fn result(&self) -> Option<&TaskResult<T, E>> {
        match self {
            TaskOutcome::Finished(r) => Some(r),
            _ => None,
        }
    }

    /// The value, consuming the outcome.
    pub fn into_value(self) -> Option<T> {
        match self {
            TaskOutcome::Finished(r) => r.into_result().ok(),
            _ => None,
        }
    }

    pub(crate) fn map_id<J>(self, f: impl FnOnce(I) -> J) -> TaskOutcome<T, E, J> {
        match self {
            TaskOutcome::Finished(r) => TaskOutcome::Finished(r),
            TaskOutcome::Skipped { because } => TaskOutcome::Skipped {
                because: f(because),
            },
            TaskOutcome::Cancelled { level } => TaskOutcome::Cancelled { level },
        }
    }
}

impl<T: fmt::Debug, E: fmt::Debug, I: fmt::Debug> fmt::Debug for TaskOutcome<T, E, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskOutcome::Finished(r) => f.debug_tuple("Finished").field(r).finish(),
            TaskOutcome::Skipped { because } => {
                f.debug_struct("Skipped").field("because", because).finish()
            }
            TaskOutcome::Cancelled { level } => {
                f.debug_struct("Cancelled").field("level", level).finish()
            }
        }
    }
}

/// The typed results of an orchestra run, by task id.
///
/// Every task that was started appears exactly once: succeeded, failed, cancelled or
/// skipped; nothing is dropped silently. [`order`](Self::order) is the order in which
/// the tasks ended.
#[must_use = "a report may hold errors"]
pub struct OrchestraReport<T, E = BoxError, I = &'static str> {
    /// Outcomes in the order tasks ended.
    ended: Vec<(I, TaskOutcome<T, E, I>)>,
    /// Id to position in `ended`, built on the first lookup by id: a report that is
    /// only iterated or counted never pays for hashing every id.
    // User ids (see `TaskRelationships`): randomly keyed SipHash, not FxHash.
    index: OnceLock<HashMap<I, usize>>,
}

impl<T, E, I: TaskKey> OrchestraReport<T, E, I> {
    pub(crate) fn new(ended: Vec<(I, TaskOutcome<T, E, I>)>) -> Self {
        OrchestraReport {
            ended,
            index: OnceLock::new(),
        }
    }

    /// The outcome of `id`.
    pub fn get<Q>(&self, id: &Q) -> Option<&TaskOutcome<T, E, I>>
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.index
            .get_or_init(|| {
                self.ended
                    .iter()
                    .enumerate()
                    .map(|(i, (id, _))| (id.clone(), i))
                    .collect()
            })
            .get(id)
            .and_then(|&i| self.ended.get(i))
            .map(|(_, o)| o)
    }

    /// The value of `id`, when it succeeded.
    pub fn value<Q>(&self, id: &Q) -> Option<&T>
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(id).and_then(TaskOutcome::value)
    }

    /// How `id` ended.
    pub fn kind<Q>(&self, id: &Q) -> Option<OutcomeKind>
    where
        I: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(id).map(TaskOutcome::kind)
    }

    /// Ids in the order their tasks ended.
    pub fn order(&self) -> Vec<I> {
        self.ended.iter().map(|(id, _)| id.clone()).collect()
    }

    /// Every id and outcome, in the order the tasks ended.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&I, &TaskOutcome<T, E, I>)> + '_ {
        self.ended.iter().map(|(id, o)| (id, o))
    }

    /// Ids that ended as `kind`, in the order they ended.
    pub fn ids(&self, kind: OutcomeKind) -> Vec<I> {
        self.ended
            .iter()
            .filter(|(_, o)| o.kind() == kind)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Ids that produced a value.
    pub fn succeeded(&self) -> Vec<I> {
        self.ids(OutcomeKind::Succeeded)
    }

    /// Ids that ran and failed.
    pub fn failed(&self) -> Vec<I> {
        self.ids(OutcomeKind::Failed)
    }

    /// Ids cancelled before or while running.
    pub fn cancelled(&self) -> Vec<I> {
        self.ids(OutcomeKind::Cancelled)
    }

    /// Ids never run because a dependency did not succeed.
    pub fn skipped(&self) -> Vec<I> {
        self.ids(OutcomeKind::Skipped)
    }

    /// `true` when every task in the report succeeded.
    pub fn is_success(&self) -> bool {
        self.ended.iter().all(|(_, o)| o.is_success())
    }

    /// Number of tasks in the report.
    pub fn len(&self) -> usize {
        self.ended.len()
    }

    /// `true` when no task ended.
    pub fn is_empty(&self) -> bool {
        self.ended.is_empty()
    }

    /// Every outcome, by id.
    pub fn into_outcomes(self) -> HashMap<I, TaskOutcome<T, E, I>> {
        self.ended.into_iter().collect()
    }

    /// The values by id, or an error listing every task that did not succeed.
    ///
    /// # Errors
    ///
    /// [`OrchestraError::GroupFailed`] (group `"*"`) naming the failed, skipped and
    /// cancelled tasks; their errors stay readable through [`get`](Self::get) on a
    /// report you keep.
    pub fn into_values(self) -> Result<HashMap<I, T>, OrchestraError> {
        if !self.is_success() {
            let names = |k| self.ids(k).iter().map(ToString::to_string).collect();
            return Err(OrchestraError::GroupFailed {
                group: "*".to_owned(),
                failed: names(OutcomeKind::Failed),
                skipped: names(OutcomeKind::Skipped),
                cancelled: names(OutcomeKind::Cancelled),
            });
        }
        Ok(self
            .ended
            .into_iter()
            .filter_map(|(id, o)| o.into_value().map(|v| (id, v)))
            .collect())
    }
}

impl<T: fmt::Debug, E: fmt::Debug, I: TaskKey> fmt::Debug for OrchestraReport<T, E, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (id, o) in &self.ended {
            m.entry(id, o);
        }
        m.finish()
    }
}

/// How the tasks of one group ended (from `join_group` and `cancel_group`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupReport<I> {
    /// The group's name.
    pub group: String,
    /// Members that produced a value.
    pub succeeded: Vec<I>,
    /// Members that ran and failed.
    pub failed: Vec<I>,
    /// Members never run because a dependency did not succeed.
    pub skipped: Vec<I>,
    /// Members cancelled, before or while running.
    pub cancelled: Vec<I>,
}

impl<I: TaskKey> GroupReport<I> {
    /// `true` when every member succeeded.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && self.cancelled.is_empty()
    }

    pub(crate) fn into_error(self) -> OrchestraError {
        let names = |v: Vec<I>| v.iter().map(ToString::to_string).collect();
        OrchestraError::GroupFailed {
            group: self.group,
            failed: names(self.failed),
            skipped: names(self.skipped),
            cancelled: names(self.cancelled),
        }
    }
}
