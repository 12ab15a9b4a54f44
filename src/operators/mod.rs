//! Backpressure-aware dataflow operators for every `Stream`, ours and anyone else's.
//!
//! [`DataflowExt`] adds the operators as methods. Each operator lives in its own file,
//! holds a bounded amount of state that the caller can see and set, and pulls from
//! upstream only as fast as downstream consumes. Invalid arguments (zero sizes, zero
//! durations, zero concurrency) are a [`ConfigError`](crate::error::ConfigError), never a
//! panic.

use futures::Stream;

// region: chunk (modules)
// endregion: chunk (modules)

// region: window (modules)
// endregion: window (modules)

// region: sequence (modules)
// endregion: sequence (modules)

// region: par_map (modules)
mod par_driver;
mod par_map;
mod par_map_blocking;
mod par_map_unordered;

pub use par_driver::ParMapError;
pub use par_map::ParMap;
pub use par_map_blocking::ParMapBlocking;
pub use par_map_unordered::ParMapUnordered;
// endregion: par_map (modules)

/// Dataflow operators on every [`Stream`].
pub trait DataflowExt: Stream {
    // region: chunk (methods)
    // endregion: chunk (methods)

    // region: window (methods)
    // endregion: window (methods)

    // region: sequence (methods)
    // endregion: sequence (methods)

