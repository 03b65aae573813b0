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
//! `epoch.rs`; this file connects them to the qdisc's queue.

#![deny(unsafe_code)]

use crate::epoch::{OptError, Options, PlugState, Wake};
use crate::qdisc::{Discipline, ExtAck, NetXmit, Qdisc, SkBuff, ToFree};
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
        let limit = match options {
            // A device's worth of full-size packets. Saturating where the C
            // product wraps (a wrapped limit would drop nearly everything).
            None => sch.dev_tx_queue_len().saturating_mul(sch.dev_psched_mtu()),
            // As in 6.12, a create takes the limit of its options and ignores
            // their action.
            Some(payload) => {
                Options::parse(payload)
                    .map_err(|e| reject(extack, e))?
                    .limit
            }
        };
        Ok(Plug(PlugState::new(limit)))
    }

    fn enqueue(&mut self, sch: &Qdisc<Self>, skb: SkBuff, to_free: &mut ToFree) -> NetXmit {
        if self.0.admit(sch.backlog(), skb.len()) {
            sch.enqueue_tail(skb)
        } else {
            sch.drop(skb, to_free)
        }
    }

    fn dequeue(&mut self, sch: &Qdisc<Self>) -> Option<SkBuff> {
        if !self.0.take_credit() {
            return None;
        }
        sch.dequeue_head()
    }

    fn change(&mut self, sch: &Qdisc<Self>, options: &[u8], extack: &mut ExtAck) -> Result {
        let command = Options::parse(options)
            .and_then(|opt| opt.command())
            .map_err(|e| reject(extack, e))?;
        if self.0.apply(command) == Wake::Queue {
            sch.schedule();
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.0.reset();
    }
}
