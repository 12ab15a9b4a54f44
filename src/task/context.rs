//! [`TaskContext`]: typed dependencies and environment handed to a task's work.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::task::TaskId;

type Deps = HashMap<TypeId, Arc<dyn Any + Send + Sync>>;

/// What `run_with` hands the work: typed dependencies added with
/// `AsyncTaskBuilder::with`, the task id, and the working directory.
///
/// Cloning is two `Arc` clones; the dependency map is shared, never copied per attempt.
///
/// # Examples
///
/// ```
/// use sweet_async::prelude::*;
///
/// struct Db { url: &'static str }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let result = AsyncTask::to::<String>()
///     .with(Db { url: "postgres://localhost/app" })
///     .run_with(|ctx| async move {
///         let db = ctx.get::<Db>()?;
///         Ok::<_, MissingDependency>(db.url.to_owned())
///     })
///     .await;
/// assert_eq!(result.value().map(String::as_str), Some("postgres://localhost/app"));
/// # }
/// ```
#[derive(Clone, Default)]
#[doc(alias = "ContextualizedTask")]
pub struct TaskContext {
    deps: Option<Arc<Deps>>,
    working_dir: Option<Arc<PathBuf>>,
    task_id: Option<TaskId>,
}

impl TaskContext {
    pub(crate) fn insert<D: Send + Sync + 'static>(mut self, dep: D) -> Self {
        let mut deps: Deps = self.deps.as_deref().cloned().unwrap_or_default();
        deps.insert(TypeId::of::<D>(), Arc::new(dep));
        self.deps = Some(Arc::new(deps));
        self
    }

    pub(crate) fn with_working_dir(mut self, dir: PathBuf) -> Self {
        self.working_dir = Some(Arc::new(dir));
        self
    }

    pub(crate) fn with_task_id(mut self, id: TaskId) -> Self {
        self.task_id = Some(id);
        self
    }

    /// The dependency of type `D`.
    ///
    /// # Errors
    ///
    /// [`MissingDependency`] naming the type when none was added.
    pub fn get<D: Send + Sync + 'static>(&self) -> Result<&D, MissingDependency> {
        self.deps
            .as_ref()
            .and_then(|d| d.get(&TypeId::of::<D>()))
            .and_then(|d| d.downcast_ref::<D>())
            .ok_or(MissingDependency {
                type_name: std::any::type_name::<D>(),
            })
    }

    /// Whether a dependency of type `D` was added.
    pub fn contains<D: Send + Sync + 'static>(&self) -> bool {
        self.get::<D>().is_ok()
    }

    /// The id of the task running the work.
    pub fn task_id(&self) -> Option<TaskId> {
        self.task_id
    }

    /// The configured working directory, else the process's current directory.
    ///
    /// # Errors
    ///
    /// The I/O error of reading the current directory, or of a configured directory that
    /// does not exist or is not a directory. Never falls back to `/`.
    pub fn working_dir(&self) -> io::Result<PathBuf> {
        match &self.working_dir {
            Some(dir) => {
                let meta = std::fs::metadata(dir.as_path())?;
                if meta.is_dir() {
                    Ok(PathBuf::clone(dir))
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::NotADirectory,
                        format!("working directory {} is not a directory", dir.display()),
                    ))
                }
            }
            None => std::env::current_dir(),
        }
    }
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("dependencies", &self.deps.as_ref().map_or(0, |d| d.len()))
            .field("working_dir", &self.working_dir)
            .field("task_id", &self.task_id)
            .finish()
    }
}

/// A dependency the work asked for was never added with `with(..)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingDependency {
    /// The Rust type that was asked for.
    pub type_name: &'static str,
}

impl fmt::Display for MissingDependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no dependency of type `{}` in the task context",
            self.type_name
        )
    }
}

impl std::error::Error for MissingDependency {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lookup_and_missing_names_type() {
        let ctx = TaskContext::default().insert(5u32).insert("config");
        assert_eq!(*ctx.get::<u32>().unwrap(), 5);
        assert_eq!(*ctx.get::<&str>().unwrap(), "config");
        let err = ctx.get::<u64>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "no dependency of type `u64` in the task context"
        );
        assert!(!ctx.contains::<i8>());
    }

    #[test]
    fn working_dir_surfaces_errors() {
        let ctx = TaskContext::default().with_working_dir("/definitely/not/here".into());
        assert_eq!(
            ctx.working_dir().unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let tmp = std::env::temp_dir();
        let ctx = TaskContext::default().with_working_dir(tmp.clone());
        assert_eq!(ctx.working_dir().unwrap(), tmp);
        assert!(TaskContext::default().working_dir().is_ok());
    }
}
