//! Task lifecycle: [`TaskStatus`] and its atomic holder [`StatusCell`].

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

/// Where a task is in its life.
///
/// `Pending → Running → Completed | Failed | Cancelled`, and `Pending → Cancelled`.
/// The three end states are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskStatus {
    /// Configured or spawned, not yet polled.
    Pending = 0,
    /// Running (retries and backoff included).
    Running = 1,
    /// Finished with a value.
    Completed = 2,
    /// Finished with an error.
    Failed = 3,
    /// Stopped by cancellation.
    Cancelled = 4,
}

impl TaskStatus {
    /// `true` for `Completed`, `Failed` and `Cancelled`.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }

    /// Whether the lifecycle allows going from `self` to `next`.
    pub const fn can_transition_to(self, next: TaskStatus) -> bool {
        matches!(
            (self, next),
            (TaskStatus::Pending, TaskStatus::Running)
                | (TaskStatus::Pending, TaskStatus::Cancelled)
                | (TaskStatus::Pending, TaskStatus::Failed)
                | (TaskStatus::Running, TaskStatus::Completed)
                | (TaskStatus::Running, TaskStatus::Failed)
                | (TaskStatus::Running, TaskStatus::Cancelled)
        )
    }

    const fn from_u8(v: u8) -> TaskStatus {
        match v {
            0 => TaskStatus::Pending,
            1 => TaskStatus::Running,
            2 => TaskStatus::Completed,
            3 => TaskStatus::Failed,
            _ => TaskStatus::Cancelled,
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        })
    }
}

/// A refused status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTransition {
    /// The status the task had.
    pub from: TaskStatus,
    /// The status that was asked for.
    pub to: TaskStatus,
}

impl fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid task status transition {} -> {}",
            self.from, self.to
        )
    }
}

impl std::error::Error for InvalidTransition {}

/// A [`TaskStatus`] held in one atomic byte; transitions are checked and lock-free.
///
/// # Examples
///
/// ```
/// use sweet_async::task::{StatusCell, TaskStatus};
///
/// let status = StatusCell::new();
/// status.transition(TaskStatus::Running).unwrap();
/// status.transition(TaskStatus::Completed).unwrap();
/// // End states are final.
/// assert!(status.transition(TaskStatus::Running).is_err());
/// assert_eq!(status.get(), TaskStatus::Completed);
/// ```
#[derive(Debug)]
pub struct StatusCell(AtomicU8);

impl StatusCell {
    /// A cell in `Pending`.
    pub const fn new() -> Self {
        StatusCell(AtomicU8::new(TaskStatus::Pending as u8))
    }

    /// The current status.
    pub fn get(&self) -> TaskStatus {
        TaskStatus::from_u8(self.0.load(Ordering::Acquire))
    }

    /// Moves to `next` if the lifecycle allows it from the current status.
    ///
    /// # Errors
    ///
    /// [`InvalidTransition`] when `next` is not reachable from the current status; the
    /// status is left unchanged.
    pub fn transition(&self, next: TaskStatus) -> Result<TaskStatus, InvalidTransition> {
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            let from = TaskStatus::from_u8(current);
            if !from.can_transition_to(next) {
                return Err(InvalidTransition { from, to: next });
            }
            match self.0.compare_exchange_weak(
                current,
                next as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(from),
                Err(actual) => current = actual,
            }
        }
    }

    /// `true` when the status is `Running`.
    pub fn is_running(&self) -> bool {
        self.get() == TaskStatus::Running
    }

    /// `true` when the status is final.
    pub fn is_terminal(&self) -> bool {
        self.get().is_terminal()
    }
}

impl Default for StatusCell {
    fn default() -> Self {
        StatusCell::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskStatus::*;

    #[test]
    fn lifecycle_transitions() {
        let all = [Pending, Running, Completed, Failed, Cancelled];
        let allowed = [
            (Pending, Running),
            (Pending, Cancelled),
            (Pending, Failed),
            (Running, Completed),
            (Running, Failed),
            (Running, Cancelled),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_transition_to(to),
                    allowed.contains(&(from, to)),
                    "{from}->{to}"
                );
            }
        }
    }

    #[test]
    fn cell_refuses_invalid_transitions() {
        let cell = StatusCell::new();
        assert_eq!(
            cell.transition(Completed).unwrap_err(),
            InvalidTransition {
                from: Pending,
                to: Completed
            }
        );
        assert_eq!(cell.transition(Running).unwrap(), Pending);
        assert!(cell.is_running());
        assert_eq!(cell.transition(Failed).unwrap(), Running);
        let err = cell.transition(Cancelled).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid task status transition failed -> cancelled"
        );
        assert_eq!(cell.get(), Failed);
        assert!(cell.is_terminal());
    }

    #[test]
    fn concurrent_finishers_only_one_wins() {
        let cell = std::sync::Arc::new(StatusCell::new());
        cell.transition(Running).unwrap();
        let wins: usize = std::thread::scope(|s| {
            let hs: Vec<_> = [Completed, Failed, Cancelled, Completed]
                .into_iter()
                .map(|t| {
                    let c = &cell;
                    s.spawn(move || c.transition(t).is_ok() as usize)
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(wins, 1);
    }
}
