//! A 10,000-task layered DAG of trivial tasks: the orchestra against a hand-written
//! `JoinSet` topological runner and a plain in-order loop, in one run.
//!
//! Shape: 100 layers of 100 tasks; each task depends on two tasks of the layer above.
//! Both runners build their graph, run every task as its own tokio task as soon as its
//! dependencies are done (no concurrency limit: the orchestra's is set to 10,000), and
//! collect every result. The plain loop awaits each task inline in a topological order:
//! the floor, with no spawning at all.
//!
//! Run: `cargo bench --bench orchestra`. The ratios print at the end.

// A bench that cannot build its runtime has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::convert::Infallible;
use std::hint::black_box;

use criterion::Criterion;
use sweet_async::orchestra::Orchestra;
use tokio::task::JoinSet;

mod common;

const LAYERS: usize = 100;
const WIDTH: usize = 100;
const N: usize = LAYERS * WIDTH;

/// The dependencies of task `i`: two tasks of the layer above.
fn deps(i: usize) -> [usize; 2] {
    let (layer, pos) = (i / WIDTH, i % WIDTH);
    let above = (layer - 1) * WIDTH;
    [above + pos, above + (pos + 1) % WIDTH]
}

async fn work(i: usize) -> Result<usize, Infallible> {
    Ok(black_box(i) + 1)
}

async fn orchestra() -> usize {
    let mut o: Orchestra<usize, Infallible, usize> = Orchestra::builder()
        .max_concurrent_tasks(N)
        .metrics(true)
        .build()
        .unwrap();
    for i in 0..N {
        o.register_fn(i, move || work(i)).unwrap();
        if i >= WIDTH {
            for d in deps(i) {
                o.add_dependency(&i, &d).unwrap();
            }
        }
    }
    o.start_all().unwrap();
    let report = o.join_all().await.unwrap();
    assert_eq!(report.len(), N);
    report.len()
}

/// What a careful user writes by hand: in-degrees, dependents, a `JoinSet`.
async fn joinset_runner() -> usize {
    let mut pending = vec![0u32; N];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); N];
    for (i, p) in pending.iter_mut().enumerate().skip(WIDTH) {
        for d in deps(i) {
            *p += 1;
            dependents[d].push(i);
        }
    }
    let mut results: Vec<Option<usize>> = vec![None; N];
    let mut set = JoinSet::new();
    for (i, p) in pending.iter().enumerate() {
        if *p == 0 {
            set.spawn(async move { (i, work(i).await) });
        }
    }
    while let Some(joined) = set.join_next().await {
        let (i, out) = joined.unwrap();
        results[i] = Some(out.unwrap());
        for &d in &dependents[i] {
            pending[d] -= 1;
            if pending[d] == 0 {
                set.spawn(async move { (d, work(d).await) });
            }
        }
    }
    results.iter().filter(|r| r.is_some()).count()
}

/// Every task awaited inline, in index order (a topological order here).
async fn plain_loop() -> usize {
    let mut results = Vec::with_capacity(N);
    for i in 0..N {
        results.push(work(i).await.unwrap());
    }
    results.len()
}

fn bench_dag(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("layered_dag_10k");
    g.sample_size(20);
    g.bench_function("sweet_async_orchestra", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(orchestra().await) })
    });
    g.bench_function("joinset_topological", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(joinset_runner().await) })
    });
    g.bench_function("plain_loop", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(plain_loop().await) })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_dag(&mut c);
    c.final_summary();
    common::print_ratios(
        "layered_dag_10k",
        &[
            ("sweet_async_orchestra", "joinset_topological"),
            ("joinset_topological", "plain_loop"),
        ],
    );
}
