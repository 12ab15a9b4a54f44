//! Task identity: [`TaskId`] (UUID v4) and [`SequentialId`] (a `u64` for hot paths).

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

/// A globally unique task identifier (UUID v4).
///
/// Cheap to copy, hash and compare; prints and parses in the hyphenated UUID form.
///
/// # Examples
///
/// ```
/// use sweet_async::task::TaskId;
///
/// let id = TaskId::new();
/// let parsed: TaskId = id.to_string().parse().unwrap();
/// assert_eq!(id, parsed);
/// assert!("not-a-uuid".parse::<TaskId>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(Uuid);

impl TaskId {
    /// Generates a new random id.
    pub fn new() -> Self {
        TaskId(Uuid::new_v4())
    }

    /// The id as a UUID.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The id's 16 bytes, for serialization.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// Builds an id from 16 bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        TaskId(Uuid::from_bytes(bytes))
    }
}

impl Default for TaskId {
    fn default() -> Self {
        TaskId::new()
    }
}

impl From<Uuid> for TaskId {
    fn from(u: Uuid) -> Self {
        TaskId(u)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl FromStr for TaskId {
    type Err = ParseTaskIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(TaskId)
            .map_err(|e| ParseTaskIdError {
                input: s.chars().take(64).collect(),
                reason: e.to_string(),
            })
    }
}

/// A task id drawn the first time it is read: tasks whose id nobody asks for never pay
/// for random generation.
#[derive(Debug, Clone, Default)]
pub(crate) struct LazyTaskId(OnceLock<TaskId>);

impl LazyTaskId {
    /// An id fixed in advance.
    pub(crate) fn fixed(id: TaskId) -> Self {
        LazyTaskId(OnceLock::from(id))
    }

    /// The id, drawn now if it was not yet.
    pub(crate) fn get(&self) -> TaskId {
        *self.0.get_or_init(TaskId::new)
    }
}

/// A string that is not a valid [`TaskId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseTaskIdError {
    input: String,
    reason: String,
}

impl fmt::Display for ParseTaskIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid task id `{}`: {}", self.input, self.reason)
    }
}

impl std::error::Error for ParseTaskIdError {}

/// A process-wide sequential identifier: one atomic increment, no randomness.
///
/// Use it where a UUID per item would cost too much (events, hot loops).
///
/// # Examples
///
/// ```
/// use sweet_async::task::SequentialId;
///
/// let a = SequentialId::next();
/// let b = SequentialId::next();
/// assert!(b > a);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequentialId(u64);

static NEXT_SEQUENTIAL: AtomicU64 = AtomicU64::new(1);

impl SequentialId {
    /// The next id of this process (starts at 1, never repeats before `u64::MAX`).
    pub fn next() -> Self {
        SequentialId(NEXT_SEQUENTIAL.fetch_add(1, Ordering::Relaxed))
    }

    /// Wraps a raw value, e.g. one read back from storage.
    pub const fn from_u64(v: u64) -> Self {
        SequentialId(v)
    }

    /// The raw value.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SequentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for SequentialId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(SequentialId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let ids: HashSet<TaskId> = (0..1000).map(|_| TaskId::new()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(10) {
            assert_eq!(id.to_string().parse::<TaskId>().unwrap(), *id);
            assert_eq!(TaskId::from_bytes(*id.as_bytes()), *id);
            assert_eq!(id.as_uuid().get_version_num(), 4);
        }
    }

    #[test]
    fn parse_error_names_input() {
        let err = "xyz".parse::<TaskId>().unwrap_err();
        assert!(err.to_string().starts_with("invalid task id `xyz`"));
    }

    #[test]
    fn sequential_ids_increase() {
        let a = SequentialId::next();
        let b = SequentialId::next();
        assert!(b.as_u64() > a.as_u64());
        assert_eq!(
            "42".parse::<SequentialId>().unwrap(),
            SequentialId::from_u64(42)
        );
    }
}
