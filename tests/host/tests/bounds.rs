//! Every counter of the epoch engine at its bound: states that take 2^32 or
//! 2^64 operations to reach are built directly (`epoch::bounds`), and each
//! test checks that the next operation neither panics (the kernel builds
//! with overflow checks: a panic there is under RTNL and the tree lock) nor
//! lets a packet leave before its acknowledgement.

use plug_epoch_host::c_plug::CPlug;
use plug_epoch_host::epoch::{
    default_limit, Command, Options, PlugState, Wake, DEFAULT_TX_QUEUE_LEN, MAX_CLOSED_EPOCHS,
};
use plug_epoch_host::Engine;

fn drain(p: &mut PlugState, queued: &mut u64) -> u64 {
    let mut out = 0;
    while *queued > 0 && p.take_credit() {
        *queued -= 1;
        out += 1;
    }
    out
}

#[test]
fn acks_of_a_merged_epoch_stop_counting_at_u32_max_and_never_release_early() {
    let mut p = PlugState::new(u32::MAX);
    p.fill_closed(5, u32::MAX - 1);
    // One more BUFFER at the bound: the newest epoch would need 2^32
    // acknowledgements (an earlier `acks += 1` panicked here; README R2).
    assert!(p.admit(0, 100));
    assert_eq!(p.apply(Command::Buffer, 69), Wake::No);
    assert_eq!(p.stats().closed_epochs, MAX_CLOSED_EPOCHS as u32);
    assert_eq!(p.stats().closed_packets, 63 + 6);
    // Again: still no overflow.
    assert_eq!(p.apply(Command::Buffer, 69), Wake::No);
    // The 63 older epochs are released one by one...
    let mut queued = 69u64;
    for i in 0..63 {
        assert_eq!(p.apply(Command::ReleaseOne, 0), Wake::Queue, "ack {i}");
        assert_eq!(drain(&mut p, &mut queued), 1);
    }
    // ... then no count of acknowledgements releases the merged one.
    for _ in 0..1000 {
        assert_eq!(p.apply(Command::ReleaseOne, 0), Wake::No);
        assert_eq!(drain(&mut p, &mut queued), 0);
    }
    // Only a release of everything does.
    assert_eq!(p.apply(Command::ReleaseIndefinite, 0), Wake::Queue);
    assert_eq!(drain(&mut p, &mut queued), 6);
}

#[test]
fn merged_epoch_packets_saturate_and_leave_late_not_early() {
    let mut p = PlugState::new(u32::MAX);
    p.fill_closed(u32::MAX - 1, 1);
    for _ in 0..3 {
        assert!(p.admit(0, 1));
    }
    let _ = p.apply(Command::Buffer, 0);
    assert_eq!(p.stats().closed_packets, u32::MAX);
    for _ in 0..63 {
        let _ = p.apply(Command::ReleaseOne, 0);
    }
    let mut queued = u64::from(u32::MAX) + 2;
    let _ = p.apply(Command::ReleaseOne, 0); // not yet: needs two
    assert_eq!(p.stats().release_credits, 63);
    assert_eq!(p.apply(Command::ReleaseOne, 0), Wake::Queue);
    // 63 single-packet epochs, then u32::MAX of the merged one: fewer than
    // the epoch holds, never more (the stats saturate to 32 bits).
    assert_eq!(p.stats().release_credits, u32::MAX);
    p.set_release_credits(2);
    assert_eq!(drain(&mut p, &mut queued), 2);
}

#[test]
fn open_epoch_count_at_u64_max() {
    let mut p = PlugState::new(u32::MAX);
    p.set_current_epoch(u64::MAX - 1);
    assert!(p.admit(0, 1));
    assert_eq!(p.stats().current_epoch, u32::MAX);
    // Closing it saturates to the 32 bits a closed epoch keeps.
    let _ = p.apply(Command::Buffer, 0);
    assert_eq!(p.stats().closed_packets, u32::MAX);
    assert_eq!(p.stats().current_epoch, 0);
}

