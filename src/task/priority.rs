//! Task priorities: [`TaskPriority`] and the [`RankableByPriority`] trait.

use std::fmt;

use crate::error::ConfigError;

/// How urgent a task is. Lower number = higher priority.
///
/// # Examples
///
/// ```
/// use sweet_async::prelude::*;
///
/// assert!(TaskPriority::Critical.is_higher_than(&TaskPriority::Low));
/// assert_eq!(TaskPriority::High.as_u8(), 1);
/// assert_eq!(TaskPriority::from_u8(4).unwrap(), TaskPriority::Background);
/// assert!(TaskPriority::from_u8(9).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TaskPriority {
    /// Must run first (0).
    Critical = 0,
    /// Ahead of normal work (1).
    High = 1,
    /// The default (2).
    #[default]
    Normal = 2,
    /// After normal work (3).
    Low = 3,
    /// Only when nothing else waits (4).
    Background = 4,
}

/// Anything ranked by priority, lower number first.
pub trait RankableByPriority: Sized + Copy {
    /// The numeric rank (0 is the highest priority).
    fn as_u8(&self) -> u8;

    /// The priority of rank `value`, or a [`ConfigError`] for an unknown rank.
    fn from_u8(value: u8) -> Result<Self, ConfigError>;

    /// The default priority.
    fn default_priority() -> Self;

    /// The highest priority.
    fn highest() -> Self;

    /// The lowest priority.
    fn lowest() -> Self;

    /// A human-readable name.
    fn priority_name(&self) -> &'static str;

    /// `true` when `self` runs before `other`.
    fn is_higher_than(&self, other: &Self) -> bool {
        self.as_u8() < other.as_u8()
    }

    /// `true` when `self` runs after `other`.
    fn is_lower_than(&self, other: &Self) -> bool {
        self.as_u8() > other.as_u8()
    }

    /// The distance in ranks between two priorities.
    fn difference(&self, other: &Self) -> u8 {
        self.as_u8().abs_diff(other.as_u8())
    }
}

impl TaskPriority {
    /// All priorities, highest first.
    pub const ALL: [TaskPriority; 5] = [
        TaskPriority::Critical,
        TaskPriority::High,
        TaskPriority::Normal,
        TaskPriority::Low,
        TaskPriority::Background,
    ];
}

impl RankableByPriority for TaskPriority {
    fn as_u8(&self) -> u8 {
        *self as u8
    }

    fn from_u8(value: u8) -> Result<Self, ConfigError> {
        match value {
            0 => Ok(TaskPriority::Critical),
            1 => Ok(TaskPriority::High),
            2 => Ok(TaskPriority::Normal),
            3 => Ok(TaskPriority::Low),
            4 => Ok(TaskPriority::Background),
            v => Err(ConfigError::OutOfRange {
                setting: "priority",
                value: u64::from(v),
                min: 0,
                max: 4,
            }),
        }
    }

    fn default_priority() -> Self {
        TaskPriority::Normal
    }

    fn highest() -> Self {
        TaskPriority::Critical
    }

    fn lowest() -> Self {
        TaskPriority::Background
    }

    fn priority_name(&self) -> &'static str {
        match self {
            TaskPriority::Critical => "critical",
            TaskPriority::High => "high",
            TaskPriority::Normal => "normal",
            TaskPriority::Low => "low",
            TaskPriority::Background => "background",
        }
    }
}

/// Orders by urgency: `Critical > High > ... > Background`, so a max-heap pops the
/// most urgent first.
impl Ord for TaskPriority {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.as_u8().cmp(&self.as_u8())
    }
}

impl PartialOrd for TaskPriority {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for TaskPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.priority_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BinaryHeap;

    #[test]
    fn ranks_and_names() {
        for (i, p) in TaskPriority::ALL.iter().enumerate() {
            assert_eq!(p.as_u8() as usize, i);
            assert_eq!(TaskPriority::from_u8(i as u8).unwrap(), *p);
        }
        assert_eq!(
            TaskPriority::from_u8(5).unwrap_err().to_string(),
            "priority is 5, allowed range is 0..=4"
        );
        assert_eq!(TaskPriority::highest(), TaskPriority::Critical);
        assert_eq!(TaskPriority::lowest(), TaskPriority::Background);
        assert_eq!(TaskPriority::default_priority(), TaskPriority::Normal);
        assert_eq!(
            TaskPriority::Critical.difference(&TaskPriority::Background),
            4
        );
        assert!(TaskPriority::Low.is_lower_than(&TaskPriority::Normal));
        assert!(!TaskPriority::Low.is_higher_than(&TaskPriority::Low));
        assert_eq!(TaskPriority::High.to_string(), "high");
    }

    #[test]
    fn heap_pops_most_urgent_first() {
        let heap: BinaryHeap<_> = [
            TaskPriority::Low,
            TaskPriority::Critical,
            TaskPriority::Normal,
        ]
        .into_iter()
        .collect();
        assert_eq!(
            heap.into_sorted_vec(),
            vec![
                TaskPriority::Low,
                TaskPriority::Normal,
                TaskPriority::Critical
            ]
        );
    }
}
