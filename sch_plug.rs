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

use crate::epoch::{default_limit, OptError, Options, Path, PlugState, Rules, Wake};
use crate::qdisc::{
    params, Control, DataPath, Discipline, Dump, ExtAck, MtuChange, NetXmit, Qdisc, SkBuff,
    StatsDump, ToFree,
};
use kernel::{c_str, prelude::*};

/// One plug qdisc.
pub(crate) struct Plug(PlugState);

/// Rejects a `tc_plug_qopt` with `-EINVAL` and says why.
fn reject(extack: &mut ExtAck<'_>, err: OptError) -> Error {
    extack.set_message(match err {
        OptError::Short => c_str!("plug: options shorter than struct tc_plug_qopt (8 bytes)"),
        OptError::UnknownAction => c_str!(
            "plug: unknown action (valid: 0 buffer, 1 release one, 2 release indefinite, 3 limit)"
        ),
    });
    EINVAL
}

/// What the layer runs for a plug's packets in its present state: a
/// plug in pass-through is the layer's byte FIFO, and a buffering plug with
/// no credit left a queue that releases nothing, with no test of the
/// plug's state per packet.
fn data_path(plug: &PlugState) -> DataPath {
    match plug.path() {
        Path::Own => DataPath::Own,
        Path::Hold => DataPath::Hold,
        Path::Fifo => DataPath::ByteFifo {
            limit: plug.limit(),
        },
    }
}

#[vtable]
impl Discipline for Plug {
    const KIND: &'static CStr = c_str!("plug");

    fn init(
        sch: &Qdisc<Self>,
        options: Option<&[u8]>,
        extack: &mut ExtAck<'_>,
    ) -> Result<impl PinInit<Self, Error>> {
        let rules = Rules::from_c_quirks(params::c_quirks());
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
        sch.set_data_path(data_path(&state));
        Ok(Plug(state))
    }

    #[inline]
    fn enqueue(
        mut self: Pin<&mut Self>,
        sch: &Qdisc<Self>,
        skb: SkBuff,
        to_free: &mut ToFree<'_>,
    ) -> NetXmit {
        if !self.0.admit(sch.backlog(), skb.len()) {
            return sch.drop_packet(skb, to_free);
        }
        // A held packet lets go of its socket, which would hold the
        // sender's namespace, and so the device and this plug: a namespace
        // deleted while its packets wait would never be freed. netem, whose
        // delays end by themselves, keeps a socket reference
        // (`skb_orphan_partial`); a plug's hold ends only when userspace
        // says so, so it lets go entirely (`skb_orphan`). The sender loses
        // the send-buffer accounting of what the plug holds (at most
        // `limit` bytes); in pass-through, where backpressure paces a flow,
        // packets keep their socket until the device is done.
        if skb.has_destructor() && self.0.holds() {
            return sch.enqueue_tail_orphan(skb);
        }
        sch.enqueue_tail(skb)
    }

    #[inline]
    fn dequeue(mut self: Pin<&mut Self>, sch: &Qdisc<Self>) -> Option<SkBuff> {
        // After the last credit the layer's `Hold` answers for the plug.
        self.0.release(|plug| {
            sch.dequeue_head_if(|| plug.take_credit(|plug| sch.set_data_path(data_path(plug))))
        })
    }

    fn change(sch: &mut Control<'_, Self>, options: &[u8], extack: &mut ExtAck<'_>) -> Result {
        let command = Options::parse(options)
            .and_then(|opt| opt.command())
            .map_err(|e| reject(extack, e))?;
        let mut locked = sch.lock();
        let (mut plug, sch) = locked.parts();
        let held = plug.0.holds();
        let wake = plug.0.apply(command, sch.queued());
        if plug.0.holds() && !held {
            // Packets queued in pass-through may now wait (the C rules
            // strand them, D4): none may keep a socket (see `enqueue`).
            sch.orphan_queued();
        }
        // Off before a buffering plug sees its next packet: the core tests
        // the flag under the lock held here.
        sch.set_bypass(plug.0.may_bypass(sch.max_packet_len()));
        sch.set_data_path(data_path(&plug.0));
        if wake == Wake::Queue {
            sch.schedule();
        }
        Ok(())
    }

    fn mtu_change(sch: &mut Control<'_, Self>, change: MtuChange) {
        // Bypass is on only while the limit fits the longest packet the
        // device can get, which grows with the MTU: off before a packet of
        // the new size can come, then decided again for the new MTU.
        let mut locked = sch.lock();
        let (plug, sch) = locked.parts();
        sch.set_bypass(change == MtuChange::Done && plug.0.may_bypass(sch.max_packet_len()));
    }

    fn reset(mut self: Pin<&mut Self>) {
        self.0.reset();
    }

    fn dump(sch: &mut Control<'_, Self>, dump: &mut Dump<'_>) -> Result {
        let limit = sch.lock().state().0.limit();
        dump.options(&Options::replay_limit(limit).to_bytes())
    }

    fn dump_stats(sch: &mut Control<'_, Self>, dump: &mut StatsDump<'_>) -> Result {
        let stats = sch.lock().state().0.stats();
        dump.app(&stats.to_bytes())
    }
}
