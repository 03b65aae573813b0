//! Unit tests of the epoch engine: option parsing, and the rules on small
//! hand-written sequences: the engine's fixes beside the model of the C
//! plug (docs/c-plug.md sections 2 and 3), which has the defects.

use plug_epoch_host::c_plug::CPlug;
use plug_epoch_host::epoch::{Command, OptError, Options, PlugState, Wake, MAX_CLOSED_EPOCHS};
use plug_epoch_host::Engine;

fn qopt(action: i32, limit: u32) -> Vec<u8> {
    let mut v = action.to_ne_bytes().to_vec();
    v.extend_from_slice(&limit.to_ne_bytes());
    v
}

/// A queue modelled by its packet count and backlog.
#[derive(Default)]
struct Queue {
    packets: u32,
    backlog: u32,
}

impl Queue {
    fn enqueue(&mut self, p: &mut impl Engine, n: u32, len: u32) -> u32 {
        let mut accepted = 0;
        for _ in 0..n {
            if p.admit(self.backlog, len) {
                self.backlog += len;
                self.packets += 1;
                accepted += 1;
            }
        }
        accepted
    }

    /// Dequeue attempts until the plug refuses: how many packets leave.
    fn drain(&mut self, p: &mut impl Engine) -> u32 {
        let mut out = 0;
        while p.dequeue(self.packets) {
            self.packets -= 1;
            out += 1;
        }
        out
    }

    fn cmd(&self, p: &mut PlugState, c: Command) -> Wake {
        p.apply(c, self.packets)
    }

    fn c_cmd(&self, p: &mut CPlug, c: Command) {
        Engine::apply(p, c, self.packets);
    }
}

#[test]
fn parse_rejects_short_payload_and_accepts_longer() {
    assert_eq!(Options::parse(&[0; 7]), Err(OptError::Short));
    assert_eq!(Options::parse(&[]), Err(OptError::Short));
    let mut long = qopt(3, 1234);
    long.extend_from_slice(&[0xff; 4]);
    assert_eq!(
        Options::parse(&long),
        Ok(Options {
            action: 3,
            limit: 1234
        })
    );
}

#[test]
fn parse_maps_every_action_and_round_trips() {
    let cmd = |a| Options::parse(&qopt(a, 77)).unwrap().command();
    assert_eq!(cmd(0), Ok(Command::Buffer));
    assert_eq!(cmd(1), Ok(Command::ReleaseOne));
    assert_eq!(cmd(2), Ok(Command::ReleaseIndefinite));
    assert_eq!(cmd(3), Ok(Command::Limit(77)));
    assert_eq!(cmd(4), Err(OptError::UnknownAction));
    assert_eq!(cmd(-1), Err(OptError::UnknownAction));
    let dumped = Options::replay_limit(5000).to_bytes();
    assert_eq!(
        Options::parse(&dumped).unwrap().command(),
        Ok(Command::Limit(5000))
    );
}

#[test]
fn new_plug_buffers_until_released() {
    let mut p = PlugState::new(10_000);
    let mut q = Queue::default();
    q.enqueue(&mut p, 5, 100);
    assert_eq!(q.drain(&mut p), 0);
    assert_eq!(q.cmd(&mut p, Command::Buffer), Wake::No);
    assert_eq!(q.cmd(&mut p, Command::ReleaseOne), Wake::Queue);
    assert_eq!(q.drain(&mut p), 5);
    // The C plug alike.
    let mut c = CPlug::new(10_000);
    let mut q = Queue::default();
    q.enqueue(&mut c, 5, 100);
    assert_eq!(q.drain(&mut c), 0);
    q.c_cmd(&mut c, Command::Buffer);
    q.c_cmd(&mut c, Command::ReleaseOne);
    assert_eq!(q.drain(&mut c), 5);
}

#[test]
fn limit_is_bytes_and_compared_without_wrapping() {
    let mut p = PlugState::new(250);
    assert_eq!(Queue::default().enqueue(&mut p, 3, 100), 2);
    let mut p = PlugState::new(u32::MAX);
    assert!(!p.admit(u32::MAX, 1));
    assert!(p.admit(u32::MAX - 1, 1));
}

#[test]
fn limit_change_trims_nothing() {
    let mut p = PlugState::new(1000);
    let mut q = Queue::default();
    assert_eq!(q.enqueue(&mut p, 5, 100), 5);
    assert_eq!(q.cmd(&mut p, Command::Limit(100)), Wake::No);
    assert_eq!(p.limit(), 100);
    assert_eq!(q.packets, 5);
    assert!(!p.admit(q.backlog, 1));
}

