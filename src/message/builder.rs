//! [`TaskMessageBuilder`] and [`MessageBuilderExt`]: `task.message().data(x).send_to(id)`.

use std::fmt;
use std::sync::Arc;

use crate::message::envelope::{local_hostname, now_ns};
use crate::message::{
    BroadcastReport, Envelope, Mailbox, MessageBus, MessageError, MessageKind, Outbox,
};
use crate::task::{CancellationLevel, TaskId, TaskStatus};

/// `task.message()`: starts a message from a task's mailbox or outbox.
pub trait MessageBuilderExt<M> {
    /// A builder for a message sent by this task (its id is the sender).
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::message::{MessageBuilderExt, MessageBus, MessageKind};
    /// use sweet_async::prelude::*;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let bus = MessageBus::<String>::new(8)?;
    /// let trainer = bus.mailbox(TaskId::new())?;
    /// let mut monitor = bus.mailbox(TaskId::new())?;
    /// monitor.subscribe_to(trainer.id());
    ///
    /// let report = trainer
    ///     .message()
    ///     .correlation_id("training-job-42")
    ///     .status(TaskStatus::Running)
    ///     .broadcast()
    ///     .await?;
    /// assert_eq!(report.delivered, 1);
    /// let got = monitor.recv().await.unwrap();
    /// assert_eq!(got.kind, MessageKind::Status(TaskStatus::Running));
    /// # Ok(())
    /// # }
    /// ```
    fn message(&self) -> TaskMessageBuilder<M>;
}

impl<M> MessageBuilderExt<M> for Mailbox<M> {
    fn message(&self) -> TaskMessageBuilder<M> {
        self.outbox().message()
    }
}

impl<M> MessageBuilderExt<M> for Outbox<M> {
    fn message(&self) -> TaskMessageBuilder<M> {
        TaskMessageBuilder {
            sender: self.id,
            bus: self.bus.clone(),
            hostname: None,
            correlation_id: None,
        }
    }
}

/// Builds one message: optional hostname and correlation id, then a kind method.
#[must_use = "a message builder does nothing until a kind is chosen and the message sent"]
pub struct TaskMessageBuilder<M> {
    sender: TaskId,
    bus: MessageBus<M>,
    hostname: Option<Arc<str>>,
    correlation_id: Option<Arc<str>>,
}

impl<M> TaskMessageBuilder<M> {
    /// Sets the origin host (default: `$HOSTNAME`, `/etc/hostname`, or `localhost`).
    pub fn hostname(mut self, host: impl Into<Arc<str>>) -> Self {
        self.hostname = Some(host.into());
        self
    }

    /// Sets the correlation id tying this message to a request or job.
    pub fn correlation_id(mut self, id: impl Into<Arc<str>>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    fn build(self, kind: MessageKind<M>) -> Message<M> {
        let envelope = Envelope {
            sender: self.sender,
            recipient: None,
            timestamp_ns: now_ns(),
            sequence: self.bus.next_sequence(),
            correlation_id: self.correlation_id,
            hostname: self.hostname.unwrap_or_else(local_hostname),
            kind,
        };
        Message::new(envelope, self.bus)
    }

    /// A message carrying `payload`.
    pub fn data(self, payload: M) -> Message<M> {
        self.build(MessageKind::Data(payload))
    }

    /// A status update.
    pub fn status(self, status: TaskStatus) -> Message<M> {
        self.build(MessageKind::Status(status))
    }

    /// An error report (the error's text).
    pub fn error(self, error: impl fmt::Display) -> Message<M> {
        self.build(MessageKind::Error(error.to_string()))
    }

    /// A request to cancel at `level`.
    pub fn cancel_request(self, level: CancellationLevel) -> Message<M> {
        self.build(MessageKind::CancelRequest(level))
    }

    /// An acknowledgement of a cancel request.
    pub fn cancel_ack(self) -> Message<M> {
        self.build(MessageKind::CancelAck)
    }

    /// A completion notice.
    pub fn completed(self) -> Message<M> {
        self.build(MessageKind::Completed)
    }

    /// A liveness signal.
    pub fn heartbeat(self) -> Message<M> {
        self.build(MessageKind::Heartbeat)
    }

    /// An application-defined message.
    pub fn custom(self, tag: impl Into<Arc<str>>, bytes: impl Into<Vec<u8>>) -> Message<M> {
        self.build(MessageKind::Custom {
            tag: tag.into(),
            bytes: bytes.into(),
        })
    }
}

impl<M> fmt::Debug for TaskMessageBuilder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskMessageBuilder")
            .field("sender", &self.sender)
            .field("hostname", &self.hostname)
            .field("correlation_id", &self.correlation_id)
            .finish_non_exhaustive()
    }
}

/// A built message, ready to send.
#[must_use = "a message does nothing until it is sent"]
pub struct Message<M> {
    envelope: Envelope<M>,
    bus: MessageBus<M>,
    /// Set by `seal`: the cipher and the serialized body, encrypted for each recipient
    /// when the message is sent (so the recipient is bound into it).
    #[cfg(feature = "encryption")]
    sealing: Option<(crate::message::MessageCipher, Vec<u8>)>,
}

