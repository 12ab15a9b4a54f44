//! [`Pump`]: takes messages out of the consumer in batches, copying each out of
//! librdkafka's buffers.
//!
//! rdkafka's message stream borrows its consumer, so an owned stream cannot hold both. The
//! pump is one boxed `async` block that owns the consumer and its message stream; it fills
//! a batch with what is ready, leaves it in a shared inbox and pauses until the source has
//! handed the batch out. It runs only inside the source's poll, on the source's task: no
//! task is spawned, and dropping the source drops it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures::{FutureExt, StreamExt};
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::{BorrowedMessage, Message};

use super::assignment::{Assignment, Fetched};
use super::context::GroupContext;
use super::message::KafkaMessage;

/// The consumer type of the source.
pub(crate) type Consumer = StreamConsumer<GroupContext>;

/// What the source and its handle share: the consumer and its assignment.
pub(crate) struct Shared {
    /// `None` only while the last owner drops it.
    consumer: Option<Consumer>,
    pub(crate) assignment: Arc<Assignment>,
}

impl Shared {
    pub(crate) fn new(consumer: Consumer, assignment: Arc<Assignment>) -> Self {
        Shared {
            consumer: Some(consumer),
            assignment,
        }
    }

    /// The consumer (always there while anyone can call this).
    pub(crate) fn consumer(&self) -> Option<&Consumer> {
        self.consumer.as_ref()
    }
}

impl Drop for Shared {
    /// Destroying the consumer leaves its group and waits for librdkafka to close, which
    /// blocks: on a runtime, that happens on the blocking pool, not on an async worker.
    fn drop(&mut self) {
        if let Some(consumer) = self.consumer.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            drop(runtime.spawn_blocking(move || drop(consumer)));
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("assignment", &self.assignment)
            .finish_non_exhaustive()
    }
}

type Inbox = Arc<Mutex<Vec<Fetched>>>;

/// The boxed consumer loop and the inbox it fills.
pub(crate) struct Pump {
    future: Pin<Box<dyn Future<Output = ()> + Send>>,
    inbox: Inbox,
}

impl std::fmt::Debug for Pump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump").finish_non_exhaustive()
    }
}

impl Pump {
    /// Up to `batch` messages per round from `shared`'s consumer.
    pub(crate) fn new(shared: Arc<Shared>, batch: usize) -> Self {
        let inbox = Inbox::default();
        let future = Box::pin(run(shared, inbox.clone(), batch));
        Pump { future, inbox }
    }

    /// Moves the next batch into `out` (`Ready(true)`), or `Pending` with the task's waker
    /// registered with the consumer; `Ready(false)` if the consumer ended.
    pub(crate) fn poll_batch(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut Vec<Fetched>,
    ) -> Poll<bool> {
        let ended = self.future.as_mut().poll(cx).is_ready();
        std::mem::swap(
            out,
            &mut *self.inbox.lock().unwrap_or_else(PoisonError::into_inner),
        );
        if !out.is_empty() {
            Poll::Ready(true)
        } else if ended {
            Poll::Ready(false)
        } else {
            Poll::Pending
        }
    }
}

async fn run(shared: Arc<Shared>, inbox: Inbox, batch: usize) {
    let assignment = shared.assignment.clone();
    let mut topics: Vec<Arc<str>> = Vec::new();
    let Some(consumer) = shared.consumer() else {
        return;
    };
    let mut messages = consumer.stream();
    let mut fetched = Vec::with_capacity(batch);
    loop {
        let Some(first) = messages.next().await else {
            return;
        };
        fetched.push(copy(first, &assignment, &mut topics));
        while fetched.len() < batch {
            match messages.next().now_or_never() {
                Some(Some(m)) => fetched.push(copy(m, &assignment, &mut topics)),
                _ => break,
            }
        }
        {
            let mut inbox = inbox.lock().unwrap_or_else(PoisonError::into_inner);
            if inbox.is_empty() {
                std::mem::swap(&mut *inbox, &mut fetched);
            } else {
                inbox.append(&mut fetched);
            }
        }
        // Wait until the source took the batch (it polls again only then).
        YieldOnce(false).await;
    }
}

/// Copies a message out of librdkafka, tagged with the rebalance generation it came in.
fn copy(
    message: rdkafka::error::KafkaResult<BorrowedMessage<'_>>,
    assignment: &Assignment,
    topics: &mut Vec<Arc<str>>,
) -> Fetched {
    let generation = assignment.generation();
    let message = message.map(|m| {
        let name = m.topic();
        let topic = match topics.iter().find(|t| ***t == *name) {
            Some(t) => t.clone(),
            None => {
                let t: Arc<str> = Arc::from(name);
                topics.push(t.clone());
                t
            }
        };
        KafkaMessage::copy_from(&m, topic)
    });
    Fetched {
        generation,
        message,
    }
}

/// Pending once, without a wake-up: the pump's owner polls again when it wants more.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}
