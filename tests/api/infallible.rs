//! Operators whose arguments are valid by construction return the stream itself: the
//! types are spelled out, so these tests compile only if no `Result` is in the way.

use std::num::NonZeroUsize;

use futures::{StreamExt, stream};
use sweet_async::error::{ConfigError, TaskError};
use sweet_async::operators::{
    Chunks, ChunksWeighted, InspectProgress, ParMap, ParMapBlocking, ParMapUnordered, RateLimit,
    RateLimiter, TryParMap,
};
use sweet_async::prelude::*;

const TWO: NonZeroUsize = NonZeroUsize::new(2).unwrap();
const THREE: NonZeroUsize = NonZeroUsize::new(3).unwrap();

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn non_zero_counts_build_operators_without_a_result() {
    let chunks: Chunks<_> = stream::iter(1..=5).chunked(TWO);
    assert_eq!(
        chunks.collect::<Vec<_>>().await,
        [vec![1, 2], vec![3, 4], vec![5]]
    );

    let weighted: ChunksWeighted<_, _> = stream::iter([1, 1, 1, 2]).chunked_weighted(TWO, |w| *w);
    assert_eq!(
        weighted.collect::<Vec<_>>().await,
        [vec![1, 1], vec![1], vec![2]]
    );

    let mut seen = Vec::new();
    let progress: InspectProgress<_, _> =
        stream::iter(0..7).inspect_progress(THREE, |p| seen.push(p.items));
    assert_eq!(progress.count().await, 7);
    assert_eq!(seen, [3, 6, 7]);

    let mut bytes = Vec::new();
    let progress =
        stream::iter([10u64, 20, 30]).inspect_progress_bytes(TWO, |x| *x, |p| bytes.push(p.bytes));
    assert_eq!(progress.count().await, 3);
    assert_eq!(bytes, [Some(30), Some(60)]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn non_zero_concurrency_builds_parallel_maps_without_a_result() {
    let ordered: ParMap<_, _, _> = stream::iter(1..=4).par_map(TWO, |x| async move { x * 10 });
    let out: Vec<i32> = ordered.map(Result::unwrap).collect().await;
    assert_eq!(out, [10, 20, 30, 40]);

    let unordered: ParMapUnordered<_, _, _> =
        stream::iter(1..=4).par_map_unordered(THREE, |x| async move { x + 1 });
    let mut out: Vec<i32> = unordered.map(Result::unwrap).collect().await;
    out.sort_unstable();
    assert_eq!(out, [2, 3, 4, 5]);

    let flat: TryParMap<_> =
        stream::iter(1..=3).try_par_map(
            TWO,
            |x| async move { if x == 2 { Err("two") } else { Ok(x) } },
        );
    let out: Vec<Result<i32, TaskError<&str>>> = flat.collect().await;
    assert_eq!(out.len(), 3);
    assert_eq!(
        (out[0].as_ref().ok(), out[2].as_ref().ok()),
        (Some(&1), Some(&3))
    );
    assert!(matches!(out[1], Err(TaskError::Failed("two"))));

    let flat = stream::iter(1..=3).try_par_map_unordered(TWO, |x| async move { Ok::<_, ()>(x) });
    assert_eq!(flat.count().await, 3);

    let blocking: ParMapBlocking<_, _, _> = stream::iter(1..=3).par_map_blocking(TWO, |x| x * x);
    let out: Vec<i32> = blocking.map(Result::unwrap).collect().await;
    assert_eq!(out, [1, 4, 9]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_shared_limiter_is_checked_once_where_it_is_built() -> Result<(), ConfigError> {
    let limiter = RateLimiter::new(2.messages(), 1.seconds())?;
    let paced: RateLimit<_> = stream::iter(0..4).rate_limit_with(&limiter);
    let start = tokio::time::Instant::now();
    let at: Vec<_> = paced.map(|_| start.elapsed()).collect().await;
    // Two at once (the burst), then one every 500 ms.
    assert_eq!(at, [0.seconds(), 0.seconds(), 500.millis(), 1.seconds()]);
    Ok(())
}

#[test]
fn counts_that_may_be_zero_still_return_a_result() {
    let zero: usize = 0;
    let built = stream::iter(0..3).chunked(zero);
    assert_eq!(
        built.err(),
        Some(ConfigError::Zero {
            setting: "chunk size"
        })
    );
    let built = stream::iter(0..3).par_map(0.items(), |x| async move { x });
    assert_eq!(
        built.err(),
        Some(ConfigError::Zero {
            setting: "par_map concurrency"
        })
    );
    let built = stream::iter(0..3).inspect_progress(0, |_| ());
    assert_eq!(
        built.err(),
        Some(ConfigError::Zero {
            setting: "progress interval"
        })
    );
}
