//! [`TaskLabel`]: a task's name, description and tags (the seed's `NamedTask`).

use std::fmt;
use std::sync::Arc;

/// Human-readable identification of a task. Cloning is a few `Arc` clones.
///
/// `Display` shows `name [tag1, tag2]` (`unnamed_task` when no name was given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[doc(alias = "NamedTask")]
pub struct TaskLabel {
    pub(crate) name: Option<Arc<str>>,
    pub(crate) description: Option<Arc<str>>,
    pub(crate) tags: Option<Arc<[Arc<str>]>>,
}

impl TaskLabel {
    /// No name, description or tags.
    pub(crate) const EMPTY: TaskLabel = TaskLabel {
        name: None,
        description: None,
        tags: None,
    };

    /// The name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The description, if one was given.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The tags, in the order they were added.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.tags
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|t| &**t)
    }

    /// Whether `tag` is one of the tags.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags().any(|t| t == tag)
    }

    /// `name [tag1, tag2]`, as `Display` prints it.
    pub fn display_name(&self) -> String {
        self.to_string()
    }

    pub(crate) fn push_tag(&mut self, tag: Arc<str>) {
        let mut tags: Vec<Arc<str>> = self.tags.as_deref().unwrap_or_default().to_vec();
        tags.push(tag);
        self.tags = Some(tags.into());
    }
}

impl fmt::Display for TaskLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name().unwrap_or("unnamed_task"))?;
        let mut tags = self.tags();
        if let Some(first) = tags.next() {
            write!(f, " [{first}")?;
            for t in tags {
                write!(f, ", {t}")?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}
