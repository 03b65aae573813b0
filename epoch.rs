// SPDX-License-Identifier: GPL-2.0

//! The plug's state machine: epochs, release credits and the byte limit.
//!
//! A plug buffers the packets of the current epoch. A `BUFFER` command closes
//! the epoch, a `RELEASE_ONE` command turns the packets of the last closed
//! epoch into release credits, one per packet the dequeue side may let go,
//! and `RELEASE_INDEFINITE` turns the plug into a pass-through FIFO until the
//! next `BUFFER`.
//!
//! This file knows nothing of the kernel: it decides, the caller moves the
//! packets. That keeps the rules that make output commit hold (or not) in one
//! place, readable on their own and testable on the host.
//!
//! The rules here are those of Linux 6.12's `net/sched/sch_plug.c`,
//! including its defects (REFERENCE.md section 3); the fixed engine replaces
//! them behind a switch.

#![deny(unsafe_code)]

/// `TCQ_PLUG_*` action codes of `struct tc_plug_qopt`.
const TCQ_PLUG_BUFFER: i32 = 0;
const TCQ_PLUG_RELEASE_ONE: i32 = 1;
const TCQ_PLUG_RELEASE_INDEFINITE: i32 = 2;
const TCQ_PLUG_LIMIT: i32 = 3;

/// A control command, decoded from the `action` of a `tc_plug_qopt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Close the current epoch and buffer what follows.
    Buffer,
    /// Release the packets of the last closed epoch.
    ReleaseOne,
    /// Release everything and pass packets through until the next `Buffer`.
    ReleaseIndefinite,
    /// Set the byte limit.
    Limit(u32),
}

/// Why a `tc_plug_qopt` payload was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptError {
    /// The payload is shorter than `struct tc_plug_qopt`.
    Short,
    /// The action is none of the `TCQ_PLUG_*` codes.
    UnknownAction,
}

/// A decoded `struct tc_plug_qopt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// The raw action code; see [`Options::command`].
    pub action: i32,
    /// The byte limit carried by every message, whatever its action.
    pub limit: u32,
}

impl Options {
    /// Decodes a netlink `TCA_OPTIONS` payload: `struct tc_plug_qopt` is
    /// `int action; __u32 limit;`, 8 bytes in native byte order. Longer
    /// payloads are accepted and their tail ignored, as the C module does.
    pub fn parse(payload: &[u8]) -> Result<Self, OptError> {
        match payload {
            [a0, a1, a2, a3, l0, l1, l2, l3, ..] => Ok(Self {
                action: i32::from_ne_bytes([*a0, *a1, *a2, *a3]),
                limit: u32::from_ne_bytes([*l0, *l1, *l2, *l3]),
            }),
            _ => Err(OptError::Short),
        }
    }

    /// The command this message asks for.
    pub fn command(&self) -> Result<Command, OptError> {
        match self.action {
            TCQ_PLUG_BUFFER => Ok(Command::Buffer),
            TCQ_PLUG_RELEASE_ONE => Ok(Command::ReleaseOne),
            TCQ_PLUG_RELEASE_INDEFINITE => Ok(Command::ReleaseIndefinite),
            TCQ_PLUG_LIMIT => Ok(Command::Limit(self.limit)),
            _ => Err(OptError::UnknownAction),
        }
    }
}

/// What the caller must do after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Wake {
    /// Nothing: no packet became releasable.
    No,
    /// Packets may have become releasable: schedule the device queue.
    Queue,
}

/// The state of one plug.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlugState {
    /// Byte limit on the backlog.
    limit: u32,
    /// Packets enqueued in the open epoch.
    current_epoch: u32,
    /// Packets of the last closed epoch, waiting for `RELEASE_ONE`.
    last_epoch: u32,
    /// Release credits: packets at the head of the queue that may leave.
    release_credits: u32,
    /// Pass-through mode (`RELEASE_INDEFINITE`).
    pass_through: bool,
    /// Dequeue is blocked until the next release.
    throttled: bool,
}

impl PlugState {
    /// A new plug: buffering, throttled, nothing counted.
    pub const fn new(limit: u32) -> Self {
        Self {
            limit,
            current_epoch: 0,
            last_epoch: 0,
            release_credits: 0,
            pass_through: false,
            throttled: true,
        }
    }

    /// Whether a packet of `len` bytes may join a queue holding `backlog`
    /// bytes; if so it is counted in the open epoch. The sum is taken in
    /// `u64` so that it cannot wrap.
    pub fn admit(&mut self, backlog: u32, len: u32) -> bool {
        if u64::from(backlog) + u64::from(len) > u64::from(self.limit) {
            return false;
        }
        if !self.pass_through {
            // Saturating: the C counter wraps after 2^32 packets in one
            // epoch; a saturated one releases the epoch late, never early.
            self.current_epoch = self.current_epoch.saturating_add(1);
        }
        true
    }

    /// Whether the head of the queue may leave now; in buffering mode this
    /// spends one release credit. Called once per dequeue attempt, before the
    /// queue is looked at, as the C module does (so an attempt on an empty
    /// queue spends a credit too).
    pub fn take_credit(&mut self) -> bool {
        if self.throttled {
            return false;
        }
        if self.pass_through {
            return true;
        }
        if self.release_credits == 0 {
            self.throttled = true;
            return false;
        }
        self.release_credits -= 1;
        true
    }

    /// Applies a control command.
    pub fn apply(&mut self, cmd: Command) -> Wake {
        match cmd {
            Command::Buffer => {
                self.last_epoch = self.current_epoch;
                self.current_epoch = 0;
                if self.pass_through {
                    self.throttled = true;
                }
                self.pass_through = false;
                Wake::No
            }
            Command::ReleaseOne => {
                self.release_credits = self.release_credits.saturating_add(self.last_epoch);
                self.last_epoch = 0;
                self.throttled = false;
                Wake::Queue
            }
            Command::ReleaseIndefinite => {
                self.pass_through = true;
                self.release_credits = 0;
                self.last_epoch = 0;
                self.current_epoch = 0;
                self.throttled = false;
                Wake::Queue
            }
            Command::Limit(limit) => {
                // Lowering the limit below the backlog trims nothing: it
                // only refuses new packets until the backlog drains.
                self.limit = limit;
                Wake::No
            }
        }
    }

    /// The queue was purged (device down, carrier loss, `tc` reset).
    pub fn reset(&mut self) {
        // The 6.12 C module keeps the epoch counters here (defect D2).
    }
}
