//! [`OrchestraError`]: what an orchestra or a relationship graph refuses, and why.

use std::fmt;

use crate::error::ConfigError;

/// A refused orchestration request, naming the tasks and groups involved.
///
/// Ids are rendered with their `Display` form, so one error type serves every id type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrchestraError {
    /// The dependency would close a cycle. `path` lists the cycle, each task depending on
    /// the next, ending where it started (`[a, b, a]`: `a` depends on `b`, which depends
    /// on `a`).
    Cycle {
        /// The cycle, first element repeated at the end.
        path: Vec<String>,
    },
    /// No task with this id was registered.
    UnknownTask {
        /// The id asked for.
        id: String,
    },
    /// A task with this id is already registered.
    DuplicateTask {
        /// The id given twice.
        id: String,
    },
    /// No group with this name was created.
    UnknownGroup {
        /// The group asked for.
        group: String,
    },
    /// A group with this name already exists.
    DuplicateGroup {
        /// The name given twice.
        group: String,
    },
    /// The child already has another parent.
    AlreadyHasParent {
        /// The child.
        child: String,
        /// Its current parent.
        parent: String,
    },
    /// The task was already started: its dependencies can no longer change.
    AlreadyStarted {
        /// The task.
        id: String,
    },
    /// The task (or a member of the group) was never started, so waiting for it would
    /// never end.
    NotStarted {
        /// The task.
        id: String,
    },
    /// Starting `task` needs `dependency`, which is neither started nor part of what is
    /// being started; it would wait forever.
    DependencyNotStarted {
        /// The task that would wait.
        task: String,
        /// The dependency that nobody started.
        dependency: String,
    },
    /// Some tasks of a group did not succeed.
    GroupFailed {
        /// The group.
        group: String,
        /// Tasks that ran and failed (panics included).
        failed: Vec<String>,
        /// Tasks that never ran because a dependency did not succeed.
        skipped: Vec<String>,
        /// Tasks that were cancelled.
        cancelled: Vec<String>,
    },
    /// The orchestra's scheduler is gone (its runtime was shut down).
    Stopped,
    /// An invalid task or orchestra setting.
    Config(ConfigError),
}

impl fmt::Display for OrchestraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrchestraError::Cycle { path } => {
                write!(f, "dependency cycle refused: {}", path.join(" -> "))
            }
            OrchestraError::UnknownTask { id } => write!(f, "unknown task `{id}`"),
            OrchestraError::DuplicateTask { id } => write!(f, "task `{id}` is already registered"),
            OrchestraError::UnknownGroup { group } => write!(f, "unknown group `{group}`"),
            OrchestraError::DuplicateGroup { group } => {
                write!(f, "group `{group}` already exists")
            }
            OrchestraError::AlreadyHasParent { child, parent } => {
                write!(f, "task `{child}` already has parent `{parent}`")
            }
            OrchestraError::AlreadyStarted { id } => {
                write!(f, "task `{id}` has already been started")
            }
            OrchestraError::NotStarted { id } => {
                write!(f, "task `{id}` was never started: nothing to wait for")
            }
            OrchestraError::DependencyNotStarted { task, dependency } => write!(
                f,
                "task `{task}` depends on `{dependency}`, which has not been started"
            ),
            OrchestraError::GroupFailed {
                group,
                failed,
                skipped,
                cancelled,
            } => write!(
                f,
                "group `{group}`: failed [{}], skipped [{}], cancelled [{}]",
                failed.join(", "),
                skipped.join(", "),
                cancelled.join(", ")
            ),
            OrchestraError::Stopped => f.write_str("the orchestra's scheduler has stopped"),
            OrchestraError::Config(e) => write!(f, "invalid configuration: {e}"),
        }
    }
}

impl std::error::Error for OrchestraError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OrchestraError::Config(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ConfigError> for OrchestraError {
    fn from(e: ConfigError) -> Self {
        OrchestraError::Config(e)
    }
}