#[test]
fn d1_create_with_action_keeps_default_limit_and_applies_action() {
    let create =
        |action, limit| PlugState::with_options(Options { action, limit }, 1500 * 1000).unwrap();
    // tc `add plug block`, libnl's and pyroute2's bare creates: limit 0,
    // which the C plug takes.
    assert_eq!(CPlug::with_options(&qopt(0, 0)).unwrap().limit(), 0);
    assert_eq!(create(0, 0).limit(), 1_500_000);
    // An explicit limit is honoured: tc `limit N`, pyroute2 `limit=N`.
    assert_eq!(create(3, 100).limit(), 100);
    assert_eq!(create(0, 100).limit(), 100);
    // release_indefinite at create: pass-through from the start.
    let mut p = create(2, 0);
    let mut q = Queue::default();
    q.enqueue(&mut p, 3, 100);
    assert_eq!(q.drain(&mut p), 3);
    // Unknown actions are refused here, ignored by the C plug.
    assert!(CPlug::with_options(&qopt(9, 0)).is_ok());
    assert_eq!(
        PlugState::with_options(
            Options {
                action: 9,
                limit: 0
            },
            1
        ),
        Err(OptError::UnknownAction)
    );
}

#[test]
fn d2_reset_forgets_the_epochs_of_purged_packets() {
    fn leaked(p: &mut impl Engine) -> u32 {
        let mut q = Queue::default();
        q.enqueue(p, 3, 100);
        p.apply(Command::Buffer, q.packets);
        q.enqueue(p, 2, 100);
        // Device down: the queue is purged.
        q = Queue::default();
        p.reset();
        // One packet of a new, uncommitted epoch; then the ack of the old one.
        q.enqueue(p, 1, 100);
        p.apply(Command::ReleaseOne, q.packets);
        q.drain(p)
    }
    assert_eq!(leaked(&mut CPlug::new(1 << 20)), 1);
    assert_eq!(leaked(&mut PlugState::new(1 << 20)), 0);
}

#[test]
fn d3_pipelined_epochs_release_one_by_one() {
    fn first_release(p: &mut impl Engine) -> u32 {
        let mut q = Queue::default();
        q.enqueue(p, 3, 100);
        p.apply(Command::Buffer, q.packets);
        q.enqueue(p, 10, 100);
        p.apply(Command::Buffer, q.packets);
        p.apply(Command::ReleaseOne, q.packets);
        q.drain(p)
    }
    assert_eq!(first_release(&mut CPlug::new(1 << 20)), 10);
    assert_eq!(first_release(&mut PlugState::new(1 << 20)), 3);
}

#[test]
fn d3_bound_merges_into_a_later_release() {
    let mut p = PlugState::new(u32::MAX);
    let mut q = Queue::default();
    // One packet per epoch, two epochs more than tracked.
    for _ in 0..MAX_CLOSED_EPOCHS + 2 {
        q.enqueue(&mut p, 1, 1);
        let _ = q.cmd(&mut p, Command::Buffer);
    }
    let mut released = Vec::new();
    for _ in 0..MAX_CLOSED_EPOCHS + 2 {
        let _ = q.cmd(&mut p, Command::ReleaseOne);
        released.push(q.drain(&mut p));
    }
    // Epochs 0..62 leave one by one; 63, 64 and 65 together at the last ack.
    let mut expected = vec![1; MAX_CLOSED_EPOCHS - 1];
    expected.extend([0, 0, 3]);
    assert_eq!(released, expected);
}

#[test]
fn d4_pass_through_residue_leaves_on_buffer() {
    fn residue_leaves(p: &mut impl Engine) -> u32 {
        let mut q = Queue::default();
        p.apply(Command::ReleaseIndefinite, q.packets);
        // Two packets sent in pass-through mode, still queued (the device
        // was busy) when the next checkpoint starts.
        q.enqueue(p, 2, 100);
        p.apply(Command::Buffer, q.packets);
        q.drain(p)
    }
    assert_eq!(residue_leaves(&mut CPlug::new(1 << 20)), 0);
    assert_eq!(residue_leaves(&mut PlugState::new(1 << 20)), 2);
}

