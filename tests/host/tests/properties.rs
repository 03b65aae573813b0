//! Property tests: long random operation sequences drive the epoch engine
//! (the very `epoch.rs` the module builds) over a simulated queue, beside an
//! ideal reference model in which every packet carries the id of the epoch
//! it was sent in. The default rules must satisfy every property; the 6.12 C
//! rules are shown to break output commit, with a minimal sequence.

use plug_epoch_host::epoch::{Command, PlugState, Rules, MAX_CLOSED_EPOCHS};
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
    plug: PlugState,
    rules: Rules,
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
    fn new(rules: Rules) -> Self {
        Self {
            plug: PlugState::new(rules, 10_000),
            rules,
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
        let queue = &mut self.queue;
        let taken = self.plug.release(|p| {
            if !queue.is_empty() && p.take_credit() {
                queue.pop_front()
            } else {
                None
            }
        });
        let Some(p) = taken else {
            return Ok(false);
        };
        prop_assert!(self.committed(&p), "packet {p:?} left before its epoch was released");
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
                    self.queue.push_back(Packet { seq: self.next_seq, len, epoch });
                    self.backlog += len;
                    self.accepted += 1;
                }
                self.next_seq += 1;
            }
            Op::Dequeue => {
                self.dequeue()?;
            }
            Op::Buffer => {
                let _ = self.plug.apply(Command::Buffer, queued);
                self.pass_through = false;
                self.closed.push_back(self.epoch);
                self.epoch += 1;
                self.bound_hit |= self.closed.len() > MAX_CLOSED_EPOCHS;
            }
            Op::ReleaseOne => {
                let _ = self.plug.apply(Command::ReleaseOne, queued);
                if let Some(e) = self.closed.pop_front() {
                    self.released.insert(e);
                }
            }
            Op::ReleaseIndefinite => {
                let _ = self.plug.apply(Command::ReleaseIndefinite, queued);
                self.released.extend(self.closed.drain(..));
                self.released.insert(self.epoch);
                self.epoch += 1;
                self.pass_through = true;
            }
            Op::Limit(limit) => {
                let _ = self.plug.apply(Command::Limit(limit), queued);
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
        prop_assert_eq!(self.accepted, self.dequeued + self.queue.len() as u64 + self.purged);
        // In buffering mode every queued packet is counted exactly once: in
        // the open epoch, a closed one, or a release credit.
        if self.rules == Rules::Commit && !self.pass_through {
            let st = self.plug.stats();
            prop_assert_eq!(
                self.queue.len() as u64,
                u64::from(st.current_epoch) + u64::from(st.closed_packets)
                    + u64::from(st.release_credits),
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

fn run(rules: Rules, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut sim = Sim::new(rules);
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
fn default_rules_keep_output_commit() {
    runner(3000)
        .run(&prop::collection::vec(op(), 1..400), |ops| run(Rules::Commit, &ops))
        .unwrap();
}

#[test]
fn c_rules_break_output_commit_and_proptest_shows_how() {
    let result = runner(3000).run(&prop::collection::vec(op(), 1..400), |ops| run(Rules::C, &ops));
    match result {
        Err(TestError::Fail(why, ops)) => {
            println!("6.12 C rules break a property: {why}\nminimal sequence: {ops:?}");
        }
        other => panic!("expected the C rules to break output commit, got {other:?}"),
    }
}

/// The minimal sequences of the C module's defects (docs/c-plug.md §3), each breaking C.
#[test]
fn c_rules_fail_each_defect_sequence() {
    use Op::*;
    let d2 = [Enqueue(100), Buffer, Enqueue(100), Reset, Enqueue(100), ReleaseOne, Dequeue];
    let d3 = [Enqueue(100), Buffer, Enqueue(100), Enqueue(100), Buffer, ReleaseOne, Dequeue,
              Dequeue];
    let d4 = [ReleaseIndefinite, Enqueue(100), Buffer];
    for (name, ops) in [("D2", &d2[..]), ("D3", &d3[..]), ("D4", &d4[..])] {
        assert!(run(Rules::C, ops).is_err(), "{name} should break the C rules");
        assert!(run(Rules::Commit, ops).is_ok(), "{name} must hold with the default rules");
    }
}
