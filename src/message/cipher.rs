//! Sealed messages (feature `encryption`): XChaCha20-Poly1305 over a postcard body, with
//! the envelope header as associated data.

use std::fmt;
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::message::{Envelope, MessageError, MessageKind};
use crate::task::{CancellationLevel, TaskStatus};

/// A symmetric key for sealing and opening messages (XChaCha20-Poly1305, 256-bit).
///
/// Its `Debug` output never shows the key.
#[derive(Clone)]
pub struct MessageCipher {
    aead: Arc<XChaCha20Poly1305>,
}

impl MessageCipher {
    /// A cipher from a 32-byte key shared by sender and recipient.
    pub fn new(key: [u8; 32]) -> Self {
        let mut key = key;
        let aead = XChaCha20Poly1305::new(&key.into());
        // This copy is wiped; the cipher wipes its own key when dropped.
        key.zeroize();
        MessageCipher {
            aead: Arc::new(aead),
        }
    }

    /// A cipher with a fresh random key from the operating system, and the key.
    pub fn generate() -> (Self, Zeroizing<[u8; 32]>) {
        let mut key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let bytes = Zeroizing::new(<[u8; 32]>::from(key));
        key.zeroize();
        (MessageCipher::new(*bytes), bytes)
    }

    /// The serialized body of `env`, to be encrypted for each recipient at send time.
    pub(crate) fn body<M: Serialize>(env: &Envelope<M>) -> Result<Option<Vec<u8>>, MessageError> {
        match &env.kind {
            MessageKind::Sealed(_) => Ok(None),
            kind => postcard::to_allocvec(&Wire::from_kind(kind))
                .map(Some)
                .map_err(|e| MessageError::Codec(e.to_string())),
        }
    }

    /// `env` with `body` encrypted, authenticated with its header (recipient and
    /// sequence included).
    pub(crate) fn seal_body<M>(
        &self,
        env: Envelope<M>,
        body: &[u8],
    ) -> Result<Envelope<M>, MessageError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = header(&env);
        let ciphertext = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: body,
                    aad: &aad,
                },
            )
            .map_err(|_| MessageError::Codec("encryption failed".to_owned()))?;
        Ok(Envelope {
            kind: MessageKind::Sealed(Sealed {
                nonce: nonce.into(),
                ciphertext,
            }),
            ..env
        })
    }

    /// `env` sealed as it is (no recipient). The AEAD fails only for bodies beyond 256
    /// GiB; then the envelope carries an empty ciphertext that never opens (never the
    /// plaintext).
    pub(crate) fn seal_unaddressed<M>(&self, env: Envelope<M>, body: &[u8]) -> Envelope<M> {
        let (sender, timestamp_ns, sequence) = (env.sender, env.timestamp_ns, env.sequence);
        let (correlation_id, hostname) = (env.correlation_id.clone(), env.hostname.clone());
        self.seal_body(env, body).unwrap_or_else(|_| Envelope {
            sender,
            recipient: None,
            timestamp_ns,
            sequence,
            correlation_id,
            hostname,
            kind: MessageKind::Sealed(Sealed {
                nonce: [0; 24],
                ciphertext: Vec::new(),
            }),
        })
    }

    pub(crate) fn open<M: for<'de> Deserialize<'de>>(
        &self,
        env: Envelope<M>,
    ) -> Result<Envelope<M>, MessageError> {
        let MessageKind::Sealed(sealed) = &env.kind else {
            // A plain envelope proves nothing: whoever can reach the mailbox forged it.
            return Err(MessageError::NotSealed);
        };
        let aad = header(&env);
        let nonce = XNonce::from(sealed.nonce);
        let body = self
            .aead
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| MessageError::Tampered)?;
        let wire: Wire<M> =
            postcard::from_bytes(&body).map_err(|e| MessageError::Codec(e.to_string()))?;
        Ok(Envelope {
            kind: wire.into_kind()?,
            ..env
        })
    }
}

impl fmt::Debug for MessageCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageCipher { key: <redacted> }")
    }
}

