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
/// An event carries only an [`Interned`] name, which is `Copy`: the event then has no
/// drop work for its name, and moving it is plain stores. A shared name (beyond the
/// interning limit, or set by hand) goes into the event's rare parts instead: past
/// [`MAX_INTERNED`] distinct names in one process, each event of a named stream costs
/// one small allocation and one reference-count update.
///
/// Measured against the plain design (an `Arc<str>` name cloned into each event), with
/// callgrind on a named serial receiver pipeline over 1000 events, current-thread
/// runtime: 119 k instructions interned against 160 k with `Arc<str>` (+34%, past the
/// 10% the receiver's budget allows). The interned names are never freed, and are
/// bounded by [`MAX_INTERNED`].
#[derive(Clone)]
pub(crate) enum Origin {
    Interned(Interned),
    Shared(Arc<String>),
}

/// A name interned for the life of the process: one thin pointer, `Copy`.
#[derive(Clone, Copy)]
pub(crate) struct Interned(&'static String);

impl Interned {
    pub(crate) fn as_str(self) -> &'static str {
        self.0.as_str()
    }
}

impl fmt::Debug for Interned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl Origin {
    /// The origin of a stream's events: interned when there is room.
    pub(crate) fn interned(name: Arc<str>) -> Self {
        match intern(&name) {
            Some(s) => Origin::Interned(Interned(s)),
            None => Origin::Shared(Arc::new(String::from(&*name))),
        }
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
            (Origin::Interned(x), Origin::Interned(y)) => assert!(std::ptr::eq(x.0, y.0)),
            other => panic!("{other:?}"),
        }
    }
}
