// SPDX-License-Identifier: GPL-2.0

//! `rbfifo`: `bfifo` ([`net/sched/sch_fifo.c`](srctree/net/sched/sch_fifo.c)) on the qdisc layer.

#![deny(unsafe_code)]
// The layer, with its `unsafe`, as this module's copy; the discipline has none.
#[allow(dead_code, unreachable_pub, unsafe_code)]
#[path = "../qdisc/mod.rs"]
mod qdisc;
use kernel::{c_str, prelude::*};
use qdisc::{Control, Discipline, Dump, ExtAck, NetXmit, Peek, Qdisc, SkBuff, ToFree};
qdisc::module_qdisc! {
    discipline: Fifo,
    name: "sch_rbfifo",
    authors: ["sch_plug-rs developers"],
    description: "Byte-limited FIFO (Rust sample of the qdisc layer)",
    license: "GPL",
    alias: ["net-sch-rbfifo"],
}

struct Fifo(u32); // The limit in bytes.

/// The limit in `struct tc_fifo_qopt`; bypass, as bfifo, if a full-size packet fits.
fn limit(sch: &Qdisc<Fifo>, options: &[u8], extack: &mut ExtAck<'_>) -> Result<u32> {
    let Some(limit) = options.first_chunk().map(|l| u32::from_ne_bytes(*l)) else {
        extack.set_message(c_str!("rbfifo: options shorter than struct tc_fifo_qopt"));
        return Err(EINVAL);
    };
    sch.set_bypass(limit >= sch.dev_psched_mtu());
    Ok(limit)
}

#[vtable]
impl Discipline for Fifo {
    const KIND: &'static CStr = c_str!("rbfifo");
    const PEEK: Peek = Peek::Head;

    fn init(
        sch: &Qdisc<Self>,
        options: Option<&[u8]>,
        extack: &mut ExtAck<'_>,
    ) -> Result<impl PinInit<Self, Error>> {
        let default = sch
            .dev_tx_queue_len()
            .wrapping_mul(sch.dev_psched_mtu())
            .to_ne_bytes();
        Ok(qdisc::value(Fifo(limit(
            sch,
            options.unwrap_or(&default),
            extack,
        )?)))
    }

    #[inline] // Into the layer's trampoline, as a C qdisc's own function is.
    fn enqueue(
        self: Pin<&mut Self>,
        sch: &Qdisc<Self>,
        skb: SkBuff,
        to_free: &mut ToFree<'_>,
    ) -> NetXmit {
        if sch.backlog().wrapping_add(skb.pkt_len()) <= self.0 {
            sch.enqueue_tail(skb)
        } else {
            sch.drop_packet(skb, to_free)
        }
    }

    #[inline]
    fn dequeue(self: Pin<&mut Self>, sch: &Qdisc<Self>) -> Option<SkBuff> {
        sch.dequeue_head()
    }

    fn change(sch: &mut Control<'_, Self>, options: &[u8], extack: &mut ExtAck<'_>) -> Result {
        let mut locked = sch.lock();
        let (mut fifo, sch) = locked.parts();
        fifo.0 = limit(sch, options, extack)?;
        Ok(())
    }

    fn dump(sch: &mut Control<'_, Self>, dump: &mut Dump<'_>) -> Result {
        dump.options(&sch.lock().state().0.to_ne_bytes())
    }
}
