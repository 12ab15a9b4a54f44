//! [`Origin`]: the name of an event's source, cheap to copy into every event.

use std::collections::HashMap;
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
///
/// Both variants are one thin pointer (to a `String`), so an origin is two words and
/// travels in registers: copying it into each event is two plain stores.
#[derive(Clone)]
pub(crate) enum Origin {
    Interned(&'static String),
    Shared(Arc<String>),
}

impl Origin {
    /// The origin of a stream's events: interned when there is room.
    pub(crate) fn interned(name: Arc<str>) -> Self {
        match intern(&name) {
            Some(s) => Origin::Interned(s),
            None => Origin::shared(&name),
        }
    }

    /// A name not interned (events built by hand).
    pub(crate) fn shared(name: &str) -> Self {
        Origin::Shared(Arc::new(String::from(name)))
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Origin::Interned(s) => s.as_str(),
            Origin::Shared(s) => s.as_str(),
        }
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

fn intern(name: &str) -> Option<&'static String> {
    static NAMES: OnceLock<Mutex<HashMap<&'static str, &'static String>>> = OnceLock::new();
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
    let leaked: &'static String = Box::leak(Box::new(String::from(name)));
    names.insert(leaked.as_str(), leaked);
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
        assert_eq!(Origin::shared("x").as_str(), "x");
    }
}
