//! Orchestration: many tasks run together with dependencies, groups, priorities, a
//! concurrency limit, a failure strategy and clean shutdown.
//!
//! - [`Orchestra`] (alias [`TaskOrchestrator`]) runs a DAG of tasks built with
//!   [`AsyncTask::to`](crate::task::AsyncTask::to), configured by an
//!   [`OrchestratorBuilder`], and returns typed results per task id
//!   ([`OrchestraReport`]).
//! - [`TaskRelationships`] is the plain graph of parent/child and dependency relations,
//!   usable on its own.
//! - [`ExecutionStats`] counts tasks and their durations without locks.
//! - [`Runtime`] / [`RuntimeBuilder`] wrap a tokio runtime (current or owned), track the
//!   tasks spawned on it and shut down with a timeout.
//!
//! Priorities are the task side's [`TaskPriority`](crate::task::TaskPriority) and
//! [`RankableByPriority`](crate::task::RankableByPriority): a task's priority is its
//! builder's `.priority(..)` (what is elsewhere a `PrioritizedTask`).

mod builder;
mod chunks;
mod dag;
mod error;
mod job;
mod relationships;
mod report;
mod runtime;
mod scheduler;
mod slots;
mod stats;

pub use builder::{DEFAULT_MAX_CONCURRENT_TASKS, FailureStrategy, OrchestratorBuilder};
pub use dag::{Orchestra, TaskOrchestrator};
pub use error::OrchestraError;
pub use job::Job;
pub use relationships::{TaskKey, TaskRelationships};
pub use report::{GroupReport, OrchestraReport, OutcomeKind, TaskOutcome};
pub use runtime::{
    AbortedTask, MAX_STACK_SIZE, MAX_WORKER_THREADS, MIN_STACK_SIZE, Runtime, RuntimeBuilder,
    ShutdownReport,
};
pub use stats::{ExecutionStats, StatsSnapshot};
