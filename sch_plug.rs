// SPDX-License-Identifier: GPL-2.0

//! The `plug` queueing discipline: hold packets until told to release them.
//!
//! Checkpointing systems (Xen Remus, micro-checkpointing, live migration)
//! put a plug on a device to implement output commit: the packets a machine
//! sends during an epoch are buffered, and leave only once the checkpoint of
//! that epoch is acknowledged. Userspace drives the plug with `tc` (or libnl,
//! or pyroute2) through `struct tc_plug_qopt`:
//!
//! - `TCQ_PLUG_BUFFER` closes the current epoch; what follows is buffered;
//! - `TCQ_PLUG_RELEASE_ONE` releases the packets of the last closed epoch;
//! - `TCQ_PLUG_RELEASE_INDEFINITE` releases everything and passes packets
//!   through until the next `TCQ_PLUG_BUFFER`;
//! - `TCQ_PLUG_LIMIT` sets the queue's byte limit.
//!
//! A Rust port of `net/sched/sch_plug.c`. The epoch rules are in
//! `epoch.rs`; this file connects them to the qdisc's queue. Unlike the C
//! module, output commit holds in every case; the module parameter
//! `c_quirks` restores the 6.12 behaviour for new plugs.

#![deny(unsafe_code)]

use crate::epoch::{default_limit, OptError, Options, PlugState, Rules, Wake};
use crate::qdisc::{
    params, Discipline, Dump, ExtAck, MtuChange, NetXmit, Qdisc, SkBuff, StatsDump, ToFree,
};
use kernel::{c_str, prelude::*};

/// One plug qdisc.
pub(crate) struct Plug(PlugState);

/// Rejects a `tc_plug_qopt` with `-EINVAL` and says why.
fn reject(extack: &mut ExtAck, err: OptError) -> Error {
    extack.set_message(match err {
        OptError::Short => c_str!("plug: options shorter than struct tc_plug_qopt (8 bytes)"),
        OptError::UnknownAction => c_str!(
            "plug: unknown action (valid: 0 buffer, 1 release one, 2 release indefinite, 3 limit)"
        ),
    });
    EINVAL
}

#[vtable]
impl Discipline for Plug {
    const KIND: &'static CStr = c_str!("plug");

    fn init(sch: &Qdisc<Self>, options: Option<&[u8]>, extack: &mut ExtAck) -> Result<Self> {
        let rules = if params::c_quirks() {
            Rules::C
        } else {
            Rules::Commit
        };
        let default_limit = default_limit(rules, sch.dev_tx_queue_len(), sch.dev_psched_mtu());
        let state = match options {
            None => PlugState::new(rules, default_limit),
            Some(payload) => Options::parse(payload)
                .and_then(|opt| PlugState::with_options(rules, opt, default_limit))
                .map_err(|e| reject(extack, e))?,
        };
        // In pass-through a packet that finds the queue empty leaves at
        // once: the core may as well send it without queueing it.
        sch.set_bypass(state.may_bypass(sch.max_packet_len()));
        Ok(Plug(state))
    }

    #[inline]
    fn enqueue(&mut self, sch: &Qdisc<Self>, mut skb: SkBuff, to_free: &mut ToFree) -> NetXmit {
        if !self.0.admit(sch.backlog(), skb.len()) {
            return sch.drop_packet(skb, to_free);
        }
        // A held packet lets go of its socket: through the socket it
        // would hold the sender's network namespace, and the namespace the
        // device and this plug, so a namespace deleted while its packets
        // wait for an acknowledgement would never be freed (nor the module
        // unloaded). netem, whose delays end by themselves, only settles the
        // send-buffer accounting and keeps a socket reference
        // (`skb_orphan_partial`); a plug's hold ends only when userspace
        // says so, so it lets go entirely (`skb_orphan`). The packet stays
        // until released, or purged with its device when the namespace
        // goes. The sender loses the send-buffer accounting of packets that
        // the plug holds anyway, at most `limit` bytes; in pass-through,
        // where backpressure (socket buffer, TCP small queues) paces a
        // flow, packets keep their socket until the device is done.
        if self.0.holds() {
            skb.orphan();
        }
        sch.enqueue_tail(skb)
    }

    #[inline]
    fn dequeue(&mut self, sch: &Qdisc<Self>) -> Option<SkBuff> {
        self.0.release(|| sch.dequeue_head())
    }

    fn change(&mut self, sch: &Qdisc<Self>, options: &[u8], extack: &mut ExtAck) -> Result {
        let command = Options::parse(options)
            .and_then(|opt| opt.command())
            .map_err(|e| reject(extack, e))?;
        let held = self.0.holds();
        let wake = self.0.apply(command, sch.queued());
        if self.0.holds() && !held {
            // Packets queued in pass-through may now wait (the C rules
            // strand them, D4): none may keep a socket (see `enqueue`).
            sch.orphan_queued();
        }
        // Off before a buffering plug sees its next packet: the core tests
        // the flag under the lock held here.
        sch.set_bypass(self.0.may_bypass(sch.max_packet_len()));
        if wake == Wake::Queue {
            sch.schedule();
        }
        Ok(())
    }

    fn mtu_change(&mut self, sch: &Qdisc<Self>, change: MtuChange) {
        // Bypass is on only while the limit fits the longest packet the
        // device can get, which grows with the MTU: off before a packet of
        // the new size can come, then decided again for the new MTU.
        sch.set_bypass(change == MtuChange::Done && self.0.may_bypass(sch.max_packet_len()));
    }

    fn reset(&mut self) {
        self.0.reset();
    }

    fn dump(&self, dump: &mut Dump) -> Result {
        dump.options(&Options::replay_limit(self.0.limit()).to_bytes())
    }

    fn dump_stats(&self, dump: &mut StatsDump) -> Result {
        let st = self.0.stats();
        // `struct tc_plug_xstats` (README.md): seven native-endian __u32.
        let fields = [
            st.limit,
            st.pass_through,
            st.current_epoch,
            st.closed_epochs,
            st.closed_packets,
            st.release_credits,
            st.c_quirks,
        ];
        let mut xstats = [0u8; 28];
        for (out, field) in xstats.chunks_exact_mut(4).zip(fields) {
            out.copy_from_slice(&field.to_ne_bytes());
        }
        dump.app(&xstats)
    }
}
