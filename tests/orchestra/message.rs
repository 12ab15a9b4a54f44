//! Messaging tests.
