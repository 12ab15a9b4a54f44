//! Two members of one group.
