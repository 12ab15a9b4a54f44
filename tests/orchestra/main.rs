//! Integration tests of orchestration, runtime and messaging: one binary, one module per
//! concern.

// Test helpers unwrap and panic: a failed expectation is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod config;
mod dag;
mod failure;
mod groups;
mod message;
mod priority;
mod relationships;
mod retry;
mod runtime;

#[path = "../support/mod.rs"]
mod support;

pub use support::{Boom, ms};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sweet_async::orchestra::Job;
use sweet_async::prelude::*;

/// One start or end of a task, in the order they happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// The task started an attempt.
    Start(&'static str),
    /// The attempt ended (or was dropped).
    End(&'static str),
}

/// Records starts and ends and counts how many tasks run at once (atomics only).
#[derive(Debug, Clone, Default)]
pub struct Probe {
    running: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<Mark>>>,
}

impl Probe {
    /// Records a start.
    pub fn enter(&self, id: &'static str) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        self.log.lock().unwrap().push(Mark::Start(id));
    }

    /// Records an end.
    pub fn exit(&self, id: &'static str) {
        self.log.lock().unwrap().push(Mark::End(id));
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    /// Most tasks ever running at once.
    pub fn max_concurrent(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    /// Every mark so far.
    pub fn log(&self) -> Vec<Mark> {
        self.log.lock().unwrap().clone()
    }

    /// Ids in the order they started.
    pub fn starts(&self) -> Vec<&'static str> {
        self.log()
            .into_iter()
            .filter_map(|m| match m {
                Mark::Start(id) => Some(id),
                Mark::End(_) => None,
            })
            .collect()
    }

    fn position(&self, mark: Mark) -> Option<usize> {
        self.log().iter().position(|m| *m == mark)
    }

    /// Asserts that `dep` ended before `task` started.
    pub fn assert_before(&self, dep: &'static str, task: &'static str) {
        let end = self
            .position(Mark::End(dep))
            .unwrap_or_else(|| panic!("{dep} never ended"));
        let start = self
            .position(Mark::Start(task))
            .unwrap_or_else(|| panic!("{task} never started"));
        assert!(
            end < start,
            "{task} started before {dep} ended: {:?}",
            self.log()
        );
    }

    /// A task that records itself, sleeps `d` and returns its id.
    pub fn task(&self, id: &'static str, d: Duration) -> Job<&'static str, Boom> {
        self.task_with(AsyncTask::to().name(id), id, d, Ok(id))
    }

    /// A task that records itself, sleeps `d` and fails.
    pub fn failing(&self, id: &'static str, d: Duration) -> Job<&'static str, Boom> {
        self.task_with(AsyncTask::to().name(id), id, d, Err(Boom(id)))
    }

    /// A task from `builder` that records itself, sleeps `d` and returns `out`.
    pub fn task_with(
        &self,
        builder: AsyncTaskBuilder<&'static str, Boom>,
        id: &'static str,
        d: Duration,
        out: Result<&'static str, Boom>,
    ) -> Job<&'static str, Boom> {
        let p = self.clone();
        builder
            .run(move || {
                let p = p.clone();
                let out = out.clone();
                async move {
                    p.enter(id);
                    // Leaves the count when dropped too (a cancelled attempt).
                    struct Exit(Probe, &'static str);
                    impl Drop for Exit {
                        fn drop(&mut self) {
                            self.0.exit(self.1);
                        }
                    }
                    let _exit = Exit(p, id);
                    tokio::time::sleep(d).await;
                    out
                }
            })
            .into()
    }
}
