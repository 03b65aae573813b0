// SPDX-License-Identifier: GPL-2.0

//! A safe layer over the kernel's queueing discipline API
//! (`include/net/sch_generic.h`), in the style of `kernel::net::phy`.
//!
//! A discipline implements [`Discipline`]; [`Registration`] builds the C
//! `struct Qdisc_ops` from it and registers it for as long as the value
//! lives. The discipline's value lives in the qdisc's private area and is
//! only ever reached through `&mut self` while the qdisc's root lock is held
//! (or before the qdisc is published), so enqueue, dequeue, reset and change
//! never race.
//!
//! All `unsafe` code of the module is in this directory.

mod bindings;
mod registration;
mod skb;

pub(crate) use registration::Registration;
pub(crate) use skb::{SkBuff, ToFree};

use core::{
    marker::PhantomData,
    mem::MaybeUninit,
    sync::atomic::{AtomicI64, Ordering},
};
use kernel::{prelude::*, types::Opaque};

// `kernel::error::code` of 6.12 has no `EMSGSIZE`: "message too long", what a
// full netlink message is.
fn emsgsize() -> Error {
    Error::from_errno(-(kernel::bindings::EMSGSIZE as i32))
}

/// Result of an enqueue, what `NET_XMIT_*` tells the caller of `dev_queue_xmit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum NetXmit {
    /// The packet was queued (`NET_XMIT_SUCCESS`).
    Success = bindings::NET_XMIT_SUCCESS,
    /// The packet was dropped (`NET_XMIT_DROP`).
    Drop = bindings::NET_XMIT_DROP,
}

/// A queueing discipline: what a qdisc kind does with packets.
///
/// The implementing type is the per-qdisc state; it is stored in the qdisc's
/// private area. It must not need dropping (the qdisc core frees that area
/// without running destructors), which the layer checks at compile time.
/// It is `Send`: the callbacks run on whichever CPU holds the qdisc's lock.
#[vtable]
pub(crate) trait Discipline: Sized + Send {
    /// The kind string (`tc qdisc add … <KIND>`), at most 15 bytes.
    const KIND: &'static CStr;

    /// Creates the state of a new qdisc (`->init`).
    ///
    /// `options` is the payload of `TCA_OPTIONS`, `None` when the request
    /// carried none (a bare `tc qdisc add … plug`). On error the qdisc is not
    /// created. Runs under RTNL before the qdisc is visible to the data path.
    fn init(sch: &Qdisc<Self>, options: Option<&[u8]>, extack: &mut ExtAck) -> Result<Self>;

    /// Takes a packet from the stack (`->enqueue`): queue it with
    /// [`Qdisc::enqueue_tail`] or drop it with [`Qdisc::drop_packet`].
    fn enqueue(&mut self, sch: &Qdisc<Self>, skb: SkBuff, to_free: &mut ToFree) -> NetXmit;

    /// Hands the next packet to the device (`->dequeue`), `None` if none may
    /// leave now. The `->peek` slot, which sch_api.c requires whenever
    /// `->dequeue` is set, is the generic `qdisc_peek_dequeued`: a peek
    /// dequeues and parks the packet, so a parent's peek counts as a dequeue.
    fn dequeue(&mut self, sch: &Qdisc<Self>) -> Option<SkBuff>;

