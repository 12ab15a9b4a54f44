//! [`Origin`]: the name of an event's source, cheap to copy into every event.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// Distinct source names interned per process; beyond this, names are shared by
/// reference count instead.
const MAX_INTERNED: usize = 4096;

/// The name of a source (a file path, a task name).
///
/// Source names are interned: each distinct name is stored once for the life of the
/// process (up to [`MAX_INTERNED`] names, then they are reference-counted), so copying
/// it into each event costs no atomic operation. Streaming a million events from one
/// file thus costs one interned path, not a million reference-count updates.
#[derive(Clone)]
pub(crate) enum Origin {
    Interned(&'static str),
    Shared(Arc<str>),
}

impl Origin {
    /// The origin of a stream's events: interned when there is room.
    pub(crate) fn interned(name: Arc<str>) -> Self {
        match intern(&name) {
            Some(s) => Origin::Interned(s),
            None => Origin::Shared(name),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Origin::Interned(s) => s,
            Origin::Shared(s) => s,
        }
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

fn intern(name: &str) -> Option<&'static str> {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(s) = names.get(name) {
        return Some(s);
    }
    if names.len() >= MAX_INTERNED {
        return None;
    }
    // Bounded by MAX_INTERNED distinct names: the point of interning.
    let leaked: &'static str = Box::leak(Box::from(name));
    names.insert(leaked);
    Some(leaked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_name_same_storage() {
        let a = Origin::interned(Arc::from("data/trades.csv"));
        let b = Origin::interned(Arc::from("data/trades.csv"));
        match (a, b) {
            (Origin::Interned(x), Origin::Interned(y)) => assert!(std::ptr::eq(x, y)),
            other => panic!("{other:?}"),
        }
        assert_eq!(Origin::Shared(Arc::from("x")).as_str(), "x");
    }
}