impl<M> Message<M> {
    pub(crate) fn new(envelope: Envelope<M>, bus: MessageBus<M>) -> Self {
        Message {
            envelope,
            bus,
            #[cfg(feature = "encryption")]
            sealing: None,
        }
    }

    /// The envelope that will be sent (before sealing, if sealed: it is encrypted for
    /// each recipient as it is sent).
    pub fn envelope(&self) -> &Envelope<M> {
        &self.envelope
    }

    /// The envelope, without sending it; a sealed message is sealed for no particular
    /// recipient (a mailbox's `open` refuses it: only `Envelope::open` reads it).
    pub fn into_envelope(self) -> Envelope<M> {
        #[cfg(feature = "encryption")]
        if let Some((cipher, body)) = &self.sealing {
            return cipher.seal_unaddressed(self.envelope, body);
        }
        self.envelope
    }

    /// The envelope addressed to `to`, sealed for it if the message is sealed.
    fn addressed(&self, envelope: Envelope<M>, to: TaskId) -> Result<Envelope<M>, MessageError> {
        let envelope = Envelope {
            recipient: Some(to),
            ..envelope
        };
        #[cfg(feature = "encryption")]
        if let Some((cipher, body)) = &self.sealing {
            return cipher.seal_body(envelope, body);
        }
        Ok(envelope)
    }

    /// The envelope addressed (and sealed) for `to`.
    fn into_addressed(self, to: TaskId) -> Result<Envelope<M>, MessageError> {
        let envelope = Envelope {
            recipient: Some(to),
            ..self.envelope
        };
        #[cfg(feature = "encryption")]
        if let Some((cipher, body)) = &self.sealing {
            return cipher.seal_body(envelope, body);
        }
        Ok(envelope)
    }

    /// Sends to task `to`, waiting while its inbox is full.
    ///
    /// # Errors
    ///
    /// [`MessageError::UnknownRecipient`] or [`MessageError::Closed`]; the message is
    /// not delivered.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops the message unsent.
    pub async fn send_to(self, to: TaskId) -> Result<(), MessageError> {
        let tx = self.bus.sender(to)?;
        let envelope = self.into_addressed(to)?;
        tx.send(envelope)
            .await
            .map_err(|_| MessageError::Closed(to))
    }

    /// Sends to task `to` only if its inbox has room now.
    ///
    /// # Errors
    ///
    /// [`MessageError::Full`], [`MessageError::UnknownRecipient`],
    /// [`MessageError::Closed`].
    pub fn try_send_to(self, to: TaskId) -> Result<(), MessageError> {
        let tx = self.bus.sender(to)?;
        let envelope = self.into_addressed(to)?;
        tx.try_send(envelope).map_err(|e| match e {
            tokio::sync::mpsc::error::TrySendError::Full(_) => MessageError::Full(to),
            tokio::sync::mpsc::error::TrySendError::Closed(_) => MessageError::Closed(to),
        })
    }

    /// Sends a copy to every subscriber of the sender, each addressed (and, if sealed,
    /// sealed) for its subscriber. The copies go out at once: each waits for room in its
    /// own inbox only, so one full inbox never holds up the others. Subscribers whose
    /// mailbox is gone are listed in the report and unsubscribed.
    ///
    /// # Errors
    ///
    /// [`MessageError::Codec`] if sealing a copy fails.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes may leave some subscribers without
    /// their copy.
    pub async fn broadcast(self) -> Result<BroadcastReport, MessageError>
    where
        M: Clone,
    {
        let sender = self.envelope.sender;
        let mut sends = Vec::new();
        let mut report = BroadcastReport::default();
        for sub in self.bus.subscribers_of(sender) {
            match self.bus.sender(sub) {
                Ok(tx) => {
                    let copy = self.addressed(self.envelope.clone(), sub)?;
                    sends.push(async move { (sub, tx.send(copy).await.is_ok()) });
                }
                Err(_) => report.closed.push(sub),
            }
        }
        for (sub, sent) in futures::future::join_all(sends).await {
            if sent {
                report.delivered = report.delivered.saturating_add(1);
            } else {
                report.closed.push(sub);
            }
        }
        for gone in &report.closed {
            self.bus.unsubscribe(*gone, sender);
        }
        Ok(report)
    }

    /// Encrypts and authenticates the body with `cipher` (feature `encryption`) when the
    /// message is sent, for its recipient: the header (sender, recipient, timestamp,
    /// sequence, correlation id, hostname) is authenticated too, so a sealed envelope
    /// cannot be re-addressed, and its sequence lets [`Mailbox::open`] refuse a replay.
    /// The recipient calls [`Mailbox::open`] (or [`Envelope::open`], which checks neither
    /// the recipient nor replays).
    ///
    /// # Errors
    ///
    /// [`MessageError::Codec`] when the payload cannot be serialized.
    #[cfg(feature = "encryption")]
    #[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
    #[doc(alias = "encrypt")]
    pub fn seal(self, cipher: &crate::message::MessageCipher) -> Result<Message<M>, MessageError>
    where
        M: serde::Serialize,
    {
        let body = crate::message::MessageCipher::body(&self.envelope)?;
        Ok(Message {
            sealing: body.map(|body| (cipher.clone(), body)),
            ..self
        })
    }
}

impl<M: fmt::Debug> fmt::Debug for Message<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("envelope", &self.envelope)
            .finish_non_exhaustive()
    }
}