    /// Applies new options (`->change`), called by sch_api.c only when a
    /// change or replace request carries `TCA_OPTIONS`. Runs under RTNL with
    /// the qdisc tree lock held. Without it (`HAS_CHANGE` false) such
    /// requests fail with `-EINVAL` ("Change operation not supported by
    /// specified qdisc", `qdisc_change()` in sch_api.c).
    fn change(&mut self, _sch: &Qdisc<Self>, _options: &[u8], _extack: &mut ExtAck) -> Result {
        kernel::build_error(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The queue was just purged (`->reset`: device down, carrier loss,
    /// graft). The layer empties the queue itself; this hook is for the
    /// discipline's own state.
    fn reset(&mut self) {}

    /// Reports the configuration in a dump (`->dump`, `tc qdisc show`),
    /// typically with [`Dump::options`]. Runs under RTNL with the qdisc tree
    /// lock held. Without it (`HAS_DUMP` false) dumps carry no `TCA_OPTIONS`.
    fn dump(&self, _dump: &mut Dump) -> Result {
        kernel::build_error(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Reports extended statistics (`->dump_stats`, `TCA_XSTATS`,
    /// `tc -s qdisc show`), with [`StatsDump::app`]. Runs under RTNL with
    /// the qdisc tree lock held.
    fn dump_stats(&self, _dump: &mut StatsDump) -> Result {
        kernel::build_error(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The MTU of the device this qdisc transmits on is about to change
    /// ([`MtuChange::Pending`], `NETDEV_PRECHANGEMTU`) or has changed
    /// ([`MtuChange::Done`], `NETDEV_CHANGEMTU`). Called for the qdiscs of
    /// the kind attached to the device's transmit queues (a root qdisc, or
    /// the children of `mq`), under RTNL with the qdisc tree lock held. With
    /// it (`HAS_MTU_CHANGE`), the registration also registers a netdevice
    /// notifier; a discipline whose decisions depend on the MTU (as
    /// [`Qdisc::set_bypass`] does) recomputes them here.
    fn mtu_change(&mut self, _sch: &Qdisc<Self>, _change: MtuChange) {
        kernel::build_error(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The phase of a device MTU change, see [`Discipline::mtu_change`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MtuChange {
    /// About to change; packets of the new size may follow at any moment.
    Pending,
    /// Changed: [`Qdisc::max_packet_len`] reports the new bound.
    Done,
}

/// The netlink message of a qdisc dump being built.
///
/// # Invariants
///
/// The pointer is the `skb` of the running `->dump` callback.
pub(crate) struct Dump(*mut bindings::sk_buff);

impl Dump {
    /// Puts `payload` as the qdisc's `TCA_OPTIONS` attribute (`nla_put`).
    /// Fails with `EMSGSIZE` when the message is full.
    pub(crate) fn options(&mut self, payload: &[u8]) -> Result {
        let len = i32::try_from(payload.len()).map_err(|_| emsgsize())?;
        // SAFETY: The skb is the message being built (type invariant);
        // `payload` is valid for `len` bytes and copied by `nla_put`.
        let ret =
            unsafe { bindings::sch_plug_nla_put_options(self.0, len, payload.as_ptr().cast()) };
        if ret < 0 {
            return Err(emsgsize());
        }
        Ok(())
    }
}

/// The statistics part of a qdisc dump being built.
///
/// # Invariants
///
/// The pointer is the `gnet_dump` of the running `->dump_stats` callback.
pub(crate) struct StatsDump(*mut bindings::gnet_dump);

impl StatsDump {
    /// Puts `xstats` as the qdisc's extended statistics (`TCA_XSTATS`,
    /// `gnet_stats_copy_app`).
    pub(crate) fn app(&mut self, xstats: &[u8]) -> Result {
        let len = i32::try_from(xstats.len()).map_err(|_| emsgsize())?;
        // SAFETY: The dump is the running one (type invariant);
        // `gnet_stats_copy_app` copies `len` bytes from the valid `xstats`
        // and does not write through the pointer despite its type.
        let ret = unsafe {
            bindings::sch_plug_copy_xstats(self.0, xstats.as_ptr().cast_mut().cast(), len)
        };
        if ret < 0 {
            return Err(emsgsize());
        }
        Ok(())
    }
}

/// What a qdisc's private area holds.
///
/// The core allocates the area zeroed (`qdisc_alloc` uses `kzalloc`), which
/// is a valid `Private<T>` with `ready == false`: it stays so until init
/// succeeds. Only `->reset` can run on a qdisc whose init failed (when a
/// default qdisc is created and its init fails, `qdisc_put` resets it), and
/// it checks `ready`; the other callbacks only run after a successful init.
struct Private<T> {
    state: MaybeUninit<T>,
    ready: bool,
    /// Packets on the qdisc's list (`sch->q`). The core's `sch->q.qlen`
    /// also counts packets that it parks outside the list after they were
    /// dequeued: in `gso_skb` (a parent's peek, a requeue) and, for a root
    /// qdisc on a multiqueue device, in `skb_bad_txq` (bulk dequeue). Only
    /// this layer's enqueue, dequeue and reset change the list, so it
    /// counts it itself rather than guess which of those the core added.
    queued: u32,
}

/// A qdisc whose private area holds a `T`.
///
/// # Invariants
///
/// A `&Qdisc<T>` is only created for a live qdisc of our kind and only while
/// the holder has exclusive access to its queue and private area: the root
/// qdisc lock is held (enqueue, dequeue, reset, change), or the qdisc is not
/// yet visible to the data path (init).
#[repr(transparent)]
pub(crate) struct Qdisc<T>(Opaque<bindings::Qdisc>, PhantomData<T>);

impl<T: Discipline> Qdisc<T> {
    /// # Safety
    ///
    /// `ptr` is a live qdisc whose ops are `Registration<T>`'s, and the
    /// caller has exclusive access to it as the type invariant describes for
    /// as long as `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::Qdisc) -> &'a Self {
        // SAFETY: `Qdisc<T>` is `repr(transparent)` over `Opaque<Qdisc>`,
        // which has the layout of `Qdisc`; validity is the caller's promise.
        unsafe { &*ptr.cast::<Self>() }
    }

    fn as_raw(&self) -> *mut bindings::Qdisc {
        self.0.get()
    }

    /// The private area (`qdisc_priv()`).
    fn private(&self) -> *mut Private<T> {
        // SAFETY: The qdisc is valid (type invariant); this only computes the
        // address of its trailing `privdata`, as `qdisc_priv()` does.
        unsafe { core::ptr::addr_of_mut!((*self.as_raw()).privdata).cast() }
    }

    /// Packets in the queue not yet handed out: the length of the qdisc's
    /// own list, without what the core parked after dequeueing it (see
    /// [`Private`]'s `queued`).
    #[inline]
    pub(crate) fn queued(&self) -> u32 {
        // SAFETY: The qdisc is valid and locked (type invariant), so its
        // private area, a valid `Private<T>` from allocation on, is ours.
        unsafe { (*self.private()).queued }
    }

    /// Updates the count of packets on the list. It cannot leave
    /// `0..=sch->q.qlen`; the callers wrap, as the C counters do.
    #[inline]
    fn update_queued(&self, f: impl FnOnce(u32) -> u32) {
        // SAFETY: As in `queued`; the lock holder is the only writer.
        unsafe {
            let queued = core::ptr::addr_of_mut!((*self.private()).queued);
            *queued = f(*queued);
        }
    }

    /// Bytes queued (`sch->qstats.backlog`).
    #[inline]
    pub(crate) fn backlog(&self) -> u32 {
        // SAFETY: The qdisc is valid and we have exclusive access to its
        // queue and counters (type invariant).
        unsafe { (*self.as_raw()).qstats.backlog }
    }

    // The data path below is `qdisc_enqueue_tail()`, `qdisc_dequeue_head()`
    // and `qdisc_drop()` of <net/sch_generic.h>, written out in Rust so that
    // it is inlined into the discipline as the C disciplines get it: through
    // out-of-line C helpers a packet paid two more calls. Counters wrap as
    // they do in C.

    /// Queues `skb` at the tail and accounts its bytes (`qdisc_enqueue_tail`).
    #[inline]
    pub(crate) fn enqueue_tail(&self, skb: SkBuff) -> NetXmit {
        let len = skb.pkt_len();
        let skb = skb.into_raw();
        let sch = self.as_raw();
        // SAFETY: The qdisc is valid and locked (type invariant), so its
        // queue and counters are ours to update; `skb` was ours and is on no
        // list, so the queue can take it over and link it. The tail, when
        // there is one, is a buffer on this queue.
        unsafe {
            let q = core::ptr::addr_of_mut!((*sch).q);
            *skb::next(skb) = core::ptr::null_mut();
            let tail = (*q).tail;
            if tail.is_null() {
                (*q).head = skb;
            } else {
                *skb::next(tail) = skb;
            }
            (*q).tail = skb;
            (*q).qlen = (*q).qlen.wrapping_add(1);
            (*sch).qstats.backlog = (*sch).qstats.backlog.wrapping_add(len);
        }
        self.update_queued(|n| n.wrapping_add(1));
        NetXmit::Success
    }

    /// Takes the packet at the head, accounting it as sent
    /// (`qdisc_dequeue_head`).
    #[inline]
    pub(crate) fn dequeue_head(&self) -> Option<SkBuff> {
        let sch = self.as_raw();
        // SAFETY: The qdisc is valid and locked (type invariant); the head,
        // if any, is a buffer on its queue, which we unlink.
        let skb = unsafe {
            let q = core::ptr::addr_of_mut!((*sch).q);
            let skb = (*q).head;
            if skb.is_null() {
                return None;
            }
            let next = skb::next(skb);
            (*q).head = *next;
            if (*q).head.is_null() {
                (*q).tail = core::ptr::null_mut();
            }
            *next = core::ptr::null_mut();
            (*q).qlen = (*q).qlen.wrapping_sub(1);
            // SAFETY: Unlinked above: the buffer is ours now.
            SkBuff::from_raw(skb)
        };
        self.update_queued(|n| n.wrapping_sub(1));
        let len = skb.pkt_len();
        // SAFETY: As above, the counters are ours to update.
        unsafe {
            (*sch).qstats.backlog = (*sch).qstats.backlog.wrapping_sub(len);
            let bstats = core::ptr::addr_of_mut!((*sch).bstats);
            stats_add(core::ptr::addr_of_mut!((*bstats).bytes), len.into());
            stats_add(
                core::ptr::addr_of_mut!((*bstats).packets),
                skb.segs().into(),
            );
        }
        Some(skb)
    }

    /// Drops `skb`, counting it in the qdisc's drops; the core frees it
    /// after releasing the lock (`qdisc_drop`).
    #[inline]
    pub(crate) fn drop_packet(&self, skb: SkBuff, to_free: &mut ToFree) -> NetXmit {
        to_free.push(skb);
        // SAFETY: The qdisc is valid and locked (type invariant): the lock
        // holder is the only writer of `drops`. Dumps read it without the
        // lock, so it is written once, as `qstats_drop_inc()` does with
        // `WRITE_ONCE` (a volatile store in Rust).
        unsafe {
            let drops = core::ptr::addr_of_mut!((*self.as_raw()).qstats.drops);
            core::ptr::write_volatile(drops, (*drops).wrapping_add(1));
        }
        NetXmit::Drop
    }

    /// Detaches every packet on the list from its sending socket
    /// ([`SkBuff::orphan`]).
    pub(crate) fn orphan_queued(&self) {
        // SAFETY: The qdisc is valid and locked (type invariant): its list
        // and the buffers on it are ours to walk and modify; orphaning does
        // not touch a buffer's list link.
        unsafe {
            let mut skb = (*self.as_raw()).q.head;
            while !skb.is_null() {
                skb::orphan(skb);
                skb = *skb::next(skb);
            }
        }
    }

    /// Lets the core send a packet straight to the device when the queue is
    /// empty and the qdisc idle, without calling enqueue and dequeue
    /// (`TCQ_F_CAN_BYPASS`, which the work-conserving FIFOs set). Only for
    /// a discipline that would have sent such a packet at once: one that
    /// may hold packets must switch it off first. The core tests the flag
    /// under the root lock, so it takes effect for the next packet.
    pub(crate) fn set_bypass(&self, on: bool) {
        let bit = bindings::TCQ_F_CAN_BYPASS;
        // SAFETY: The qdisc is valid and locked, or not yet visible (type
        // invariant): every writer of the flags holds the lock or RTNL, as
        // we do. The core reads them without the lock (`TCQ_F_NOLOCK` in
        // `__dev_xmit_skb`), so the new value is written once, as
        // `WRITE_ONCE` would (a volatile store).
        unsafe {
            let flags = core::ptr::addr_of_mut!((*self.as_raw()).flags);
            let old = *flags;
            let new = if on { old | bit } else { old & !bit };
            if new != old {
                core::ptr::write_volatile(flags, new);
            }
        }
    }

    /// Asks the stack to run this qdisc's device queue soon, so that packets
    /// that became releasable leave (`netif_schedule_queue`).
    pub(crate) fn schedule(&self) {
        // SAFETY: The qdisc is valid (type invariant), so its `dev_queue` is
        // a valid transmit queue of its device.
        unsafe { bindings::netif_schedule_queue((*self.as_raw()).dev_queue) };
    }

    /// The device's transmit queue length in packets (`tx_queue_len`).
    pub(crate) fn dev_tx_queue_len(&self) -> u32 {
        // SAFETY: The qdisc is valid, so is its device.
        unsafe { bindings::sch_plug_dev_tx_queue_len(self.as_raw()) }
    }

    /// An upper bound on the length of the packets the device can be handed
    /// (`skb->len`): the largest GSO or GRO packet, or the MTU plus
    /// link-layer header if that is more. The MTU can change later.
    pub(crate) fn max_packet_len(&self) -> u32 {
        // SAFETY: The qdisc is valid, so is its device.
        unsafe { bindings::sch_plug_max_packet_len(self.as_raw()) }
    }

    /// The device's MTU plus link-layer header (`psched_mtu`).
    pub(crate) fn dev_psched_mtu(&self) -> u32 {
        // SAFETY: The qdisc is valid, so is its device.
        unsafe { bindings::sch_plug_psched_mtu(self.as_raw()) }
    }
}

/// Adds `n` to a byte or packet counter of the qdisc's `bstats`
/// (`u64_stats_add()`).
///
/// # Safety
///
/// `counter` is a counter of a locked qdisc: only the lock holder writes it.
/// Readers (the stats dump) read it locklessly, which on 64-bit kernels is
/// a plain read (`local64_read()`): relaxed atomic loads and stores keep
/// that defined in Rust and still compile to a plain load and store.
#[inline]
unsafe fn stats_add(counter: *mut bindings::u64_stats_t, n: u64) {
    // SAFETY: `u64_stats_t` on 64-bit is one aligned `s64` (`local64_t`);
    // the caller guarantees it is valid for the lifetime of this call.
    let counter = unsafe { AtomicI64::from_ptr(core::ptr::addr_of_mut!((*counter).v.a.a.counter)) };
    // `as`: the counter is a `u64` that C keeps in an `s64`; both wrap.
    let value = counter.load(Ordering::Relaxed).wrapping_add(n as i64);
    counter.store(value, Ordering::Relaxed);
}

/// The extended-ack of a netlink request: where an error message for the
/// user goes (`tc` prints it after "Error:").
pub(crate) struct ExtAck(*mut bindings::netlink_ext_ack);

impl ExtAck {
    /// # Safety
    ///
    /// `extack` is null or the extack of the request being processed, valid
    /// for as long as the value lives.
    unsafe fn from_raw(extack: *mut bindings::netlink_ext_ack) -> Self {
        Self(extack)
    }

    /// Sets the error message of the request (`NL_SET_ERR_MSG`).
    pub(crate) fn set_message(&mut self, msg: &'static CStr) {
        // SAFETY: `self.0` is null or valid (constructor); the message is
        // static, as the extack keeps the pointer after we return.
        unsafe { bindings::sch_plug_set_err_msg(self.0, msg.as_char_ptr()) };
    }
}

/// Module parameters, declared in C (`bindings/helpers.c`): the `module!`
/// macro of 6.12 cannot declare them.
pub(crate) mod params {
    use super::bindings;

    /// `c_quirks` (`/sys/module/sch_plug/parameters/c_quirks`, also an
    /// `insmod` argument): new plugs follow the 6.12 C rules.
    pub(crate) fn c_quirks() -> bool {
        // SAFETY: Reads a `bool` module parameter with `READ_ONCE`; no
        // precondition.
        unsafe { bindings::sch_plug_c_quirks() }
    }
}
