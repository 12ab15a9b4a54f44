//! Task and attempt spans for `tracing(true)`.

use std::fmt::{self, Display};
use std::sync::Arc;

use tracing::Span;
use tracing::field::{Empty, display};

use crate::error::TaskError;
use crate::task::{TaskId, TaskLabel, TaskPriority};

/// The `task` span: name, id, priority and the user's fields.
pub(crate) fn task_span(
    id: TaskId,
    label: Option<&TaskLabel>,
    priority: TaskPriority,
    fields: Option<&[(Arc<str>, String)]>,
) -> Span {
    tracing::info_span!(
        "task",
        name = label.and_then(TaskLabel::name).unwrap_or("unnamed_task"),
        id = %id,
        priority = %priority,
        fields = %Fields(fields.unwrap_or_default()),
        attempts = Empty,
        outcome = Empty,
        error = Empty,
    )
}

/// The `attempt` span of attempt `n` (1-based), a child of `parent`.
pub(crate) fn attempt_span(parent: &Span, n: u32) -> Span {
    tracing::info_span!(parent: parent, "attempt", n, error = Empty)
}

/// Records `err` on `span` as its `error` field and as an event inside it.
pub(crate) fn record_error<E: Display>(span: &Span, err: &TaskError<E>) {
    span.record("error", display(err));
    tracing::warn!(parent: span, error = %err, "task error");
}

/// `key=value key2=value2`.
struct Fields<'a>(&'a [(Arc<str>, String)]);

impl Display for Fields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}