/// An encrypted message body: nonce and ciphertext (with its authentication tag).
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The 24-byte XChaCha20 nonce, random per message.
    pub nonce: [u8; 24],
    /// The encrypted body followed by the 16-byte Poly1305 tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

impl<M: for<'de> Deserialize<'de>> Envelope<M> {
    /// Decrypts and authenticates a sealed envelope (an unsealed one is returned as is).
    ///
    /// # Errors
    ///
    /// [`MessageError::Tampered`] when the header or body was changed in transit, or
    /// the key is wrong; [`MessageError::Codec`] for a body that is not a message.
    ///
    /// # Examples
    ///
    /// ```
    /// use sweet_async::message::{MessageBuilderExt, MessageBus, MessageCipher, MessageError};
    /// use sweet_async::task::TaskId;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (cipher, _key) = MessageCipher::generate();
    /// let bus = MessageBus::<String>::new(4)?;
    /// let processor = bus.mailbox(TaskId::new())?;
    /// let mut analytics = bus.mailbox(TaskId::new())?;
    /// processor
    ///     .message()
    ///     .data("customer 4711: card ending 1234".to_owned())
    ///     .seal(&cipher)?
    ///     .send_to(analytics.id())
    ///     .await?;
    ///
    /// let sealed = analytics.recv().await.unwrap();
    /// assert!(sealed.is_sealed() && sealed.data().is_none());
    /// let mut forged = sealed.clone();
    /// forged.correlation_id = Some("forged".into());
    /// assert_eq!(forged.open(&cipher).unwrap_err(), MessageError::Tampered);
    /// let opened = sealed.open(&cipher)?;
    /// assert_eq!(opened.data().map(String::as_str), Some("customer 4711: card ending 1234"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn open(self, cipher: &MessageCipher) -> Result<Envelope<M>, MessageError> {
        cipher.open(self)
    }
}

/// The header bytes authenticated with the body: fixed-width fields, then the two
/// strings, each prefixed by its length (u64 little-endian) so no two headers collide.
fn header<M>(env: &Envelope<M>) -> Vec<u8> {
    let corr = env.correlation_id.as_deref().unwrap_or("");
    let has_corr = u8::from(env.correlation_id.is_some());
    // Only a capacity hint: saturating, so absurd lengths cannot overflow it.
    let fixed: usize = 16 + 17 + 8 + 8 + 1 + 16;
    let mut out = Vec::with_capacity(
        fixed
            .saturating_add(corr.len())
            .saturating_add(env.hostname.len()),
    );
    out.extend_from_slice(env.sender.as_bytes());
    // Bound to its recipient: a sealed envelope re-addressed to another task fails.
    match env.recipient {
        Some(to) => {
            out.push(1);
            out.extend_from_slice(to.as_bytes());
        }
        None => out.push(0),
    }
    out.extend_from_slice(&env.timestamp_ns.to_le_bytes());
    out.extend_from_slice(&env.sequence.to_le_bytes());
    out.push(has_corr);
    for s in [corr, &*env.hostname] {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out
}

/// The serialized form of a message kind (status and levels as their numbers).
#[derive(Serialize, Deserialize)]
enum Wire<M> {
    Data(M),
    Status(u8),
    Error(String),
    CancelRequest(u8),
    CancelAck,
    Completed,
    Heartbeat,
    Custom(String, Vec<u8>),
}

impl<M: Serialize> Wire<&M> {
    fn from_kind(kind: &MessageKind<M>) -> Wire<&M> {
        match kind {
            MessageKind::Data(m) => Wire::Data(m),
            MessageKind::Status(s) => Wire::Status(*s as u8),
            MessageKind::Error(e) => Wire::Error(e.clone()),
            MessageKind::CancelRequest(l) => Wire::CancelRequest(match l {
                CancellationLevel::Graceful => 1,
                CancellationLevel::Kill => 2,
                CancellationLevel::KillHard => 3,
            }),
            MessageKind::CancelAck => Wire::CancelAck,
            MessageKind::Completed => Wire::Completed,
            MessageKind::Heartbeat => Wire::Heartbeat,
            MessageKind::Custom { tag, bytes } => Wire::Custom(tag.to_string(), bytes.clone()),
            // Sealed kinds are returned before serialization.
            MessageKind::Sealed(_) => Wire::Completed,
        }
    }
}

impl<M> Wire<M> {
    fn into_kind(self) -> Result<MessageKind<M>, MessageError> {
        let bad = |what: &str, v: u8| MessageError::Codec(format!("unknown {what} {v}"));
        Ok(match self {
            Wire::Data(m) => MessageKind::Data(m),
            Wire::Status(s) => MessageKind::Status(match s {
                0 => TaskStatus::Pending,
                1 => TaskStatus::Running,
                2 => TaskStatus::Completed,
                3 => TaskStatus::Failed,
                4 => TaskStatus::Cancelled,
                v => return Err(bad("status", v)),
            }),
            Wire::Error(e) => MessageKind::Error(e),
            Wire::CancelRequest(l) => MessageKind::CancelRequest(match l {
                1 => CancellationLevel::Graceful,
                2 => CancellationLevel::Kill,
                3 => CancellationLevel::KillHard,
                v => return Err(bad("cancellation level", v)),
            }),
            Wire::CancelAck => MessageKind::CancelAck,
            Wire::Completed => MessageKind::Completed,
            Wire::Heartbeat => MessageKind::Heartbeat,
            Wire::Custom(tag, bytes) => MessageKind::Custom {
                tag: tag.into(),
                bytes,
            },
        })
    }
}

/// How many of the latest sequence numbers a mailbox remembers to refuse replays: an
/// envelope older than that (by bus sequence) is refused as a possible replay.
pub const REPLAY_WINDOW: u64 = 1 << 16;

/// The sequence numbers opened by one mailbox: the highest, and a bitmap of the
/// [`REPLAY_WINDOW`] below it (8 KiB).
pub(crate) struct ReplayWindow {
    /// One past the highest sequence opened (0: none yet).
    top: u64,
    bits: Vec<u64>,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow {
            top: 0,
            bits: vec![0; (REPLAY_WINDOW / 64) as usize],
        }
    }
}