#[test]
fn open_epoch_count_wraps_to_a_late_release() {
    // 2^64 packets later the count wraps (no panic): the epoch looks
    // smaller, so its acknowledgement releases fewer of its packets (the
    // rest wait for a later acknowledgement), never packets of a later one.
    let mut p = PlugState::new(u32::MAX);
    p.set_current_epoch(u64::MAX);
    assert!(p.admit(0, 1));
    assert!(p.admit(0, 1));
    assert_eq!(p.stats().current_epoch, 1);
    let _ = p.apply(Command::Buffer, 0);
    let _ = p.apply(Command::ReleaseOne, 0);
    let mut queued = 10;
    assert_eq!(drain(&mut p, &mut queued), 1);
}

#[test]
fn release_credits_saturate_at_u64_max() {
    let mut p = PlugState::new(u32::MAX);
    assert!(p.admit(0, 1));
    let _ = p.apply(Command::Buffer, 1);
    p.set_release_credits(u64::MAX - 1);
    assert_eq!(p.apply(Command::ReleaseOne, 1), Wake::Queue);
    assert_eq!(p.stats().release_credits, u32::MAX);
    let mut queued = 3;
    assert_eq!(drain(&mut p, &mut queued), 3);
    // An empty queue spends no credit under the default rules.
    assert_eq!(p.stats().release_credits, u32::MAX);
}

#[test]
fn limit_and_backlog_at_u32_max_compare_without_wrapping() {
    fn check(mut p: impl Engine, mut p0: impl Engine) {
        assert!(p.admit(u32::MAX - 1, 1));
        assert!(!p.admit(u32::MAX, 1));
        assert!(!p.admit(1, u32::MAX));
        assert!(!p.admit(u32::MAX, u32::MAX));
        assert!(p0.admit(0, 0));
        assert!(!p0.admit(0, 1));
        p0.apply(Command::Limit(1 << 31), 0);
        assert!(p0.admit((1 << 31) - 1, 1));
        assert!(!p0.admit(1 << 31, 1));
    }
    check(PlugState::new(u32::MAX), PlugState::new(0));
    check(CPlug::new(u32::MAX), CPlug::new(0));
}

#[test]
fn options_at_the_bounds_of_int_and_u32() {
    for (action, ok) in [
        (i32::MIN, false),
        (-1, false),
        (0, true),
        (3, true),
        (4, false),
        (i32::MAX, false),
    ] {
        let mut b = action.to_ne_bytes().to_vec();
        b.extend_from_slice(&u32::MAX.to_ne_bytes());
        let opt = Options::parse(&b).unwrap();
        assert_eq!(opt.limit, u32::MAX);
        assert_eq!(opt.command().is_ok(), ok, "action {action}");
        assert_eq!(PlugState::with_options(opt, 7).is_ok(), ok);
        // The C plug ignores the action at create (D1).
        assert!(CPlug::with_options(&b).is_ok());
    }
}

#[test]
fn default_limit_saturates_and_falls_back_where_txqueuelen_is_zero() {
    assert_eq!(default_limit(1000, 1514), 1_514_000);
    assert_eq!(CPlug::new_default(1000, 1514).limit(), 1_514_000);
    // txqueuelen 0: the C plug drops everything (limit 0); ours does not.
    assert_eq!(CPlug::new_default(0, 1514).limit(), 0);
    assert_eq!(default_limit(0, 1514), DEFAULT_TX_QUEUE_LEN * 1514);
    // Where the C product wraps (to 0 here), the limit saturates.
    assert_eq!(CPlug::new_default(1 << 20, 1 << 20).limit(), 0);
    assert_eq!(default_limit(u32::MAX, 1514), u32::MAX);
    assert_eq!(default_limit(1 << 20, 1 << 20), u32::MAX);
}

#[test]
fn pass_through_credits_never_run_out() {
    let mut p = PlugState::new(u32::MAX);
    let _ = p.apply(Command::ReleaseIndefinite, 0);
    p.set_current_epoch(u64::MAX);
    assert!(p.admit(0, 1));
    let mut queued = 10;
    assert_eq!(drain(&mut p, &mut queued), 10);
    assert!(!p.holds());
    // Leaving pass-through drops the count: the new epoch starts empty.
    let _ = p.apply(Command::Buffer, 0);
    assert_eq!(p.stats().current_epoch, 0);
    assert_eq!(p.stats().closed_packets, 0);
}
