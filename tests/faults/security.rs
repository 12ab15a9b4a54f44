//! Inputs crafted by an attacker: ids chosen to collide in a weak hash, forged and
//! replayed messages, a subscriber that never reads.

use std::cell::Cell;
use std::fmt;
use std::hash::{Hash, Hasher};

use sweet_async::orchestra::TaskRelationships;

thread_local! {
    static COMPARISONS: Cell<u64> = const { Cell::new(0) };
}

/// An id whose comparisons are counted: the work a hash map does per lookup.
#[derive(Debug, Clone)]
struct Counted(u64);

impl PartialEq for Counted {
    fn eq(&self, other: &Self) -> bool {
        COMPARISONS.with(|c| c.set(c.get() + 1));
        self.0 == other.0
    }
}

impl Eq for Counted {}

impl Hash for Counted {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Ids that all land in the same bucket with the same tag under FxHash (rustc-hash 2):
/// `c * K^-1` hashes to `rotate_left(c, 26)`, whose low 26 bits and top 7 bits are 0
/// for `c < 2^31`.
fn crafted(n: u64) -> impl Iterator<Item = Counted> {
    const K_INVERSE: u64 = 0x7814_94a5_5daa_ed0d;
    (1..=n).map(|c| Counted(c.wrapping_mul(K_INVERSE)))
}

#[test]
fn crafted_ids_do_not_degrade_the_relationship_index() {
    const N: u64 = 5_000;
    let mut rel: TaskRelationships<Counted> = TaskRelationships::new();
    COMPARISONS.with(|c| c.set(0));
    for id in crafted(N) {
        assert!(rel.add_task(id));
    }
    for id in crafted(N) {
        assert!(rel.contains(&id));
    }
    // Flat: about one comparison per insert and per lookup. FxHash needed N^2 / 2
    // (12.5 M here; 100k ids took 32.6 s against 69 ms).
    let comparisons = COMPARISONS.with(Cell::get);
    assert!(
        comparisons < 4 * 2 * N,
        "{comparisons} comparisons for {N} ids"
    );
}

#[test]
fn crafted_keys_do_not_degrade_a_join() {
    use futures::{StreamExt, stream};
    use sweet_async::operators::DataflowExt;
    use sweet_async::operators::join::RegularJoinSpec;
    use sweet_async::operators::timed::Timed;

    const N: u64 = 2_000;
    let side = || stream::iter(crafted(N).map(|k| Timed::item(0, k)));
    let join = side()
        .join(side())
        .on(|k: &Counted| k.clone(), |k: &Counted| k.clone())
        .regular(RegularJoinSpec::new(), |a: &Counted, _: &Counted| a.0)
        .unwrap();
    COMPARISONS.with(|c| c.set(0));
    let joined = futures::executor::block_on(join.count());
    assert_eq!(joined as u64, N);
    // Flat: a few comparisons per insert and per probe. FxHash needed N^2 / 2 per side
    // (4 M here).
    let comparisons = COMPARISONS.with(Cell::get);
    assert!(
        comparisons < 4 * 2 * N,
        "{comparisons} comparisons for {N} keys"
    );
}

#[test]
fn crafted_keys_do_not_land_in_one_partition() {
    use sweet_async::operators::partition::partition_of;

    // Under FxHash every one of these hashed to a multiple of 2^26: all in partition 0.
    let first = crafted(1_000).filter(|k| partition_of(k, 2) == 0).count();
    assert!(
        (300..=700).contains(&first),
        "{first} of 1000 in partition 0"
    );
}

mod messages {
    use std::time::Duration;

    use sweet_async::message::{MessageBuilderExt, MessageBus};
    use sweet_async::task::TaskId;

    #[tokio::test]
    async fn a_broadcast_is_not_held_up_by_one_full_subscriber() {
        let bus = MessageBus::<u32>::new(1).unwrap();
        let publisher = bus.mailbox(TaskId::new()).unwrap();
        let slow = bus.mailbox(TaskId::new()).unwrap(); // never reads
        let mut fast = bus.mailbox(TaskId::new()).unwrap();
        slow.subscribe_to(publisher.id());
        fast.subscribe_to(publisher.id());
        publisher.message().data(1).broadcast().await.unwrap();
        assert_eq!(fast.recv().await.unwrap().into_data(), Some(1));
        // `slow` is full now: the next broadcast still reaches `fast` at once.
        let outbox = publisher.outbox();
        let pending = tokio::spawn(async move { outbox.message().data(2).broadcast().await });
        let got = tokio::time::timeout(Duration::from_secs(5), fast.recv()).await;
        assert_eq!(got.unwrap().unwrap().into_data(), Some(2));
        pending.abort();
    }

    #[tokio::test]
    async fn a_mailbox_that_leaves_is_unsubscribed() {
        let bus = MessageBus::<u32>::new(4).unwrap();
        let publisher = bus.mailbox(TaskId::new()).unwrap();
        let gone = bus.mailbox(TaskId::new()).unwrap();
        gone.subscribe_to(publisher.id());
        gone.subscribe_to(publisher.id()); // twice: one subscription
        drop(gone);
        let report = publisher.message().data(1).broadcast().await.unwrap();
        // Pruned when it left: not even reported as closed, every time, forever.
        assert_eq!((report.delivered, report.closed.len()), (0, 0));
    }

    #[cfg(feature = "encryption")]
    mod sealed {
        use sweet_async::message::{MessageBuilderExt, MessageBus, MessageCipher, MessageError};
        use sweet_async::task::TaskId;

        #[tokio::test]
        async fn forged_readdressed_and_replayed_envelopes_are_refused() {
            let (cipher, key) = MessageCipher::generate();
            let key_bytes: [u8; 32] = *key; // a `Zeroizing` wrapper, wiped when dropped
            let receiver_cipher = MessageCipher::new(key_bytes);
            let bus = MessageBus::<String>::new(8).unwrap();
            let sender = bus.mailbox(TaskId::new()).unwrap();
            let mut alice = bus.mailbox(TaskId::new()).unwrap();
            let mut bob = bus.mailbox(TaskId::new()).unwrap();

            // A forged plain message: `open` used to hand back its plaintext.
            sender
                .message()
                .data("pay mallory".into())
                .send_to(alice.id())
                .await
                .unwrap();
            let forged = alice.recv().await.unwrap();
            assert_eq!(
                forged.clone().open(&receiver_cipher),
                Err(MessageError::NotSealed)
            );
            assert_eq!(
                alice.open(forged, &receiver_cipher),
                Err(MessageError::NotSealed)
            );

            // Sealed for alice: opens once.
            let msg = sender
                .message()
                .data("for alice".into())
                .seal(&cipher)
                .unwrap();
            msg.send_to(alice.id()).await.unwrap();
            let sealed = alice.recv().await.unwrap();
            let opened = alice.open(sealed.clone(), &receiver_cipher).unwrap();
            assert_eq!(opened.into_data().as_deref(), Some("for alice"));
            // A replay of the same envelope is refused.
            assert!(matches!(
                alice.open(sealed.clone(), &receiver_cipher),
                Err(MessageError::Replayed { .. })
            ));
            // Delivered to bob as it is: not his.
            assert!(matches!(
                bob.open(sealed.clone(), &receiver_cipher),
                Err(MessageError::WrongRecipient { .. })
            ));
            // Re-addressed to bob: the recipient is authenticated.
            let mut readdressed = sealed;
            readdressed.recipient = Some(bob.id());
            assert_eq!(
                bob.open(readdressed, &receiver_cipher),
                Err(MessageError::Tampered)
            );
        }
    }
}