impl ReplayWindow {
    fn slot(&mut self, seq: u64) -> Option<(&mut u64, u64)> {
        // The window has a power-of-two size: `seq % REPLAY_WINDOW` picks the bit.
        let bit = seq % REPLAY_WINDOW;
        let word = self.bits.get_mut(usize::try_from(bit / 64).ok()?)?;
        Some((word, 1u64 << (bit % 64)))
    }

    /// `true` when `seq` was opened already or is too old to tell.
    pub(crate) fn seen(&mut self, seq: u64) -> bool {
        if seq >= self.top {
            return false;
        }
        if self.top.saturating_sub(seq) > REPLAY_WINDOW {
            return true;
        }
        self.slot(seq).is_none_or(|(word, mask)| *word & mask != 0)
    }

    /// Marks `seq` opened (after [`seen`](Self::seen) said it was not).
    pub(crate) fn mark(&mut self, seq: u64) {
        let next = seq.saturating_add(1);
        if next > self.top {
            // Clear the bits of the sequences skipped over (they are new), at most the
            // whole window.
            let skipped = next.saturating_sub(self.top).min(REPLAY_WINDOW);
            for s in next.saturating_sub(skipped)..next {
                if let Some((word, mask)) = self.slot(s) {
                    *word &= !mask;
                }
            }
            self.top = next;
        }
        if let Some((word, mask)) = self.slot(seq) {
            *word |= mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_window_takes_each_sequence_once_in_any_order() {
        let mut w = ReplayWindow::default();
        for seq in [5, 3, 9, 4, 0] {
            assert!(!w.seen(seq), "{seq} is new");
            w.mark(seq);
        }
        for seq in [5, 3, 9, 4, 0] {
            assert!(w.seen(seq), "{seq} was opened");
        }
        assert!(!w.seen(7) && !w.seen(10) && !w.seen(u64::MAX));
        // Far ahead: the old ones are too old to tell, so refused; the skipped ones are new.
        let far = 9 + REPLAY_WINDOW + 1;
        w.mark(far);
        assert!(w.seen(9) && w.seen(0));
        assert!(!w.seen(far - 1) && w.seen(far));
    }
}
