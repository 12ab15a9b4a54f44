//! Inputs crafted by an attacker: ids chosen to collide in a weak hash, forged and
//! replayed messages, a subscriber that never reads.

use std::cell::Cell;
use std::fmt;
use std::hash::{Hash, Hasher};

use sweet_async::orchestra::TaskRelationships;

thread_local! {
    static COMPARISONS: Cell<u64> = const { Cell::new(0) };
}

/// An id whose comparisons are counted: the work a hash map does per lookup.
#[derive(Debug, Clone)]
struct Counted(u64);

impl PartialEq for Counted {
    fn eq(&self, other: &Self) -> bool {
        COMPARISONS.with(|c| c.set(c.get() + 1));
        self.0 == other.0
    }
}

impl Eq for Counted {}

impl Hash for Counted {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Ids that all land in the same bucket with the same tag under FxHash (rustc-hash 2):
/// `c * K^-1` hashes to `rotate_left(c, 26)`, whose low 26 bits and top 7 bits are 0
/// for `c < 2^31`.
fn crafted(n: u64) -> impl Iterator<Item = Counted> {
    const K_INVERSE: u64 = 0x7814_94a5_5daa_ed0d;
    (1..=n).map(|c| Counted(c.wrapping_mul(K_INVERSE)))
}

#[test]
fn crafted_ids_do_not_degrade_the_relationship_index() {
    const N: u64 = 5_000;
    let mut rel: TaskRelationships<Counted> = TaskRelationships::new();
    COMPARISONS.with(|c| c.set(0));
    for id in crafted(N) {
        assert!(rel.add_task(id));
    }
    for id in crafted(N) {
        assert!(rel.contains(&id));
    }
    // Flat: about one comparison per insert and per lookup. FxHash needed N^2 / 2
    // (12.5 M here; 100k ids took 32.6 s against 69 ms).
    let comparisons = COMPARISONS.with(Cell::get);
    assert!(
        comparisons < 4 * 2 * N,
        "{comparisons} comparisons for {N} ids"
    );
}