    // region: par_map (methods)
    /// Runs the async function `f` on up to `n` items at once and yields the results in
    /// input order.
    ///
    /// Like `futures`' [`buffered`](futures::StreamExt::buffered) over `map(f)`, with three
    /// differences:
    ///
    /// - **The work keeps moving while you are busy.** With `buffered`, the calls in flight
    ///   are polled only from inside your `poll_next`, so they stall while you spend time
    ///   on a result (futures-rs issues #2387 and #2961). Here a small driver task, spawned
    ///   on the first poll, runs the calls in flight and pulls new items whenever you are
    ///   busy with an item this stream gave you; finished results wait in a bounded
    ///   output buffer. While you wait on the stream, your own task does the work, as
    ///   `buffered` does, with no hand-off between threads.
    /// - **A panic is an error item.** A panic in `f` or in its future becomes
    ///   `Err(`[`ParMapError::Panicked`]`)` with the item's index and the message, in the
    ///   item's place, and the stream goes on with the other items: every input item comes
    ///   out exactly once, as a value or as an error.
    /// - **Zero concurrency is an error**, not a stream that hangs.
    ///
    /// # Bounds
    ///
    /// At most `n` calls are in flight, results that finished before their turn included
    /// (they wait, in input order, for the ones before them). A new item is pulled only
    /// while fewer than `n` calls are in flight *and* fewer than `n + b` items are held in
    /// all (in flight or finished but not yet yielded), where `b` is
    /// [`output_buffer_size`](ParMap::output_buffer_size) (default `n`, set with
    /// [`output_buffer`](ParMap::output_buffer)). So items pulled from upstream never
    /// exceed items yielded + `n` + `b`. The default lets the consumer fall `n` results
    /// behind before the work pauses, for at most `2 n` items in memory.
    ///
    /// # Requirements
    ///
    /// Upstream, its items, `f`, its futures and their outputs must be `Send + 'static`:
    /// the driver task may run them on another worker thread. For `!Send` work use
    /// `futures`' `buffered`, which needs no runtime but stalls while you are busy.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`](crate::error::ConfigError::Zero) when `n` is zero. When the
    /// stream is first polled outside a tokio runtime, its only item is
    /// `Err(`[`ParMapError::NoRuntime`]`)` and nothing is pulled. If upstream panics, the
    /// items pulled before are still mapped and yielded, then
    /// `Err(`[`ParMapError::UpstreamPanicked`]`)` ends the stream.
    ///
    /// # Cancel safety
    ///
    /// Dropping the stream cancels the work: the driver task is aborted and every call
    /// in flight is dropped (at once, or right after the driver's current poll if it is
    /// running on another thread at that instant); `f` is not called again and no task
    /// outlives the stream. Results not yet yielded are dropped with it. Dropping a
    /// `next()` future loses nothing: a result leaves the stream only when returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// async fn fetch_price(sku: u32) -> u32 {
    ///     // Later items answer sooner: the output order is still the input order.
    ///     tokio::time::sleep(Duration::from_millis(u64::from(10 - sku))).await;
    ///     sku * 100
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let prices: Vec<u32> = stream::iter(1..=5)
    ///     .par_map(3, fetch_price)?
    ///     .map(|r| r.expect("fetch_price does not panic"))
    ///     .collect()
    ///     .await;
    /// assert_eq!(prices, [100, 200, 300, 400, 500]);
    ///
    /// assert_eq!(
    ///     stream::iter(0..3).par_map(0, fetch_price).err(),
    ///     Some(ConfigError::Zero { setting: "par_map concurrency" })
    /// );
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "buffered")]
    #[doc(alias = "parallel")]
    fn par_map<Fut, F>(
        self,
        n: impl Into<crate::units::Count>,
        f: F,
    ) -> Result<ParMap<Self, Fut, F>, crate::error::ConfigError>
    where
        Self: Sized + Send + 'static,
        Self::Item: Send + 'static,
        F: FnMut(Self::Item) -> Fut + Send + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let limits = par_driver::Limits::new(n.into(), "par_map concurrency")?;
        Ok(ParMap::new(self, limits, f))
    }

    /// Runs the async function `f` on up to `n` items at once and yields the results as
    /// they finish.
    ///
    /// The unordered sibling of [`par_map`](DataflowExt::par_map), with the same bounds
    /// (at most `n` calls in flight, items pulled never more than yielded + `n` + the
    /// output buffer), requirements, panic handling and cancellation. Like `futures`'
    /// [`buffer_unordered`](futures::StreamExt::buffer_unordered), except that the calls in
    /// flight keep running, and new ones start, while the consumer is busy; finished
    /// results wait in a bounded output buffer; and a panic is an
    /// `Err(`[`ParMapError::Panicked`]`)` item. A slow item never holds back the others.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`](crate::error::ConfigError::Zero) when `n` is zero; see
    /// [`par_map`](DataflowExt::par_map) for the error items (an upstream panic comes
    /// after every call pulled before it).
    ///
    /// # Cancel safety
    ///
    /// As for [`par_map`](DataflowExt::par_map): dropping the stream cancels every call in
    /// flight and its driver task.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures::{StreamExt, stream};
    /// use sweet_async::operators::ParMapError;
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // Crawl pages: a page that answers sooner comes out sooner, and a page that
    /// // breaks the parser is reported in its place.
    /// let pages: Vec<Result<usize, ParMapError>> = stream::iter([30u64, 10, 20])
    ///     .par_map_unordered(3, |ms| async move {
    ///         tokio::time::sleep(Duration::from_millis(ms)).await;
    ///         if ms == 20 {
    ///             panic!("malformed page");
    ///         }
    ///         ms as usize
    ///     })?
    ///     .collect()
    ///     .await;
    /// assert_eq!(pages[0], Ok(10));
    /// assert_eq!(
    ///     pages[1],
    ///     Err(ParMapError::Panicked { index: 2, message: "malformed page".into() })
    /// );
    /// assert_eq!(pages[2], Ok(30));
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "buffer_unordered")]
    fn par_map_unordered<Fut, F>(
        self,
        n: impl Into<crate::units::Count>,
        f: F,
    ) -> Result<ParMapUnordered<Self, Fut, F>, crate::error::ConfigError>
    where
        Self: Sized + Send + 'static,
        Self::Item: Send + 'static,
        F: FnMut(Self::Item) -> Fut + Send + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let limits = par_driver::Limits::new(n.into(), "par_map_unordered concurrency")?;
        Ok(ParMapUnordered::new(self, limits, f))
    }

    /// Runs the synchronous, CPU-bound function `f` on up to `n` threads at once and
    /// yields the results in input order.
    ///
    /// For work that computes rather than waits (parsing, hashing, compressing): calling
    /// it inside an async `par_map` would block the runtime's worker threads. Here `f`
    /// runs on tokio's blocking pool. Items are handed over in batches, so the hand-over
    /// costs little even when `f` takes microseconds: the batch size adapts to about half
    /// a millisecond of work, up to [`max_batch`](ParMapBlocking::max_batch) items
    /// (default 256), and a batch is cut short when upstream has nothing ready, so a slow
    /// upstream never waits for a full batch. Like [`par_map`](DataflowExt::par_map), the
    /// work goes on while the consumer is busy, finished results wait in a bounded output
    /// buffer, and a panic in `f` becomes `Err(`[`ParMapError::Panicked`]`)` in the item's
    /// place while the other items go on.
    ///
    /// # Bounds
    ///
    /// At most `n` batches are in flight, one per thread, and each thread calls `f` on one
    /// item at a time: at most `n` calls of `f` run at once. A batch is pulled only while
    /// fewer than `n` are in flight and the items held (in flight or finished but not yet
    /// yielded) leave room for it under `n × max batch + b`, where `b` is
    /// [`output_buffer_size`](ParMapBlocking::output_buffer_size) (default
    /// `n × max batch`). So items pulled from upstream never exceed items yielded +
    /// `n × max batch + b`.
    ///
    /// # Requirements
    ///
    /// Upstream, its items, `f` and its results must be `Send + 'static`, and `f` must be
    /// `Fn + Sync`: several threads call it at once.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`](crate::error::ConfigError::Zero) when `n` is zero; see
    /// [`par_map`](DataflowExt::par_map) for the error items. A batch the runtime drops
    /// unrun while shutting down yields one [`ParMapError::RuntimeShutdown`] per item.
    ///
    /// # Cancel safety
    ///
    /// Dropping the stream aborts its driver task and every batch that has not started.
    /// A thread cannot be interrupted, so a batch already running finishes the call of
    /// `f` it is in, then skips the rest of the batch. Nothing new starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sweet_async::prelude::*;
    ///
    /// #[derive(Debug, PartialEq)]
    /// enum Level { Info, Error }
    ///
    /// /// Parsing is CPU work: it runs on the blocking pool, four lines at once.
    /// fn parse_log_entry(line: String) -> (Level, String) {
    ///     match line.split_once(' ') {
    ///         Some(("ERROR", msg)) => (Level::Error, msg.to_owned()),
    ///         _ => (Level::Info, line),
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let lines = stream::iter((0..1000).map(|i| {
    ///     if i % 250 == 0 { format!("ERROR disk {i} full") } else { format!("INFO ok {i}") }
    /// }));
    /// let errors: Vec<String> = lines
    ///     .par_map_blocking(4, parse_log_entry)?
    ///     .filter_map(|parsed| async move {
    ///         match parsed.expect("the parser does not panic") {
    ///             (Level::Error, msg) => Some(msg),
    ///             (Level::Info, _) => None,
    ///         }
    ///     })
    ///     .collect()
    ///     .await;
    /// assert_eq!(errors, ["disk 0 full", "disk 250 full", "disk 500 full", "disk 750 full"]);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "spawn_blocking")]
    #[doc(alias = "par_iter")]
    fn par_map_blocking<T, F>(
        self,
        n: impl Into<crate::units::Count>,
        f: F,
    ) -> Result<ParMapBlocking<Self, F, T>, crate::error::ConfigError>
    where
        Self: Sized + Send + 'static,
        Self::Item: Send + 'static,
        F: Fn(Self::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let limits = par_driver::Limits::new(n.into(), "par_map_blocking concurrency")?;
        Ok(ParMapBlocking::new(self, limits, f))
    }
    // endregion: par_map (methods)
}

impl<S: Stream + ?Sized> DataflowExt for S {}
