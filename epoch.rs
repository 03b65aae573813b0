// SPDX-License-Identifier: GPL-2.0

//! The plug's state machine: epochs, release credits and the byte limit.
//!
//! A plug buffers the packets of the current epoch. `BUFFER` closes the
//! epoch; `RELEASE_ONE` acknowledges the oldest closed epoch, whose packets
//! become release credits, one per packet the dequeue side may let go;
//! `RELEASE_INDEFINITE` turns the plug into a pass-through FIFO until the
//! next `BUFFER`.
//!
//! This file knows nothing of the kernel: it decides, the caller moves the
//! packets. That keeps the rules that make output commit hold in one place,
//! readable on their own and tested on the host (`tests/host`) against a
//! model in which every packet carries its epoch.
//!
//! The rules are those of Linux's C `net/sched/sch_plug.c` with its
//! output-commit defects D1-D4 fixed (`docs/c-plug.md` §3): a packet leaves
//! only after the epoch it was sent in is acknowledged, in FIFO order. Where
//! no defect is at play, a plug behaves exactly as the C one does.

#![deny(unsafe_code)]

/// `TCQ_PLUG_*` action codes of `struct tc_plug_qopt`.
const TCQ_PLUG_BUFFER: i32 = 0;
const TCQ_PLUG_RELEASE_ONE: i32 = 1;
const TCQ_PLUG_RELEASE_INDEFINITE: i32 = 2;
const TCQ_PLUG_LIMIT: i32 = 3;

/// How many closed, unacknowledged epochs a plug tracks one by one.
///
/// Checkpointing pipelines keep one or two checkpoints in flight; 64 leaves
/// room for deep pipelines and costs 512 bytes per plug, in the qdisc's
/// private area (no allocation). Past the bound, a newly closed epoch is
/// merged into the newest tracked one, which then needs one more
/// acknowledgement: its packets leave at the later acknowledgement, never
/// before their own.
pub const MAX_CLOSED_EPOCHS: usize = 64;

/// A control command, decoded from the `action` of a `tc_plug_qopt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Close the current epoch and buffer what follows.
    Buffer,
    /// Acknowledge the oldest closed epoch: its packets may leave.
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

    /// Encodes the options back into a `struct tc_plug_qopt` payload.
    pub fn to_bytes(self) -> [u8; 8] {
        let mut out = [0; 8];
        out[..4].copy_from_slice(&self.action.to_ne_bytes());
        out[4..].copy_from_slice(&self.limit.to_ne_bytes());
        out
    }

    /// What `dump` reports: a `LIMIT` message that, replayed with
    /// `tc qdisc change`, restores the limit.
    pub fn replay_limit(limit: u32) -> Self {
        Self {
            action: TCQ_PLUG_LIMIT,
            limit,
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

/// A closed epoch waiting for its acknowledgement(s).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ClosedEpoch {
    /// Packets of the epoch (of several, once merged at the bound).
    packets: u32,
    /// `RELEASE_ONE`s still needed before the packets may leave;
    /// [`UNCOUNTABLE_ACKS`] once more were needed than a `u32` counts.
    acks: u32,
}

/// The acknowledgements a merged epoch needs once 2^32 - 1 `BUFFER`s were
/// merged into it (each merge adds one): more than can be counted, so no
/// `RELEASE_ONE` releases it any more, only `RELEASE_INDEFINITE` does.
/// Counting on would overflow (a panic with `CONFIG_RUST_OVERFLOW_CHECKS`,
/// under RTNL and the tree lock), and saturating would let the epoch leave
/// one acknowledgement too early.
const UNCOUNTABLE_ACKS: u32 = u32::MAX;

/// The closed epochs, oldest first, in a fixed ring.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ClosedEpochs {
    ring: [ClosedEpoch; MAX_CLOSED_EPOCHS],
    head: usize,
    len: usize,
}

impl ClosedEpochs {
    const fn new() -> Self {
        Self {
            ring: [ClosedEpoch {
                packets: 0,
                acks: 0,
            }; MAX_CLOSED_EPOCHS],
            head: 0,
            len: 0,
        }
    }

    fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Closes an epoch of `packets`; at the bound, merges it into the newest.
    fn push(&mut self, packets: u32) {
        if self.len == MAX_CLOSED_EPOCHS {
            let newest = &mut self.ring[(self.head + self.len - 1) % MAX_CLOSED_EPOCHS];
            // Saturating packets release late, never early: the queue, held
            // to a `u32` byte limit, never holds more than `u32::MAX`.
            newest.packets = newest.packets.saturating_add(packets);
            newest.acks = newest.acks.saturating_add(1);
        } else {
            self.ring[(self.head + self.len) % MAX_CLOSED_EPOCHS] =
                ClosedEpoch { packets, acks: 1 };
            self.len += 1;
        }
    }

    /// One acknowledgement: the packets of the oldest epoch if it needed no
    /// other, else 0.
    fn ack(&mut self) -> u32 {
        if self.len == 0 {
            return 0;
        }
        let oldest = &mut self.ring[self.head];
        if oldest.acks == UNCOUNTABLE_ACKS {
            return 0;
        }
        // Cannot wrap: an epoch in the ring needs at least one.
        oldest.acks -= 1;
        if oldest.acks > 0 {
            return 0;
        }
        let packets = oldest.packets;
        self.head = (self.head + 1) % MAX_CLOSED_EPOCHS;
        self.len -= 1;
        packets
    }

    /// The packets are gone (purged): the epochs stay, each still waiting
    /// for its acknowledgement, so that later acknowledgements keep pairing
    /// with the checkpoints they were sent for.
    fn forget_packets(&mut self) {
        for i in 0..self.len {
            self.ring[(self.head + i) % MAX_CLOSED_EPOCHS].packets = 0;
        }
    }

    fn packets(&self) -> u32 {
        (0..self.len).fold(0u32, |sum, i| {
            sum.saturating_add(self.ring[(self.head + i) % MAX_CLOSED_EPOCHS].packets)
        })
    }
}

/// `n`, or `u32::MAX` if it does not fit.
fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Counters a plug reports (`tc -s`'s extended stats, see [`PlugState::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Byte limit.
    pub limit: u32,
    /// 1 in pass-through mode, 0 while buffering.
    pub pass_through: u32,
    /// Packets of the open epoch.
    pub current_epoch: u32,
    /// Closed epochs waiting for their acknowledgement.
    pub closed_epochs: u32,
    /// Packets of those epochs.
    pub closed_packets: u32,
    /// Packets at the head of the queue that may leave now.
    pub release_credits: u32,
}

impl Stats {
    /// `struct tc_plug_xstats` (README.md): the fields in order, each a
    /// native-endian `__u32`.
    pub fn to_bytes(self) -> [u8; 24] {
        let fields = [
            self.limit,
            self.pass_through,
            self.current_epoch,
            self.closed_epochs,
            self.closed_packets,
            self.release_credits,
        ];
        let mut bytes = [0u8; 24];
        for (out, field) in bytes.chunks_exact_mut(4).zip(fields) {
            out.copy_from_slice(&field.to_ne_bytes());
        }
        bytes
    }
}

/// The release credits of pass-through mode: more packets than any plug
/// will pass (2^64 at 100 million a second take 5,800 years), so counting
/// them down never exhausts them.
const INDEFINITE: u64 = u64::MAX;

/// The state of one plug.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlugState {
    /// Byte limit on the backlog.
    limit: u32,
    /// Packets enqueued in the open epoch. 64 bits so that counting needs
    /// no overflow test: it wraps (one packet per nanosecond takes 584
    /// years to get there), and a wrapped count would only make the epoch
    /// look smaller, so that its acknowledgement releases fewer packets
    /// (late, never early: credits are spent in queue order). Closing the
    /// epoch saturates it to the 32 bits the closed epochs keep. Packets
    /// are counted in pass-through too, where no epoch is open: that count
    /// is dropped when buffering starts, which saves a test per packet.
    current_epoch: u64,
    /// Closed epochs, oldest first, each released by its own
    /// acknowledgement. (The C plug keeps one, overwritten by every
    /// `BUFFER`: defect D3.)
    closed: ClosedEpochs,
    /// Release credits: packets at the head of the queue that may leave;
    /// [`INDEFINITE`] in pass-through, so that a dequeue only looks here.
    release_credits: u64,
    /// Pass-through mode (`RELEASE_INDEFINITE`).
    pass_through: bool,
    // The C plug also keeps a `throttled` flag, which its dequeue tests
    // first. It is set only when no credit is left and never in
    // pass-through, and every release clears it, so it never changes a
    // dequeue's answer: the credits alone do its work here.
}

