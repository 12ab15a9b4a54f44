//! `stop_on_error()`: values until the first error, that error, then the end.

use std::sync::atomic::Ordering;

use futures::{StreamExt, stream};
use sweet_async::prelude::*;

use crate::{Counted, assert_fused};

#[tokio::test]
async fn yields_up_to_and_including_the_first_error() {
    let out: Vec<Result<u8, &str>> = stream::iter([Ok(1), Ok(2), Err("boom"), Ok(3), Err("late")])
        .stop_on_error()
        .collect()
        .await;
    assert_eq!(out, vec![Ok(1), Ok(2), Err("boom")]);
}

#[tokio::test]
async fn passes_a_clean_stream_through() {
    let out: Vec<Result<u8, &str>> = stream::iter([Ok(1), Ok(2)]).stop_on_error().collect().await;
    assert_eq!(out, vec![Ok(1), Ok(2)]);
    let first: Vec<Result<u8, &str>> = stream::iter([Err("at once"), Ok(1)])
        .stop_on_error()
        .collect()
        .await;
    assert_eq!(first, vec![Err("at once")]);
}

#[test]
fn nothing_after_the_error_is_pulled_and_it_stays_fused() {
    let upstream = Counted::new(stream::iter([Ok::<u8, u8>(1), Err(2), Ok(3), Ok(4)]));
    let pulled = upstream.pulled.clone();
    let mut s = upstream.stop_on_error();
    let all: Vec<_> = futures::executor::block_on_stream(&mut s).collect();
    assert_eq!(all, vec![Ok(1), Err(2)]);
    assert_fused(&mut s);
    assert_eq!(pulled.load(Ordering::SeqCst), 2);
    // The rest is still upstream, not lost.
    let rest: Vec<_> = futures::executor::block_on_stream(s.into_inner()).collect();
    assert_eq!(rest, vec![Ok(3), Ok(4)]);
}

#[test]
fn fused_at_the_natural_end() {
    let upstream = Counted::new(stream::iter([Ok::<u8, u8>(1)]));
    let polled_after_end = upstream.polled_after_end.clone();
    let mut s = upstream.stop_on_error();
    assert_eq!(futures::executor::block_on_stream(&mut s).count(), 1);
    assert_fused(&mut s);
    assert_eq!(polled_after_end.load(Ordering::SeqCst), 0);
}
