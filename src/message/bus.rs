//! [`MessageBus`], [`Mailbox`] and [`Outbox`]: bounded channels between tasks.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::mpsc;

use crate::error::ConfigError;
use crate::message::Envelope;
use crate::task::TaskId;

/// Why a message could not be delivered or read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageError {
    /// No mailbox is registered for this task.
    UnknownRecipient(TaskId),
    /// The recipient's mailbox was dropped.
    Closed(TaskId),
    /// The recipient's inbox is full (only from `try_send_to`).
    Full(TaskId),
    /// This task already has a mailbox on the bus.
    DuplicateMailbox(TaskId),
    /// A sealed envelope failed authentication: its header or body was changed, or the
    /// key is wrong.
    Tampered,
    /// The message body could not be encoded or decoded.
    Codec(String),
    /// A plain envelope was given where a sealed one is required: anyone who can reach
    /// the mailbox could have forged it.
    NotSealed,
    /// A sealed envelope addressed to another task (or to none).
    WrongRecipient {
        /// The task it was sealed for.
        sealed_for: Option<TaskId>,
    },
    /// A sealed envelope already opened (or too old to tell): a replay.
    Replayed {
        /// Its sender.
        sender: TaskId,
        /// Its sequence number.
        sequence: u64,
    },
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::UnknownRecipient(id) => write!(f, "no mailbox for task {id}"),
            MessageError::Closed(id) => write!(f, "the mailbox of task {id} is closed"),
            MessageError::Full(id) => write!(f, "the mailbox of task {id} is full"),
            MessageError::DuplicateMailbox(id) => {
                write!(f, "task {id} already has a mailbox")
            }
            MessageError::Tampered => {
                f.write_str("sealed message failed authentication (tampered or wrong key)")
            }
            MessageError::Codec(e) => write!(f, "message encoding failed: {e}"),
            MessageError::NotSealed => f.write_str("the envelope is not sealed"),
            MessageError::WrongRecipient { sealed_for } => match sealed_for {
                Some(id) => write!(f, "the envelope was sealed for task {id}"),
                None => f.write_str("the envelope was sealed for no recipient"),
            },
            MessageError::Replayed { sender, sequence } => write!(
                f,
                "envelope {sequence} from task {sender} was already opened (replay)"
            ),
        }
    }
}

impl std::error::Error for MessageError {}

/// Routes messages between the tasks that joined it; each mailbox is a bounded channel.
///
/// Cloning shares the bus. The routing tables sit behind a `std` read-write lock held
/// only to look up or change an entry, never across an `.await`.
///
/// # Examples
///
/// ```
/// use sweet_async::message::{MessageBuilderExt, MessageBus};
/// use sweet_async::task::TaskId;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// #[derive(Debug, Clone, PartialEq)]
/// struct ApiResponse { status: u16 }
///
/// let bus = MessageBus::<ApiResponse>::new(16)?;
/// let api = bus.mailbox(TaskId::new())?;
/// let mut worker = bus.mailbox(TaskId::new())?;
///
/// api.message()
///     .correlation_id("req-7f3a")
///     .hostname("api-gateway-01")
///     .data(ApiResponse { status: 200 })
///     .send_to(worker.id())
///     .await?;
///
/// let envelope = worker.recv().await.unwrap();
/// assert_eq!(envelope.sender, api.id());
/// assert_eq!(envelope.correlation_id.as_deref(), Some("req-7f3a"));
/// assert_eq!(envelope.data(), Some(&ApiResponse { status: 200 }));
/// # Ok(())
/// # }
/// ```
pub struct MessageBus<M> {
    inner: Arc<BusInner<M>>,
}

struct BusInner<M> {
    capacity: usize,
    sequence: AtomicU64,
    boxes: RwLock<HashMap<TaskId, mpsc::Sender<Envelope<M>>>>,
    subscribers: RwLock<Subscriptions>,
}

/// Who subscribes to whom, both ways: `subscribe` is one set insert, and a mailbox that
/// leaves is removed from every list it is on without scanning the others.
#[derive(Default)]
struct Subscriptions {
    /// Publisher -> its subscribers.
    of: HashMap<TaskId, HashSet<TaskId>>,
    /// Subscriber -> the publishers it listens to.
    to: HashMap<TaskId, HashSet<TaskId>>,
}

impl Subscriptions {
    fn add(&mut self, subscriber: TaskId, publisher: TaskId) {
        self.of.entry(publisher).or_default().insert(subscriber);
        self.to.entry(subscriber).or_default().insert(publisher);
    }

