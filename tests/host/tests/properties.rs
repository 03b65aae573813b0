//! Property tests: long random operation sequences drive the epoch engine
//! (the very `epoch.rs` the module builds) over a simulated queue, beside an
//! ideal reference model in which every packet carries the id of the epoch
//! it was sent in. The engine must satisfy every property; the model of the
//! C plug (`c_plug.rs`) is shown to break output commit, with a minimal
//! sequence.

use plug_epoch_host::c_plug::CPlug;
use plug_epoch_host::epoch::{Command, PlugState, MAX_CLOSED_EPOCHS};
use plug_epoch_host::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use std::collections::{HashSet, VecDeque};

#[derive(Clone, Debug)]
enum Op {
    Enqueue(u32),
    Dequeue,
    Buffer,
    ReleaseOne,
    ReleaseIndefinite,
    Limit(u32),
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (40u32..1500).prop_map(Op::Enqueue),
        6 => Just(Op::Dequeue),
        3 => Just(Op::Buffer),
        3 => Just(Op::ReleaseOne),
        1 => Just(Op::ReleaseIndefinite),
        1 => (0u32..20_000).prop_map(Op::Limit),
        1 => Just(Op::Reset),
    ]
}

#[derive(Debug)]
struct Packet {
    seq: u64,
    len: u32,
    /// The epoch it was sent in; `None` in pass-through mode (committed).
    epoch: Option<u64>,
}

/// The engine over a queue, beside the ideal reference model.
struct Sim {
    plug: Box<dyn Engine>,
    queue: VecDeque<Packet>,
    backlog: u32,
    limit: u32,
    next_seq: u64,
    last_dequeued: Option<u64>,
    // Reference model.
    epoch: u64,
    closed: VecDeque<u64>,
    released: HashSet<u64>,
    pass_through: bool,
    bound_hit: bool,
    // Conservation.
    accepted: u64,
    dequeued: u64,
    purged: u64,
}

impl Sim {
    fn new(plug: Box<dyn Engine>) -> Self {
        Self {
            plug,
            queue: VecDeque::new(),
            backlog: 0,
            limit: 10_000,
            next_seq: 0,
            last_dequeued: None,
            epoch: 0,
            closed: VecDeque::new(),
            released: HashSet::new(),
            pass_through: false,
            bound_hit: false,
            accepted: 0,
            dequeued: 0,
            purged: 0,
        }
    }

    fn committed(&self, p: &Packet) -> bool {
        p.epoch.map_or(true, |e| self.released.contains(&e))
    }

    /// One dequeue attempt, checking what leaves.
    fn dequeue(&mut self) -> Result<bool, TestCaseError> {
        if !self.plug.dequeue(self.queue.len() as u32) {
            return Ok(false);
        }
        let Some(p) = self.queue.pop_front() else {
            return Ok(false);
        };
        prop_assert!(
            self.committed(&p),
            "packet {p:?} left before its epoch was released"
        );
        prop_assert!(self.last_dequeued.map_or(true, |s| s < p.seq), "not FIFO");
        self.last_dequeued = Some(p.seq);
        self.backlog -= p.len;
        self.dequeued += 1;
        Ok(true)
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let queued = self.queue.len() as u32;
        match *op {
            Op::Enqueue(len) => {
                let fits = u64::from(self.backlog) + u64::from(len) <= u64::from(self.limit);
                let admitted = self.plug.admit(self.backlog, len);
                prop_assert_eq!(admitted, fits, "limit not respected");
                if admitted {
                    let epoch = (!self.pass_through).then_some(self.epoch);
                    self.queue.push_back(Packet {
                        seq: self.next_seq,
                        len,
                        epoch,
                    });
                    self.backlog += len;
                    self.accepted += 1;
                }
                self.next_seq += 1;
            }
            Op::Dequeue => {
                self.dequeue()?;
            }
            Op::Buffer => {
                self.plug.apply(Command::Buffer, queued);
                self.pass_through = false;
                self.closed.push_back(self.epoch);
                self.epoch += 1;
                self.bound_hit |= self.closed.len() > MAX_CLOSED_EPOCHS;
            }
            Op::ReleaseOne => {
                self.plug.apply(Command::ReleaseOne, queued);
                if let Some(e) = self.closed.pop_front() {
                    self.released.insert(e);
                }
            }
            Op::ReleaseIndefinite => {
                self.plug.apply(Command::ReleaseIndefinite, queued);
                self.released.extend(self.closed.drain(..));
                self.released.insert(self.epoch);
                self.epoch += 1;
                self.pass_through = true;
            }
            Op::Limit(limit) => {
                self.plug.apply(Command::Limit(limit), queued);
                self.limit = limit;
            }
            Op::Reset => {
                self.purged += self.queue.len() as u64;
                self.queue.clear();
                self.backlog = 0;
                self.plug.reset();
            }
        }
        // Conservation: every accepted packet left, is queued, or was purged.
        prop_assert_eq!(
            self.accepted,
            self.dequeued + self.queue.len() as u64 + self.purged
        );
        // In buffering mode every queued packet is counted exactly once: in
        // the open epoch, a closed one, or a release credit.
        if let Some(accounted) = self.plug.accounted() {
            prop_assert!(!self.pass_through, "the engine buffers in pass-through");
            prop_assert_eq!(
                self.queue.len() as u64,
                accounted,
                "epoch accounting lost track of queued packets"
            );
        }
        Ok(())
    }

