//! Unit tests of the epoch engine against the 6.12 C semantics
//! (REFERENCE.md section 2).

use plug_epoch_host::epoch::{Command, OptError, Options, PlugState, Wake};

fn qopt(action: i32, limit: u32) -> Vec<u8> {
    let mut v = action.to_ne_bytes().to_vec();
    v.extend_from_slice(&limit.to_ne_bytes());
    v
}

/// Enqueue `n` packets of `len` bytes into a queue modelled by its backlog.
fn enqueue(p: &mut PlugState, backlog: &mut u32, n: u32, len: u32) -> u32 {
    let mut accepted = 0;
    for _ in 0..n {
        if p.admit(*backlog, len) {
            *backlog += len;
            accepted += 1;
        }
    }
    accepted
}

/// Dequeue attempts until the plug refuses: how many packets may leave.
fn drain(p: &mut PlugState, queued: &mut u32) -> u32 {
    let mut out = 0;
    while *queued > 0 && p.take_credit() {
        *queued -= 1;
        out += 1;
    }
    out
}

#[test]
fn parse_rejects_short_payload_and_accepts_longer() {
    assert_eq!(Options::parse(&[0; 7]), Err(OptError::Short));
    assert_eq!(Options::parse(&[]), Err(OptError::Short));
    let mut long = qopt(3, 1234);
    long.extend_from_slice(&[0xff; 4]);
    assert_eq!(Options::parse(&long), Ok(Options { action: 3, limit: 1234 }));
}

#[test]
fn parse_maps_every_action() {
    let cmd = |a| Options::parse(&qopt(a, 77)).unwrap().command();
    assert_eq!(cmd(0), Ok(Command::Buffer));
    assert_eq!(cmd(1), Ok(Command::ReleaseOne));
    assert_eq!(cmd(2), Ok(Command::ReleaseIndefinite));
    assert_eq!(cmd(3), Ok(Command::Limit(77)));
    assert_eq!(cmd(4), Err(OptError::UnknownAction));
    assert_eq!(cmd(-1), Err(OptError::UnknownAction));
}

#[test]
fn new_plug_buffers_until_released() {
    let mut p = PlugState::new(10_000);
    let (mut backlog, mut queued) = (0, 0);
    queued += enqueue(&mut p, &mut backlog, 5, 100);
    assert_eq!(drain(&mut p, &mut queued), 0);
    assert_eq!(p.apply(Command::Buffer), Wake::No);
    assert_eq!(p.apply(Command::ReleaseOne), Wake::Queue);
    assert_eq!(drain(&mut p, &mut queued), 5);
}

#[test]
fn limit_is_bytes_and_compared_without_wrapping() {
    let mut p = PlugState::new(250);
    let mut backlog = 0;
    assert_eq!(enqueue(&mut p, &mut backlog, 3, 100), 2);
    let mut p = PlugState::new(u32::MAX);
    assert!(!p.admit(u32::MAX, 1));
    assert!(p.admit(u32::MAX - 1, 1));
}

#[test]
fn pass_through_releases_everything() {
    let mut p = PlugState::new(10_000);
    let (mut backlog, mut queued) = (0, 0);
    queued += enqueue(&mut p, &mut backlog, 4, 100);
    assert_eq!(p.apply(Command::ReleaseIndefinite), Wake::Queue);
    assert_eq!(drain(&mut p, &mut queued), 4);
    queued += enqueue(&mut p, &mut backlog, 2, 100);
    assert_eq!(drain(&mut p, &mut queued), 2);
}

#[test]
fn c_semantics_two_buffers_overwrite_the_last_epoch() {
    // Defect D3 of the C module, kept for parity: epoch 1 (3 packets) and
    // epoch 2 (10 packets) both closed; the release of epoch 1 lets 10 go.
    let mut p = PlugState::new(1 << 20);
    let (mut backlog, mut queued) = (0, 0);
    queued += enqueue(&mut p, &mut backlog, 3, 100);
    let _ = p.apply(Command::Buffer);
    queued += enqueue(&mut p, &mut backlog, 10, 100);
    let _ = p.apply(Command::Buffer);
    let _ = p.apply(Command::ReleaseOne);
    assert_eq!(drain(&mut p, &mut queued), 10);
}

#[test]
fn limit_change_trims_nothing() {
    let mut p = PlugState::new(1000);
    let mut backlog = 0;
    assert_eq!(enqueue(&mut p, &mut backlog, 5, 100), 5);
    assert_eq!(p.apply(Command::Limit(100)), Wake::No);
    assert!(!p.admit(backlog, 1));
    assert!(p.admit(0, 100));
}