    fn remove(&mut self, subscriber: TaskId, publisher: TaskId) {
        if let Some(subs) = self.of.get_mut(&publisher) {
            subs.remove(&subscriber);
            if subs.is_empty() {
                self.of.remove(&publisher);
            }
        }
        if let Some(pubs) = self.to.get_mut(&subscriber) {
            pubs.remove(&publisher);
            if pubs.is_empty() {
                self.to.remove(&subscriber);
            }
        }
    }

    /// `id` left the bus: it neither listens nor is listened to any more.
    fn forget(&mut self, id: TaskId) {
        for publisher in self.to.remove(&id).unwrap_or_default() {
            if let Some(subs) = self.of.get_mut(&publisher) {
                subs.remove(&id);
                if subs.is_empty() {
                    self.of.remove(&publisher);
                }
            }
        }
        for subscriber in self.of.remove(&id).unwrap_or_default() {
            if let Some(pubs) = self.to.get_mut(&subscriber) {
                pubs.remove(&id);
                if pubs.is_empty() {
                    self.to.remove(&subscriber);
                }
            }
        }
    }
}

impl<M> Clone for MessageBus<M> {
    fn clone(&self) -> Self {
        MessageBus {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<M> fmt::Debug for MessageBus<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let boxes = self
            .inner
            .boxes
            .read()
            .map(|b| b.len())
            .unwrap_or_else(|p| p.into_inner().len());
        f.debug_struct("MessageBus")
            .field("capacity", &self.inner.capacity)
            .field("mailboxes", &boxes)
            .finish_non_exhaustive()
    }
}

impl<M> MessageBus<M> {
    /// A bus whose mailboxes hold at most `capacity` messages each.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Zero`] for a zero capacity, [`ConfigError::OutOfRange`] above
    /// [`MAX_BUFFER`](crate::stream::MAX_BUFFER) (what a tokio channel can count).
    pub fn new(capacity: usize) -> Result<Self, ConfigError> {
        if capacity == 0 {
            return Err(ConfigError::Zero {
                setting: "mailbox capacity",
            });
        }
        let max = crate::stream::MAX_BUFFER as u64;
        ConfigError::check_range("mailbox capacity", capacity as u64, 1, max)?;
        Ok(MessageBus {
            inner: Arc::new(BusInner {
                capacity,
                sequence: AtomicU64::new(0),
                boxes: RwLock::new(HashMap::new()),
                subscribers: RwLock::new(Subscriptions::default()),
            }),
        })
    }

    /// Gives task `id` its mailbox.
    ///
    /// # Errors
    ///
    /// [`MessageError::DuplicateMailbox`] when `id` has one already.
    pub fn mailbox(&self, id: TaskId) -> Result<Mailbox<M>, MessageError> {
        let (tx, rx) = mpsc::channel(self.inner.capacity);
        let mut boxes = self
            .inner
            .boxes
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if boxes.contains_key(&id) {
            return Err(MessageError::DuplicateMailbox(id));
        }
        boxes.insert(id, tx);
        Ok(Mailbox {
            outbox: Outbox {
                id,
                bus: self.clone(),
            },
            rx,
            #[cfg(feature = "encryption")]
            opened: None,
        })
    }

    /// `subscriber` receives every message `publisher` broadcasts (constant time; a
    /// second call changes nothing). The subscription ends when either mailbox leaves.
    pub fn subscribe(&self, subscriber: TaskId, publisher: TaskId) {
        self.subscriptions().add(subscriber, publisher);
    }

    /// `subscriber` no longer receives what `publisher` broadcasts.
    pub fn unsubscribe(&self, subscriber: TaskId, publisher: TaskId) {
        self.subscriptions().remove(subscriber, publisher);
    }

    fn subscriptions(&self) -> std::sync::RwLockWriteGuard<'_, Subscriptions> {
        self.inner
            .subscribers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn next_sequence(&self) -> u64 {
        self.inner.sequence.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn sender(&self, to: TaskId) -> Result<mpsc::Sender<Envelope<M>>, MessageError> {
        self.inner
            .boxes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&to)
            .cloned()
            .ok_or(MessageError::UnknownRecipient(to))
    }

    pub(crate) fn subscribers_of(&self, publisher: TaskId) -> Vec<TaskId> {
        self.inner
            .subscribers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .of
            .get(&publisher)
            .map(|subs| subs.iter().copied().collect())
            .unwrap_or_default()
    }

