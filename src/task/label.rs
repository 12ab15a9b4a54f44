//! [`TaskLabel`]: a task's name, description and tags (the seed's `NamedTask`).

use std::fmt;
use std::sync::Arc;

/// Human-readable identification of a task. Cloning is one `Arc` clone.
///
/// `Display` shows `name [tag1, tag2]` (`unnamed_task` when no name was given).
#[derive(Clone, Default)]
#[doc(alias = "NamedTask")]
pub struct TaskLabel(Option<Arc<LabelParts>>);

/// The parts of a label that has any; one pointer keeps results and handles small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct LabelParts {
    name: Option<Arc<str>>,
    description: Option<Arc<str>>,
    tags: Option<Arc<[Arc<str>]>>,
}

impl TaskLabel {
    /// No name, description or tags.
    pub(crate) const EMPTY: TaskLabel = TaskLabel(None);

    fn parts(&self) -> Option<&LabelParts> {
        self.0.as_deref()
    }

    fn parts_mut(&mut self) -> &mut LabelParts {
        Arc::make_mut(self.0.get_or_insert_with(Default::default))
    }

    /// The name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.parts().and_then(|p| p.name.as_deref())
    }

    /// The description, if one was given.
    pub fn description(&self) -> Option<&str> {
        self.parts().and_then(|p| p.description.as_deref())
    }

    /// The tags, in the order they were added.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.parts()
            .and_then(|p| p.tags.as_deref())
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

    pub(crate) fn set_name(&mut self, name: Arc<str>) {
        self.parts_mut().name = Some(name);
    }

    pub(crate) fn set_description(&mut self, text: Arc<str>) {
        self.parts_mut().description = Some(text);
    }

    pub(crate) fn push_tag(&mut self, tag: Arc<str>) {
        let parts = self.parts_mut();
        let mut tags: Vec<Arc<str>> = parts.tags.as_deref().unwrap_or_default().to_vec();
        tags.push(tag);
        parts.tags = Some(tags.into());
    }
}

impl PartialEq for TaskLabel {
    fn eq(&self, other: &Self) -> bool {
        const NONE: LabelParts = LabelParts {
            name: None,
            description: None,
            tags: None,
        };
        self.parts().unwrap_or(&NONE) == other.parts().unwrap_or(&NONE)
    }
}

impl Eq for TaskLabel {}

impl fmt::Debug for TaskLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = self.parts();
        f.debug_struct("TaskLabel")
            .field("name", &parts.and_then(|p| p.name.as_ref()))
            .field("description", &parts.and_then(|p| p.description.as_ref()))
            .field("tags", &parts.and_then(|p| p.tags.as_ref()))
            .finish()
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
