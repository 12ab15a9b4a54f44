//! [`TaskLabel`]: a task's name, description and tags (`NamedTask` elsewhere).

use std::fmt;
use std::sync::Arc;

/// Human-readable identification of a task. Cloning is at most two `Arc` clones.
///
/// `Display` shows `name [tag1, tag2]` (`unnamed_task` when no name was given).
#[derive(Clone, Default)]
#[doc(alias = "NamedTask")]
pub struct TaskLabel {
    name: Option<Arc<str>>,
    /// Description and tags, behind one pointer: most labels are a name or nothing,
    /// and results and handles carry a label each.
    rest: Option<Arc<LabelRest>>,
}

/// The rarely set parts of a label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct LabelRest {
    description: Option<Arc<str>>,
    tags: Option<Arc<[Arc<str>]>>,
}

impl TaskLabel {
    /// No name, description or tags.
    pub(crate) const EMPTY: TaskLabel = TaskLabel {
        name: None,
        rest: None,
    };

    fn rest(&self) -> Option<&LabelRest> {
        self.rest.as_deref()
    }

    fn rest_mut(&mut self) -> &mut LabelRest {
        Arc::make_mut(self.rest.get_or_insert_with(Default::default))
    }

    /// The name, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The description, if one was given.
    pub fn description(&self) -> Option<&str> {
        self.rest().and_then(|r| r.description.as_deref())
    }

    /// The tags, in the order they were added.
    pub fn tags(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.rest()
            .and_then(|r| r.tags.as_deref())
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
        self.name = Some(name);
    }

    pub(crate) fn set_description(&mut self, text: Arc<str>) {
        self.rest_mut().description = Some(text);
    }

    pub(crate) fn push_tag(&mut self, tag: Arc<str>) {
        let rest = self.rest_mut();
        let mut tags: Vec<Arc<str>> = rest.tags.as_deref().unwrap_or_default().to_vec();
        tags.push(tag);
        rest.tags = Some(tags.into());
    }
}

impl PartialEq for TaskLabel {
    fn eq(&self, other: &Self) -> bool {
        const NONE: LabelRest = LabelRest {
            description: None,
            tags: None,
        };
        self.name == other.name && self.rest().unwrap_or(&NONE) == other.rest().unwrap_or(&NONE)
    }
}

impl Eq for TaskLabel {}

impl fmt::Debug for TaskLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest = self.rest();
        f.debug_struct("TaskLabel")
            .field("name", &self.name)
            .field("description", &rest.and_then(|r| r.description.as_ref()))
            .field("tags", &rest.and_then(|r| r.tags.as_ref()))
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
