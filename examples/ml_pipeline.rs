//! A staged ML training pipeline with groups: data preparation, then three models trained
//! in parallel on at most two "GPUs", then evaluation. Each stage is started and joined
//! as a group; a failed stage stops the pipeline with an error naming the failed tasks.
//! Training tasks have priorities: the baseline model gets a GPU first.
//!
//! Shows: `create_group`, `add_task_to_group`, `start_group`/`join_group`, priorities,
//! `get_task_status`, `cancel_group`, and a `Runtime` shut down with a timeout.
//!
//! Run: `cargo run --example ml_pipeline`

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sweet_async::orchestra::{Orchestra, RuntimeBuilder};
use sweet_async::prelude::*;

#[derive(Debug, Clone, PartialEq)]
enum Artifact {
    Dataset { rows: u64 },
    Model { name: &'static str, accuracy: f64 },
    Report { best: &'static str },
}

/// The training work of one model: one attempt per call.
fn train(
    name: &'static str,
    accuracy: f64,
    epochs: u64,
) -> impl FnMut() -> Training + Send + 'static {
    move || {
        Box::pin(async move {
            for _ in 0..epochs {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok::<_, BoxError>(Artifact::Model { name, accuracy })
        })
    }
}

type Training = Pin<Box<dyn Future<Output = Result<Artifact, BoxError>> + Send>>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The training runtime: its own two worker threads, small stacks.
    let gpu_runtime = RuntimeBuilder::new()
        .worker_threads(2)
        .stack_size(512usize.kb())
        .thread_name("gpu-worker")
        .build()?;
    let mut ml: Orchestra<Artifact> = Orchestra::builder()
        .with_runtime(&gpu_runtime)
        .max_concurrent_tasks(2) // two GPUs
        .timeout(6.hours())
        .build()?;

    ml.register_task(
        "data-prep",
        AsyncTask::to().name("data-prep").run(|| async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            Ok::<_, BoxError>(Artifact::Dataset { rows: 1_000_000 })
        }),
    )?;
    for (name, accuracy, epochs, priority) in [
        ("model-a", 0.91, 5, TaskPriority::Normal),
        ("model-b", 0.88, 3, TaskPriority::Low),
        ("baseline", 0.80, 1, TaskPriority::High),
    ] {
        ml.register_task(
            name,
            AsyncTask::to()
                .name(name)
                .priority(priority)
                .run(train(name, accuracy, epochs)),
        )?;
        ml.add_dependency(name, "data-prep")?;
    }
    ml.register_task(
        "evaluate",
        AsyncTask::to()
            .name("evaluate")
            .run(|| async { Ok::<_, BoxError>(Artifact::Report { best: "model-a" }) }),
    )?;
    for model in ["model-a", "model-b", "baseline"] {
        ml.add_dependency("evaluate", model)?;
    }
    // A hyper-parameter sweep we will abandon.
    ml.register_task(
        "sweep",
        AsyncTask::to()
            .name("sweep")
            .run(train("sweep", 0.5, 1_000)),
    )?;

    for (group, members) in [
        ("data-preparation", &["data-prep"][..]),
        ("model-training", &["model-a", "model-b", "baseline"][..]),
        ("model-evaluation", &["evaluate"][..]),
        ("exploration", &["sweep"][..]),
    ] {
        ml.create_group(group)?;
        for m in members {
            ml.add_task_to_group(group, *m)?;
        }
    }

    // Starting training before its data would wait forever: refused with a clear error.
    if let Err(e) = ml.start_group("model-training") {
        println!("refused: {e}");
    }
    ml.start_group("exploration")?;
    for stage in ["data-preparation", "model-training", "model-evaluation"] {
        ml.start_group(stage)?;
        let done = ml.join_group(stage).await?;
        println!("stage {stage}: {:?} succeeded", done.succeeded);
    }
    println!("sweep status: {:?}", ml.get_task_status("sweep"));
    let cancelled = ml
        .cancel_group("exploration", CancellationLevel::Graceful)
        .await?;
    println!("abandoned: {:?}", cancelled.cancelled);

    let report = ml.join_all().await?;
    for id in report.order() {
        println!("{id:>10}: {:?}", report.get(id).map(|o| o.kind()));
    }
    println!("evaluation: {:?}", report.value("evaluate"));

    drop(ml);
    let shutdown = gpu_runtime.shutdown(5.seconds()).await;
    println!(
        "runtime shut down in {:?}, aborted {:?}",
        shutdown.took, shutdown.aborted
    );
    Ok(())
}
