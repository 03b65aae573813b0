// SPDX-License-Identifier: GPL-2.0

//! `rpinned`: a byte-limited FIFO whose state uses what the layer's
//! lifecycle promises: it is built in place (a spinlock, which must not
//! move), owns memory (a boxed table) and is dropped on destroy. Each qdisc
//! counts the packets it took by length, under its own lock; its dump gives
//! the limit, that count and the number of states alive in the module, so
//! that a test can follow them through creates, failed creates, deletes and
//! a namespace's deletion.

#![deny(unsafe_code)]
// The layer, with its `unsafe`, as this module's copy; the discipline has none.
#[allow(dead_code, unreachable_pub, unsafe_code)]
#[path = "../qdisc/mod.rs"]
mod qdisc;
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{c_str, new_spinlock, prelude::*, sync::SpinLock};
use qdisc::{Control, Discipline, Dump, ExtAck, NetXmit, Peek, Qdisc, SkBuff, ToFree};
qdisc::module_qdisc! {
    discipline: Pinned,
    name: "sch_rpinned",
    authors: ["sch_plug-rs developers"],
    description: "Byte FIFO with a pinned, dropped state (test of the qdisc layer)",
    license: "GPL",
    alias: ["net-sch-rpinned"],
}

/// States alive, over every qdisc of the kind.
static LIVE: AtomicU32 = AtomicU32::new(0);

/// Packets taken, by length in 128-byte steps (the last counts the rest).
type Seen = KBox<[u32; 16]>;

#[pin_data(PinnedDrop)]
struct Pinned {
    limit: u32,
    #[pin]
    seen: SpinLock<Seen>,
}

#[pinned_drop]
// pin-init's `#[pinned_drop]` (6.15+) writes an `unsafe impl` here; 6.12's
// macro rejects a plain attribute in its input, but not this one.
#[cfg_attr(kernel_6_19, allow(unsafe_code))]
impl PinnedDrop for Pinned {
    fn drop(self: Pin<&mut Self>) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

#[vtable]
impl Discipline for Pinned {
    const KIND: &'static CStr = c_str!("rpinned");
    const PEEK: Peek = Peek::Head;

    fn init(
        _sch: &Qdisc<Self>,
        options: Option<&[u8]>,
        extack: &mut ExtAck<'_>,
    ) -> Result<impl PinInit<Self, Error>> {
        let limit = match options.map(|o| o.first_chunk().map(|l| u32::from_ne_bytes(*l))) {
            None => 64 * 1024,
            Some(Some(limit)) => limit,
            Some(None) => {
                extack.set_message(c_str!("rpinned: options shorter than a 32-bit limit"));
                return Err(EINVAL);
            }
        };
        let seen: Seen = KBox::new([0; 16], GFP_KERNEL)?;
        // Nothing fails after this: the initialiser below cannot.
        LIVE.fetch_add(1, Ordering::Relaxed);
        Ok(try_pin_init!(Self { limit, seen <- new_spinlock!(seen, "rpinned") }))
    }

    #[inline]
    fn enqueue(
        self: Pin<&mut Self>,
        sch: &Qdisc<Self>,
        skb: SkBuff,
        to_free: &mut ToFree<'_>,
    ) -> NetXmit {
        if u64::from(sch.backlog()) + u64::from(skb.len()) > u64::from(self.limit) {
            return sch.drop_packet(skb, to_free);
        }
        self.seen.lock()[(skb.len() / 128).min(15) as usize] += 1;
        sch.enqueue_tail(skb)
    }

    #[inline]
    fn dequeue(self: Pin<&mut Self>, sch: &Qdisc<Self>) -> Option<SkBuff> {
        sch.dequeue_head()
    }

    fn dump(sch: &mut Control<'_, Self>, dump: &mut Dump<'_>) -> Result {
        let (limit, taken) = {
            let mut locked = sch.lock();
            let state = locked.state();
            let taken = state.seen.lock().iter().sum::<u32>();
            (state.limit, taken)
        };
        let live = LIVE.load(Ordering::Relaxed);
        let mut options = [0; 12];
        for (out, v) in options.chunks_exact_mut(4).zip([limit, taken, live]) {
            out.copy_from_slice(&v.to_ne_bytes());
        }
        dump.options(&options)
    }
}
