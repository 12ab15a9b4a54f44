//! # sweet-async
//!
//! Async dataflow on tokio, for programs that push a lot of records through async code and
//! must stay fast, bounded in memory and honest about every error.
//!
//! The crate has two halves that compose with ordinary `Future`/`Stream` code:
//!
//! - **Simple tasks** are `Future` adaptors. [`AsyncTask::to`](task::AsyncTask::to)
//!   configures one unit of async work (name, timeout, deadline, retry with backoff,
//!   recovery, circuit breaker, cancellation, priority, tracing, metrics) and
//!   `.run(|| async { .. })` returns a future resolving to a [`TaskResult`](task::TaskResult).
//! - **Emitting tasks** are native `Stream`s. [`AsyncTask::emits`](task::AsyncTask::emits)
//!   turns a source (an iterator, a file, a CSV file, any stream, a producer closure) into
//!   a backpressure-aware `Stream` of events; a receiver stage and
//!   [`await_final_event`](collect::FinalEvent::await_final_event) finish the pipeline.
//! - **Extension traits** over the `futures` ecosystem: [`AsyncResultExt`](task::AsyncResultExt)
//!   adds `map_value`, `then_ok`, `then_err`, `recover`... to every `TryFuture`.
//!
//! ## A first task
//!
//! ```
//! use std::time::Duration;
//! use sweet_async::prelude::*;
//!
//! #[derive(Debug)]
//! struct Quote { symbol: String, price: f64 }
//!
//! async fn fetch_quote(symbol: &str) -> Result<Quote, std::io::Error> {
//!     Ok(Quote { symbol: symbol.to_owned(), price: 101.25 })
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let result = AsyncTask::to::<Quote>()
//!     .name("quote-fetch")
//!     .timeout(2.seconds())                 // per attempt
//!     .retry(3)                             // exponential backoff from 100 ms
//!     .run(|| fetch_quote("ACME"))          // called again for each retry
//!     .await;
//!
//! match result.as_result() {
//!     Ok(quote) => assert_eq!(quote.symbol, "ACME"),
//!     Err(err) => eprintln!("gave up after {} attempts: {err}", result.attempts()),
//! }
//! # }
//! ```
//!
//! Nothing runs until the future is awaited or spawned, and no configuration mistake
//! panics: a zero timeout or a retry count over [`MAX_RETRIES`](task::MAX_RETRIES) is a
//! [`ConfigError`](error::ConfigError) reported by `validate()`, or as
//! [`TaskError::Config`](error::TaskError::Config) if the task is run anyway.
//!
//! ## Retries, timeouts and deadlines
//!
//! `timeout(d)` bounds each attempt; `deadline(at)` bounds the whole task, waits and
//! backoff included. [`RetryStrategy`](task::RetryStrategy) chooses the backoff
//! (immediate, fixed, linear, exponential), [`RetryPolicy`](task::RetryPolicy) adds jitter,
//! a retry count and a total time budget, and `retry_if(|err| ..)` decides which errors are
//! worth another attempt. All timers use the tokio clock, so tests can run on paused time.
//!
//! ## Recovery and circuit breaking
//!
//! `recover_with(|err| async { .. })` runs once when the task has failed for good and may
//! supply a value instead. A [`CircuitBreaker`](task::CircuitBreaker) shared by many tasks
//! opens after consecutive failures and then fails fast with
//! [`TaskError::CircuitOpen`](error::TaskError::CircuitOpen).
//!
//! ## Spawning and cancellation
//!
//! `.spawn()` returns a [`TaskHandle`](task::TaskHandle) you can query (`status()`,
//! `metrics()`), cancel ([`CancellationLevel`](task::CancellationLevel) `Graceful`, `Kill`
//! or `KillHard`) or await. Tasks started while another task's work is polled are its
//! children and are cancelled with it. Outside a runtime, `spawn` returns
//! [`TaskError::NoRuntime`](error::TaskError::NoRuntime) instead of panicking, and a panic
//! in user code becomes [`TaskError::Panicked`](error::TaskError::Panicked).
//!
//! ## Observability
//!
//! `tracing(true)` emits a `task` span with a child `attempt` span per attempt;
//! `with_metrics()` records poll count, poll time, thread CPU time and I/O per task (and
//! memory with the `memory-tracking` feature).
//!
//! ## Operators
//!
//! [`DataflowExt`](operators::DataflowExt) gives every `Stream` (ours and anyone else's)
//! backpressure-aware operators, each bounded in memory and pulling from upstream only as
//! fast as downstream consumes: chunks (by count, time or weight), windows (count,
//! processing time, event time with watermarks and allowed lateness, sessions, keyed),
//! ordering (by timestamp, by id, bounded sort), parallel maps, per-item timeout, retry
//! and rate limit, error policies and progress. Invalid arguments are a `ConfigError`;
//! late or out-of-sequence items come out of the same stream as distinct variants, so
//! nothing is dropped silently.
//!
//! ```
//! use futures::{StreamExt, stream};
//! use sweet_async::prelude::*;
//! use sweet_async::operators::window::Tumbling;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ConfigError> {
//! // Trades as (timestamp in ms, price): sum the prices per 5 ms event-time window,
//! // tolerating 2 ms of disorder.
//! let trades = [(1, 10.0), (3, 11.0), (2, 9.5), (7, 12.0), (9, 12.5)];
//! let sums: Vec<(i64, f64)> = stream::iter(trades)
//!     .event_time_window(Tumbling::event_time(5).out_of_orderness(2), |t| t.0)?
//!     .fold_windows(0.0, |sum, t| sum + t.1)
//!     .filter_map(|event| async move { event.into_window() })
//!     .map(|w| (w.start, w.value))
//!     .collect()
//!     .await;
//! assert_eq!(sums, [(0, 30.5), (5, 24.5)]);
//! # Ok(())
//! # }
//! ```
//!
//! A pipeline of operators needs one `?` for its configuration: each operator that can
//! be misconfigured returns a `Result`, and [`TryDataflowExt`](operators::TryDataflowExt)
//! gives the next operator on that `Result`. Five stages and a summary:
//!
//! ```
//! use futures::{StreamExt, stream};
//! use sweet_async::prelude::*;
//!
//! async fn price(order: u32) -> Result<u64, std::io::Error> {
//!     Ok(u64::from(order) * 250)
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), ConfigError> {
//! let mut reports = 0;
//! let (batches, summary) = stream::iter(1..=1000_u32)
//!     .rate_limit(500.messages(), 1.seconds())      // 1: pace the pricing service
//!     .par_map(8, price)                            // 2: eight calls at once, in order
//!     .timeout_each(5.seconds())                    // 3: report a stalled call
//!     .chunked_timeout(100.rows(), 1.seconds())     // 4: batches for the database
//!     .inspect_progress(5, |_| reports += 1)?       // 5: progress; the one `?`
//!     .collect_vec()
//!     .await;
//! assert_eq!((batches.len(), summary.items_in, reports), (10, 10, 3));
//! # Ok(())
//! # }
//! ```
//!
//! Settings that are valid by construction make an operator infallible: a count given as
//! a [`NonZeroUsize`](std::num::NonZeroUsize) (a constant the compiler checks, see
//! [`CountArg`](units::CountArg)) and a shared [`RateLimiter`](operators::RateLimiter)
//! built once. The same kind of pipeline then has one `?`, where the limiter is
//! configured, and none between its stages:
//!
//! ```
//! use std::num::NonZeroUsize;
//! use futures::{StreamExt, stream};
//! use sweet_async::operators::RateLimiter;
//! use sweet_async::prelude::*;
//!
//! const WORKERS: NonZeroUsize = NonZeroUsize::new(8).unwrap();
//! const BATCH: NonZeroUsize = NonZeroUsize::new(100).unwrap();
//! const REPORT_EVERY: NonZeroUsize = NonZeroUsize::new(4).unwrap();
//!
//! async fn price(order: u32) -> Result<u64, std::io::Error> {
//!     if order % 250 == 0 {
//!         return Err(std::io::Error::other(format!("no price for order {order}")));
//!     }
//!     Ok(u64::from(order) * 250)
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), ConfigError> {
//! let limiter = RateLimiter::new(500.messages(), 1.seconds())?;  // the one `?`
//! let mut failed = Vec::new();
//! let mut reports = 0;
//! let batches: Vec<Vec<u64>> = stream::iter(1..=1000_u32)
//!     .rate_limit_with(&limiter)                      // 1: pace the pricing service
//!     .try_par_map(WORKERS, price)                    // 2: eight calls at once, in order
//!     .partition_errors(|i, err| failed.push((i, err.to_string()))) // 3: errors aside
//!     .chunked(BATCH)                                 // 4: batches for the database
//!     .inspect_progress(REPORT_EVERY, |_| reports += 1) // 5: progress
//!     .collect()
//!     .await;
//! assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 996);
//! assert_eq!(failed.len(), 4);
//! assert_eq!(failed[0], (249, "task failed: no price for order 250".to_owned()));
//! assert_eq!(reports, 3);                           // after batches 4 and 8, and at the end
//! # Ok(())
//! # }
//! ```
//!
//! ## Orchestration
//!
//! An [`Orchestra`](orchestra::Orchestra) runs many tasks as a DAG: tasks registered by
//! id, dependencies (a cycle is refused when added, and named), groups started and
//! joined in stages, priorities, a concurrency limit, a
//! [`FailureStrategy`](orchestra::FailureStrategy), and typed results per id. A retry
//! backoff holds no slot; a panic is a failed task with its message. A
//! [`Runtime`](orchestra::Runtime) wraps a tokio runtime (current or owned) and shuts down
//! with a timeout, reporting what it had to abort. Tasks talk through bounded mailboxes
//! with typed [`Envelope`](message::Envelope)s (`mailbox.message().data(x).send_to(id)`).
//!
//! ```
//! use sweet_async::orchestra::{FailureStrategy, Orchestra};
//! use sweet_async::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut etl: Orchestra<usize, std::io::Error> = Orchestra::builder()
//!     .max_concurrent_tasks(2)
//!     .failure_strategy(FailureStrategy::ContinueSkipDependents)
//!     .build()?;
//! etl.register_task("users", AsyncTask::to().retry(2).run(|| async { Ok(120) }))?;
//! etl.register_task("orders", AsyncTask::to().run(|| async { Ok(80) }))?;
//! etl.register_task("load", AsyncTask::to().priority(TaskPriority::High).run(|| async { Ok(200) }))?;
//! etl.add_dependency("load", "users")?;
//! etl.add_dependency("load", "orders")?;
//!
//! etl.start_all()?;
//! let report = etl.join_all().await?;
//! assert_eq!(report.value("load"), Some(&200));
//! assert_eq!(report.order().last(), Some(&"load"));
//! assert_eq!(etl.stats().snapshot().completed, 3);
//! # Ok(())
//! # }
//! ```
//!
//! ## Streams
//!
//! `AsyncTask::emits::<T>()` configures an emitting task (buffer bound, error policy,
//! cancellation token, tracing) and `.sender(source)` returns an
//! [`EmittingStream`](stream::EmittingStream): a plain `Stream` of
//! `Result<SenderEvent<T>, EventError>` that any `futures` code can consume. Each
//! [`SenderEvent`](stream::SenderEvent) carries its key (task id plus sequence number)
//! and, for file sources, the file, line and byte offset it came from. Sources read
//! lazily ([`source::of`](stream::source::of), [`of_file`](stream::source::of_file),
//! [`csv_file`](stream::source::csv_file), with `.into_chunks(n)` for batches); a bad
//! row is an error naming its file and line, and the
//! [`ErrorPolicy`](stream::ErrorPolicy) decides whether to stop, skip (counted) or
//! collect it. [`receiver`](collect::ReceiverExt::receiver) processes events with
//! bounded concurrency, and [`await_final_event`](collect::FinalEvent::await_final_event)
//! hands over what was collected with a [`Summary`](collect::Summary) that always adds
//! up: items in = items out + errors + skipped.
//!
//! ```
//! use sweet_async::prelude::*;
//! use sweet_async::stream::source::of;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ConfigError> {
//! let lines = ["ACME,10.5", "BETA,oops", "INIT,2.25"];
//! let (total, summary) = AsyncTask::emits::<&str>()
//!     .name("prices")
//!     .sender(of(lines))
//!     .receiver(ReceiverStrategy::parallel(4)?, |event, collector: Collector<String, f64>| async move {
//!         let (symbol, price) = event.data().split_once(',').unwrap_or_default();
//!         let price: f64 = price.parse()?;              // an `Err` fails this event only
//!         collector.collect(symbol.to_owned(), price);
//!         Ok::<_, std::num::ParseFloatError>(())
//!     })
//!     .await_final_event(|summary, collected| {
//!         (collected.keyed().iter().map(|(_, p)| p).sum::<f64>(), summary)
//!     })
//!     .await;
//! assert_eq!(total, 12.75);
//! assert_eq!((summary.items_in, summary.items_out, summary.errors), (3, 2, 1));
//! # Ok(())
//! # }
//! ```
//!
//! ## Acknowledgements and real systems
//!
//! A source that can redeliver (NATS JetStream, a PostgreSQL work queue, Kafka) gives
//! each event an [`Acks`](ack::Acks) obligation. The receiver acknowledges an event when
//! its closure returns `Ok` and rejects it when it fails; chunks and windows carry their
//! inputs' obligations to their output, and a sink settles them once its server
//! confirmed the write. The final [`Summary`](collect::Summary) counts what was
//! acknowledged, rejected and left unacknowledged. The guarantee is at least once: see
//! [`ack`] for where duplicates can appear, and [`connectors`] for the systems.
//!
//! ## Units
//!
//! [`TimeExt`](units::TimeExt), [`SizeExt`](units::SizeExt) and
//! [`CountExt`](units::CountExt) read like prose: `30.seconds()`, `4.mb()`,
//! `1000.rows()`.
//!
//! # Feature flags
//!
//! - `csv` (on by default): the CSV sources [`csv_file`](stream::source::csv_file) and
//!   [`csv_records`](stream::source::csv_records), with the `csv` crate and `serde`;
//!   `default-features = false` builds without either.
//! - `memory-tracking` (off by default): per-task memory metrics through
//!   [`TrackingAllocator`](task::metrics::TrackingAllocator), which you install as the
//!   global allocator. It holds the crate's only `unsafe` code.
//! - `progress` (off by default): [`DataflowExt::progress_bar`](operators::DataflowExt::progress_bar)
//!   draws a terminal progress bar with `indicatif` as a stream is consumed.
//! - `encryption` (off by default): sealed task messages
//!   (`Message::seal` / `Envelope::open`), XChaCha20-Poly1305 from RustCrypto's
//!   `chacha20poly1305`, bodies serialized with `postcard`; a tampered envelope is
//!   `MessageError::Tampered`.
//! - `nats` (off by default): [`connectors::nats`], JetStream source and sink with
//!   `async-nats`.
//! - `postgres` (off by default): [`connectors::postgres`], query, work-queue and sink
//!   with `tokio-postgres` and `deadpool-postgres`.
//! - `kafka` (off by default): [`connectors::kafka`], consumer-group source and producer
//!   sink with `rdkafka` (librdkafka built from its bundled sources).

#![cfg_attr(docsrs, feature(doc_cfg))]
// The feature list above and a few module docs link to items that exist only with their
// feature on. A build without every feature may leave those links unresolved; the build
// with all features (CI's `cargo doc --all-features`, docs.rs) still checks every link.
#![cfg_attr(
    not(all(
        feature = "csv",
        feature = "memory-tracking",
        feature = "progress",
        feature = "encryption",
        feature = "nats",
        feature = "postgres",
        feature = "kafka"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

pub mod ack;
pub mod collect;
pub mod connectors;
pub mod error;
mod ledger;
pub mod message;
pub mod operators;
pub mod orchestra;
pub mod stream;
pub mod task;
pub mod units;

/// The names most programs need, in one import.
pub mod prelude {
    pub use crate::collect::{
        CollectExt, Collected, Collector, FinalEvent, ReceiverExt, ReceiverStrategy, Summary,
    };
    pub use crate::error::{BoxError, ConfigError, TaskError};
    pub use crate::message::{Envelope, MessageBuilderExt, MessageBus, MessageKind};
    pub use crate::operators::{DataflowExt, TryDataflowExt};
    pub use crate::orchestra::{
        ExecutionStats, FailureStrategy, Orchestra, OrchestraError, OrchestratorBuilder, Runtime,
        RuntimeBuilder, TaskOrchestrator, TaskRelationships,
    };
    pub use crate::stream::{
        EmittingStream, EmittingTaskBuilder, ErrorPolicy, EventError, EventId, ReceiverEvent,
        SenderEvent, SenderEventBuilder, StreamingEvent,
    };
    pub use crate::task::{
        AsyncResultExt, AsyncTask, AsyncTaskBuilder, AwaitResult, CancellationLevel,
        CancellationResult, CancellationToken, IntoAsyncResult, MissingDependency,
        RankableByPriority, TaskContext, TaskHandle, TaskId, TaskPriority, TaskResult, TaskStatus,
    };
    pub use crate::units::{Count, CountExt, SizeExt, TimeExt};
}