/// The transmit queue length a device gets by default
/// (`DEFAULT_TX_QUEUE_LEN` in `include/linux/netdevice.h`).
pub const DEFAULT_TX_QUEUE_LEN: u32 = 1000;

/// The limit of a plug created without one: a transmit queue's worth of
/// full-size packets, `tx_queue_len` × `mtu` bytes (`mtu` including the
/// link-layer header, `psched_mtu()`), saturating where C's product wraps.
///
/// The C plug takes the product as it is, so a device with `txqueuelen 0`
/// (a common setting on virtual devices) gets limit 0 and a plug that
/// drops everything. Here such a device counts as having the default
/// queue length, [`DEFAULT_TX_QUEUE_LEN`], as the work-conserving FIFOs do
/// not drop everything there either (`pfifo` uses at least one packet).
pub fn default_limit(tx_queue_len: u32, mtu: u32) -> u32 {
    let packets = match tx_queue_len {
        0 => DEFAULT_TX_QUEUE_LEN,
        n => n,
    };
    packets.saturating_mul(mtu)
}

impl PlugState {
    /// A new plug: buffering, nothing counted.
    pub const fn new(limit: u32) -> Self {
        Self {
            limit,
            current_epoch: 0,
            closed: ClosedEpochs::new(),
            release_credits: 0,
            pass_through: false,
        }
    }

    /// A new plug created with options (`tc qdisc add … plug <options>`).
    ///
    /// An explicit `LIMIT` (even 0) sets the limit; any other action takes
    /// a non-zero limit field or keeps `default_limit`; then the action
    /// applies. (The C plug takes the limit field as the limit and ignores
    /// the action, defect D1: `tc … plug block`, and libnl's and pyroute2's
    /// bare creates, send limit 0 and get a plug that drops everything.)
    pub fn with_options(opt: Options, default_limit: u32) -> Result<Self, OptError> {
        let command = opt.command()?;
        let limit = match command {
            Command::Limit(limit) => limit,
            _ if opt.limit != 0 => opt.limit,
            _ => default_limit,
        };
        let mut plug = Self::new(limit);
        // A new plug already buffers and has nothing closed: only
        // pass-through changes anything.
        if command == Command::ReleaseIndefinite {
            let _ = plug.apply(command, 0);
        }
        Ok(plug)
    }

    /// The byte limit on the backlog.
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// Whether a packet that finds the queue empty may skip the plug and go
    /// straight to the device, given that no packet is longer than
    /// `max_packet` bytes: in pass-through it would leave at once anyway,
    /// unless the limit is below its length, where the plug must drop it.
    pub fn may_bypass(&self, max_packet: u32) -> bool {
        self.pass_through && self.limit >= max_packet
    }

    /// Whether a packet enqueued now is held for an epoch, rather than
    /// passed through.
    pub fn holds(&self) -> bool {
        !self.pass_through
    }

    /// Closes the open epoch: its packet count, saturated to 32 bits where
    /// the C counter wraps (a saturated epoch is released late, never
    /// early).
    fn take_epoch(&mut self) -> u32 {
        let packets = saturate(self.current_epoch);
        self.current_epoch = 0;
        packets
    }

    /// Whether a packet of `len` bytes may join a queue holding `backlog`
    /// bytes; if so it is counted in the open epoch. The sum is taken in
    /// `u64` so that it cannot wrap.
    pub fn admit(&mut self, backlog: u32, len: u32) -> bool {
        if u64::from(backlog) + u64::from(len) > u64::from(self.limit) {
            return false;
        }
        // Wraps, see the field: one instruction where a saturating
        // increment takes three on every packet.
        self.current_epoch = self.current_epoch.wrapping_add(1);
        true
    }

