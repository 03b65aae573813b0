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
//! - `TCQ_PLUG_RELEASE_INDEFINITE` releases all, and passes packets until a buffer;
//! - `TCQ_PLUG_LIMIT` sets the queue's byte limit.
//!
//! A Rust port of `net/sched/sch_plug.c`; the epoch rules are in `epoch.rs`.
//! Unlike the C module, output commit holds in every case: its defects
//! D1-D4 (`docs/c-plug.md` §3) are fixed, and it behaves as C elsewhere.
//!
//! Held packets keep their sockets, as in C: a socket's send buffer and
//! TCP's small queues bound what one socket has held, and TCP, seeing its
//! segment still in a host queue, does not send it again into the plug.
//! Unlike C, a plug that holds packets looks every [`OWNER_SCAN_MS`] for
//! packets whose socket was closed and lets go of their sockets: those
//! packets alone would keep a deleted network namespace, and the plug in
//! it, alive for as long as they are held.

#![deny(unsafe_code)]

use crate::epoch::{default_limit, OptError, Options, PlugState, Wake};
use crate::qdisc::{
    Control, Discipline, Dump, ExtAck, MtuChange, NetXmit, Qdisc, SkBuff, StatsDump, ToFree,
};
use kernel::{c_str, prelude::*};

/// How often, in milliseconds, a plug that holds packets lets go of the
/// sockets that only its packets keep alive ([`Qdisc::orphan_gone_owners`]).
const OWNER_SCAN_MS: u32 = 1000;

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

#[vtable]
impl Discipline for Plug {
    const KIND: &'static CStr = c_str!("plug");

    fn init(
        sch: &Qdisc<Self>,
        options: Option<&[u8]>,
        extack: &mut ExtAck<'_>,
    ) -> Result<impl PinInit<Self, Error>> {
        let default_limit = default_limit(sch.dev_tx_queue_len(), sch.dev_psched_mtu());
        let state = match options {
            None => PlugState::new(default_limit),
            Some(payload) => Options::parse(payload)
                .and_then(|opt| PlugState::with_options(opt, default_limit))
                .map_err(|e| reject(extack, e))?,
        };
        // In pass-through an empty queue lets a packet go at once (bypass).
        sch.set_bypass(state.may_bypass(sch.max_packet_len()));
        if state.holds() {
            sch.arm_timer(OWNER_SCAN_MS);
        }
        Ok(crate::qdisc::value(Plug(state)))
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
        sch.enqueue_tail(skb)
    }

    #[inline]
    fn dequeue(mut self: Pin<&mut Self>, sch: &Qdisc<Self>) -> Option<SkBuff> {
        // The head first, then a credit for it (PlugState::take_credit).
        sch.dequeue_head_if(|| self.0.take_credit())
    }

    fn change(sch: &mut Control<'_, Self>, options: &[u8], extack: &mut ExtAck<'_>) -> Result {
        let command = Options::parse(options)
            .and_then(|opt| opt.command())
            .map_err(|e| reject(extack, e))?;
        let mut locked = sch.lock();
        let (mut plug, sch) = locked.parts();
        let wake = plug.0.apply(command, sch.queued());
        if plug.0.holds() {
            sch.arm_timer(OWNER_SCAN_MS);
        }
        sch.set_bypass(plug.0.may_bypass(sch.max_packet_len()));
        if wake == Wake::Queue {
            sch.schedule();
        }
        Ok(())
    }

    fn mtu_change(sch: &mut Control<'_, Self>, change: MtuChange) {
        // The longest packet grows with the MTU: bypass off, then decided.
        let mut locked = sch.lock();
        let (plug, sch) = locked.parts();
        sch.set_bypass(change == MtuChange::Done && plug.0.may_bypass(sch.max_packet_len()));
    }

    fn timer(self: Pin<&mut Self>, sch: &Qdisc<Self>) {
        // Pass-through lets its packets go as the device takes them.
        if self.0.holds() {
            sch.orphan_gone_owners();
            sch.arm_timer(OWNER_SCAN_MS);
        }
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