    fn leave(&self, id: TaskId) {
        self.inner
            .boxes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        self.subscriptions().forget(id);
    }
}

/// The sending half of a task's mailbox: its identity on the bus. Cheap to clone and
/// move into other tasks.
pub struct Outbox<M> {
    pub(crate) id: TaskId,
    pub(crate) bus: MessageBus<M>,
}

impl<M> Clone for Outbox<M> {
    fn clone(&self) -> Self {
        Outbox {
            id: self.id,
            bus: self.bus.clone(),
        }
    }
}

impl<M> Outbox<M> {
    /// The task this outbox sends for.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The bus it sends on.
    pub fn bus(&self) -> &MessageBus<M> {
        &self.bus
    }
}

impl<M> fmt::Debug for Outbox<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox").field("id", &self.id).finish()
    }
}

/// A task's place on a [`MessageBus`]: a bounded inbox, and an identity to send with.
///
/// Dropping it leaves the bus: later sends to it fail with [`MessageError::Closed`] or
/// [`MessageError::UnknownRecipient`], never silently.
pub struct Mailbox<M> {
    outbox: Outbox<M>,
    rx: mpsc::Receiver<Envelope<M>>,
    /// Sequence numbers of the sealed envelopes opened here (made on first use).
    #[cfg(feature = "encryption")]
    opened: Option<Box<crate::message::cipher::ReplayWindow>>,
}

impl<M> Mailbox<M> {
    /// The task this mailbox belongs to.
    pub fn id(&self) -> TaskId {
        self.outbox.id
    }

    /// The sending half, to move into other tasks.
    pub fn outbox(&self) -> Outbox<M> {
        self.outbox.clone()
    }

    /// Receives every message `publisher` broadcasts from now on.
    pub fn subscribe_to(&self, publisher: TaskId) {
        self.outbox.bus.subscribe(self.outbox.id, publisher);
    }

    /// The next message; `None` once every sender is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future never loses a message.
    pub async fn recv(&mut self) -> Option<Envelope<M>> {
        self.rx.recv().await
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<Envelope<M>> {
        self.rx.try_recv().ok()
    }

    /// Opens a sealed envelope received here: checks that it was sealed for this
    /// mailbox's task and not opened before, then decrypts and authenticates it (feature
    /// `encryption`).
    ///
    /// Replays are caught by sequence number (the bus numbers every message): an envelope
    /// already opened here, or older than the last
    /// [`REPLAY_WINDOW`](crate::message::REPLAY_WINDOW) messages of the bus seen here, is
    /// refused.
    ///
    /// # Errors
    ///
    /// [`MessageError::NotSealed`] for a plain envelope (anyone reaching the mailbox
    /// could have forged it), [`MessageError::WrongRecipient`],
    /// [`MessageError::Replayed`], [`MessageError::Tampered`] (changed, or wrong key),
    /// [`MessageError::Codec`].
    #[cfg(feature = "encryption")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
    pub fn open(
        &mut self,
        envelope: Envelope<M>,
        cipher: &crate::message::MessageCipher,
    ) -> Result<Envelope<M>, MessageError>
    where
        M: for<'de> serde::Deserialize<'de>,
    {
        if !envelope.is_sealed() {
            return Err(MessageError::NotSealed);
        }
        if envelope.recipient != Some(self.id()) {
            return Err(MessageError::WrongRecipient {
                sealed_for: envelope.recipient,
            });
        }
        let (sender, sequence) = (envelope.sender, envelope.sequence);
        let window = self.opened.get_or_insert_with(Box::default);
        if window.seen(sequence) {
            return Err(MessageError::Replayed { sender, sequence });
        }
        // Marked only once authentic: a forged envelope cannot burn a sequence number.
        let opened = cipher.open(envelope)?;
        window.mark(sequence);
        Ok(opened)
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// `true` when no message waits.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

impl<M> Drop for Mailbox<M> {
    fn drop(&mut self) {
        self.outbox.bus.leave(self.outbox.id);
    }
}

impl<M> fmt::Debug for Mailbox<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("id", &self.outbox.id)
            .field("waiting", &self.rx.len())
            .finish()
    }
}

/// What a broadcast reached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BroadcastReport {
    /// Subscribers the message was delivered to.
    pub delivered: usize,
    /// Subscribers whose mailbox closed while the broadcast went out (not delivered);
    /// they are unsubscribed. A mailbox that is dropped unsubscribes itself at once.
    pub closed: Vec<TaskId>,
}
