//! Typed messages between tasks: envelopes with sender, timestamp and correlation id,
//! carried over bounded channels.
//!
//! A [`MessageBus`] hands each task a [`Mailbox`] (its bounded inbox and its identity).
//! [`MessageBuilderExt::message`] on a mailbox (or on an [`Outbox`], its cloneable
//! sending half) starts a [`TaskMessageBuilder`]; a kind method (`data`, `status`,
//! `error`, `cancel_request`, `cancel_ack`, `completed`, `heartbeat`, `custom`) builds the
//! [`Envelope`], which is then sent to one task ([`Message::send_to`]) or to every
//! subscriber of the sender ([`Message::broadcast`]). Sends wait for room in the
//! recipient's bounded inbox: a slow consumer slows its producers instead of growing a
//! queue.
//!
//! With the `encryption` feature, [`Message::seal`] encrypts and authenticates the body
//! with XChaCha20-Poly1305 for each recipient as it is sent (the header, recipient and
//! sequence number included, are authenticated too). The recipient opens it with
//! `Mailbox::open`, which refuses a plain (forgeable) envelope, one sealed for another
//! task, a replay, and a tampered one ([`MessageError::Tampered`]); generated keys are
//! wiped from memory when dropped.

mod builder;
mod bus;
#[cfg(feature = "encryption")]
mod cipher;
mod envelope;

pub use builder::{Message, MessageBuilderExt, TaskMessageBuilder};
pub use bus::{BroadcastReport, Mailbox, MessageBus, MessageError, Outbox};
#[cfg(feature = "encryption")]
#[cfg_attr(docsrs, doc(cfg(feature = "encryption")))]
pub use cipher::{MessageCipher, REPLAY_WINDOW, Sealed};
pub use envelope::{Envelope, MessageKind};