#[test]
fn pass_through_is_indefinite_and_leaves_no_count_behind() {
    let mut p = PlugState::new(u32::MAX);
    let mut q = Queue::default();
    let _ = q.cmd(&mut p, Command::ReleaseIndefinite);
    assert_eq!(p.stats().pass_through, 1);
    assert!(p.may_bypass(1));
    // Far more packets than any credit count a release could give.
    for _ in 0..100_000 {
        q.enqueue(&mut p, 1, 1);
        assert_eq!(q.drain(&mut p), 1);
    }
    // Acks in pass-through add nothing, and the stats show no credits
    // and no open epoch.
    let _ = q.cmd(&mut p, Command::ReleaseOne);
    let st = p.stats();
    assert_eq!(
        (st.pass_through, st.current_epoch, st.release_credits),
        (1, 0, 0)
    );
    // BUFFER closes an empty epoch: pass-through packets were in none.
    let _ = q.cmd(&mut p, Command::Buffer);
    assert_eq!(p.stats().pass_through, 0);
    assert!(!p.may_bypass(1));
    let st = p.stats();
    assert_eq!(
        (
            st.current_epoch,
            st.closed_epochs,
            st.closed_packets,
            st.release_credits
        ),
        (0, 1, 0, 0)
    );
    q.enqueue(&mut p, 3, 1);
    assert_eq!(q.drain(&mut p), 0, "nothing leaves before its ack");
    let _ = q.cmd(&mut p, Command::ReleaseOne);
    assert_eq!(q.drain(&mut p), 0, "the first ack is the empty epoch's");
    // The C plug alike: its one closed epoch, empty, is acknowledged.
    let mut c = CPlug::new(u32::MAX);
    let mut q = Queue::default();
    q.c_cmd(&mut c, Command::ReleaseIndefinite);
    for _ in 0..100_000 {
        q.enqueue(&mut c, 1, 1);
        assert_eq!(q.drain(&mut c), 1);
    }
    q.c_cmd(&mut c, Command::Buffer);
    q.enqueue(&mut c, 3, 1);
    assert_eq!(q.drain(&mut c), 0);
    q.c_cmd(&mut c, Command::ReleaseOne);
    assert_eq!(q.drain(&mut c), 0);
}

#[test]
fn bypass_only_where_the_plug_would_send_any_packet_at_once() {
    let mut p = PlugState::new(1000);
    assert!(!p.may_bypass(1000), "buffering");
    let _ = p.apply(Command::ReleaseIndefinite, 0);
    assert!(p.may_bypass(1000));
    // A packet longer than the limit must be dropped, as in C: no bypass.
    assert!(!p.may_bypass(1001));
    let _ = p.apply(Command::Limit(0), 0);
    assert!(!p.may_bypass(1));
    let _ = p.apply(Command::Limit(u32::MAX), 0);
    assert!(p.may_bypass(u32::MAX));
    let _ = p.apply(Command::Buffer, 0);
    assert!(!p.may_bypass(1));
}

/// The credits a dequeue spends: none while buffering with nothing
/// released, one per packet of a released epoch and no more, never
/// running out in pass-through, none after `BUFFER` ends pass-through or
/// after a reset.
#[test]
fn credits_follow_the_releases_and_the_mode() {
    let mut p = PlugState::new(10_000);
    let mut q = Queue::default();
    assert!(!p.take_credit());
    assert_eq!(q.enqueue(&mut p, 3, 100), 3);
    assert_eq!(q.cmd(&mut p, Command::Buffer), Wake::No);
    assert_eq!(q.drain(&mut p), 0);
    assert!(!p.take_credit());
    q.cmd(&mut p, Command::ReleaseOne);
    for _ in 0..3 {
        assert!(p.take_credit());
    }
    assert!(!p.take_credit());
    // Pass-through: credits never run out.
    q.cmd(&mut p, Command::ReleaseIndefinite);
    assert!(!p.holds());
    for _ in 0..1000 {
        assert!(p.take_credit());
    }
    // BUFFER from pass-through with packets queued: they were committed.
    assert_eq!(p.apply(Command::Buffer, 2), Wake::Queue);
    assert!(p.take_credit() && p.take_credit() && !p.take_credit());
    assert_eq!(p.apply(Command::ReleaseIndefinite, 0), Wake::Queue);
    assert_eq!(p.apply(Command::Buffer, 0), Wake::No);
    assert!(!p.take_credit());
    // A reset takes the credits away.
    assert_eq!(q.enqueue(&mut p, 1, 100), 1);
    q.cmd(&mut p, Command::Buffer);
    q.cmd(&mut p, Command::ReleaseOne);
    p.reset();
    assert!(!p.take_credit());
}