    /// Nothing released is held back: dequeue attempts drain every
    /// committed packet at the head (unless the epoch bound was hit, where
    /// releasing later is the documented behaviour).
    fn drain_committed(&mut self) -> Result<(), TestCaseError> {
        while self.dequeue()? {}
        if !self.bound_hit {
            if let Some(head) = self.queue.front() {
                prop_assert!(
                    !self.committed(head),
                    "committed packet {head:?} stranded behind the plug"
                );
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
enum Plug {
    /// The module's engine (epoch.rs).
    Ours,
    /// The model of the C plug.
    C,
}

fn run(plug: Plug, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut sim = Sim::new(match plug {
        Plug::Ours => Box::new(PlugState::new(10_000)),
        Plug::C => Box::new(CPlug::new(10_000)),
    });
    for op in ops {
        sim.step(op)?;
    }
    sim.drain_committed()
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn the_engine_keeps_output_commit() {
    runner(3000)
        .run(&prop::collection::vec(op(), 1..400), |ops| {
            run(Plug::Ours, &ops)
        })
        .unwrap();
}

#[test]
fn the_c_plug_breaks_output_commit_and_proptest_shows_how() {
    let result = runner(3000).run(&prop::collection::vec(op(), 1..400), |ops| {
        run(Plug::C, &ops)
    });
    match result {
        Err(TestError::Fail(why, ops)) => {
            println!("the C plug breaks a property: {why}\nminimal sequence: {ops:?}");
        }
        other => panic!("expected the C plug to break output commit, got {other:?}"),
    }
}

/// The minimal sequences of the C module's defects (docs/c-plug.md §3), each breaking C.
#[test]
fn the_c_plug_fails_each_defect_sequence() {
    use Op::*;
    let d2 = [
        Enqueue(100),
        Buffer,
        Enqueue(100),
        Reset,
        Enqueue(100),
        ReleaseOne,
        Dequeue,
    ];
    let d3 = [
        Enqueue(100),
        Buffer,
        Enqueue(100),
        Enqueue(100),
        Buffer,
        ReleaseOne,
        Dequeue,
        Dequeue,
    ];
    let d4 = [ReleaseIndefinite, Enqueue(100), Buffer];
    for (name, ops) in [("D2", &d2[..]), ("D3", &d3[..]), ("D4", &d4[..])] {
        assert!(run(Plug::C, ops).is_err(), "{name} should break the C plug");
        assert!(
            run(Plug::Ours, ops).is_ok(),
            "{name} must hold with the engine"
        );
    }
}
