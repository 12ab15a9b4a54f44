//! `progress_bar(total)` (feature `progress`): advances per item, finishes at the end.

use futures::{StreamExt, stream};
use sweet_async::prelude::*;

use crate::{Counted, assert_fused};

#[tokio::test]
async fn advances_per_item_and_finishes_at_the_end() {
    let mut s = stream::iter(0..5).progress_bar(Some(5));
    assert_eq!(s.bar().length(), Some(5));
    assert_eq!(s.next().await, Some(0));
    assert_eq!(s.bar().position(), 1);
    assert!(!s.bar().is_finished());
    assert_eq!(s.by_ref().count().await, 4);
    assert_eq!(s.bar().position(), 5);
    assert!(s.bar().is_finished());
}

#[tokio::test]
async fn without_a_total_it_counts() {
    let s = stream::iter(0..3).progress_bar(None);
    let bar = s.bar().clone();
    assert_eq!(bar.length(), None);
    assert_eq!(s.count().await, 3);
    assert_eq!(bar.position(), 3);
    assert!(bar.is_finished());
}

#[test]
fn dropped_early_it_is_abandoned_and_fused_at_the_end() {
    let mut s = stream::iter(0..3).progress_bar(Some(3));
    let bar = s.bar().clone();
    assert_eq!(futures::executor::block_on(s.next()), Some(0));
    drop(s);
    assert!(bar.is_finished());
    assert_eq!(bar.position(), 1);

    let upstream = Counted::new(stream::iter(0..2));
    let polled_after_end = upstream.polled_after_end.clone();
    let mut s = upstream.progress_bar(Some(2));
    assert_eq!(futures::executor::block_on_stream(&mut s).count(), 2);
    assert_fused(&mut s);
    assert_eq!(
        polled_after_end.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}
