//! Fan-out: one timed stream, several branches, watermarks to all, bounded queues.

use futures::{FutureExt, StreamExt, stream};
use sweet_async::error::ConfigError;
use sweet_async::operators::DataflowExt;
use sweet_async::operators::timed::Timed;

fn w(x: i64) -> Timed<i64> {
    Timed::Watermark(x)
}

fn i(x: i64) -> Timed<i64> {
    Timed::item(x, x)
}

#[test]
fn routes_elements_and_broadcasts_watermarks() {
    let [mut a, mut b, mut c] = stream::iter([1i64, 2, 3, 4, 5, 6])
        .with_watermarks(0, |x| *x)
        .unwrap()
        .fan_out(64, |x| (*x % 4) as usize) // 3 % 4 = 3: no branch
        .unwrap();
    let (va, vb, vc) = futures::executor::block_on(async {
        futures::join!(
            (&mut a).collect::<Vec<_>>(),
            (&mut b).collect::<Vec<_>>(),
            (&mut c).collect::<Vec<_>>()
        )
    });
    assert_eq!(va, vec![w(0), w(1), w(2), i(4), w(3), w(4), w(5)]);
    assert_eq!(vb, vec![i(1), w(0), w(1), w(2), w(3), i(5), w(4), w(5)]);
    assert_eq!(vc, vec![w(0), i(2), w(1), w(2), w(3), w(4), i(6), w(5)]);
    assert_eq!(a.unrouted(), 1);
    assert_eq!((a.index(), c.index()), (0, 2));
}

#[test]
fn a_full_branch_holds_back_the_others() {
    let [mut a, mut b] = stream::iter((0..10i64).map(i)).fan_out(2, |_| 1).unwrap();
    // a pulls for b until b's queue holds 2, then waits for b.
    assert_eq!(a.next().now_or_never(), None);
    assert_eq!(b.next().now_or_never(), Some(Some(i(0))));
    assert_eq!(b.next().now_or_never(), Some(Some(i(1))));
    let rest: Vec<Timed<i64>> = futures::executor::block_on((&mut b).collect());
    assert_eq!(rest, (2..10).map(i).collect::<Vec<_>>());
    assert_eq!(futures::executor::block_on(a.next()), None);
}

#[test]
fn a_dropped_branch_does_not_block_the_others() {
    let [a, b] = stream::iter((0..100i64).map(i))
        .fan_out(2, |x| (*x % 2) as usize)
        .unwrap();
    drop(a);
    let odds: Vec<Timed<i64>> = futures::executor::block_on(b.collect());
    assert_eq!(
        odds,
        (0..100).filter(|x| x % 2 == 1).map(i).collect::<Vec<_>>()
    );
}

#[test]
fn zero_capacity_or_branches_is_a_config_error() {
    let s = || stream::iter(Vec::<Timed<i64>>::new());
    assert_eq!(
        s().fan_out::<2, _>(0, |_| 0).err().map(|e| e.to_string()),
        Some(
            ConfigError::Zero {
                setting: "fan-out capacity"
            }
            .to_string()
        )
    );
    assert!(s().fan_out::<0, _>(4, |_| 0).is_err());
}