    /// Spends a release credit for the packet at the head, if the plug has
    /// one. In pass-through the credits are [`INDEFINITE`], so a single
    /// test answers every case, as C's `throttled` flag does.
    ///
    /// A dequeue calls this only once it has seen a packet at the head, so
    /// that a dequeue that finds the queue empty (the core asks again after
    /// every packet it sends) stops at once, as pfifo's does, and spends no
    /// credit. (The C plug tests its credits first and spends one even when
    /// the queue turns out empty.)
    #[inline]
    pub fn take_credit(&mut self) -> bool {
        if self.release_credits == 0 {
            return false;
        }
        self.release_credits -= 1;
        true
    }

    /// Leaves pass-through mode (`BUFFER`): its count of packets, which
    /// belong to no epoch, is dropped, and so are its credits.
    fn end_pass_through(&mut self) {
        self.pass_through = false;
        self.current_epoch = 0;
        self.release_credits = 0;
    }

    /// Applies a control command. `queued` is the number of packets in the
    /// queue that have not been handed out yet.
    pub fn apply(&mut self, cmd: Command, queued: u32) -> Wake {
        match cmd {
            Command::Buffer => {
                if self.pass_through {
                    // What is still queued was sent in pass-through mode,
                    // which committed it: let it go (the C plug strands it,
                    // defect D4). The epoch closed here is empty, as in C,
                    // so acknowledgements keep pairing with checkpoints.
                    self.end_pass_through();
                    self.release_credits = queued.into();
                }
                let packets = self.take_epoch();
                self.closed.push(packets);
                if self.release_credits > 0 {
                    Wake::Queue
                } else {
                    Wake::No
                }
            }
            Command::ReleaseOne => {
                let acked = self.closed.ack();
                self.release_credits = self.release_credits.saturating_add(acked.into());
                if acked > 0 {
                    Wake::Queue
                } else {
                    Wake::No
                }
            }
            Command::ReleaseIndefinite => {
                self.pass_through = true;
                self.release_credits = INDEFINITE;
                self.closed.clear();
                self.current_epoch = 0;
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

    /// The queue was purged (device down, carrier loss, graft).
    pub fn reset(&mut self) {
        // The epochs are emptied but kept: forgetting them would make the
        // next acknowledgement release a later epoch. (The C plug keeps its
        // counters, which then release packets of epochs that were never
        // acknowledged: defect D2.)
        self.current_epoch = 0;
        self.closed.forget_packets();
        if !self.pass_through {
            self.release_credits = 0;
        }
    }

    /// The plug's counters, for the extended stats.
    pub fn stats(&self) -> Stats {
        Stats {
            limit: self.limit,
            pass_through: u32::from(self.pass_through),
            current_epoch: if self.pass_through {
                0
            } else {
                saturate(self.current_epoch)
            },
            // Cannot truncate: at most `MAX_CLOSED_EPOCHS`.
            closed_epochs: self.closed.len as u32,
            closed_packets: self.closed.packets(),
            release_credits: if self.pass_through {
                0
            } else {
                saturate(self.release_credits)
            },
        }
    }
}

/// Host-only access to states that take billions of operations to reach,
/// so that tests can start right at the bounds of every counter. Not part
/// of the module: the kernel's Rust target has `target_os = "none"`.
#[cfg(not(target_os = "none"))]
pub mod bounds {
    use super::{PlugState, MAX_CLOSED_EPOCHS};

    impl PlugState {
        /// Sets the count of packets of the open epoch.
        pub fn set_current_epoch(&mut self, packets: u64) {
            self.current_epoch = packets;
        }

        /// Sets the release credits.
        pub fn set_release_credits(&mut self, credits: u64) {
            self.release_credits = credits;
        }

        /// Fills the ring of closed epochs (one packet each, one ack
        /// each), then sets the newest one's packets and acknowledgements.
        pub fn fill_closed(&mut self, newest_packets: u32, newest_acks: u32) {
            self.closed.clear();
            for _ in 0..MAX_CLOSED_EPOCHS {
                self.closed.push(1);
            }
            let newest = &mut self.closed.ring
                [(self.closed.head + MAX_CLOSED_EPOCHS - 1) % MAX_CLOSED_EPOCHS];
            newest.packets = newest_packets;
            newest.acks = newest_acks;
        }
    }
}
