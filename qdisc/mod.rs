// SPDX-License-Identifier: GPL-2.0

//! Queueing disciplines: a safe layer over the qdisc API.
//!
//! C header: [`include/net/sch_generic.h`](srctree/include/net/sch_generic.h),
//! core: [`net/sched/sch_api.c`](srctree/net/sched/sch_api.c) and
//! [`net/sched/sch_generic.c`](srctree/net/sched/sch_generic.c).
//!
//! A discipline implements [`Discipline`]; [`module_qdisc!`] declares the
//! module, whose state registers a table of C ops built from it
//! ([`Registration`], pinned, for the module's life).
//! The discipline's state is initialised in place in the qdisc's private
//! area (pin-init), dropped by `->destroy`, and reached only while it cannot
//! race: through `Pin<&mut Self>` under the qdisc's root lock on the data
//! path and in the qdisc's timer ([`Discipline::timer`]), and through
//! [`TreeGuard`] (the same lock, which a control callback takes when it
//! needs it) on the control path.
//!
//! All `unsafe` code of the modules built on it is in this directory.
//!
//! # The kernel's functions, and where the layer mirrors C
//!
//! The per-packet operations are the kernel's own static inlines
//! (`qdisc_enqueue_tail()`, `qdisc_dequeue_head()`, `qdisc_drop_reason()`,
//! `qdisc_pkt_len()`), called through one-line C helpers
//! (`bindings/helpers.c`), so that queues and counters are kept exactly as
//! C keeps them on every kernel line: out of line on 6.12, inlined into the
//! Rust code on 7.x, where the module links the helpers in as LLVM bitcode
//! (`CONFIG_RUST_INLINE_HELPERS`, `Kbuild`). So is everything else the
//! layer does with kernel objects, except two plain reads and one write of
//! `struct Qdisc` fields, which mirror C:
//!
//! | here | C |
//! |---|---|
//! | [`Qdisc::queued`] | `sch->q.qlen` less what the core parks there after a dequeue: `gso_skb` (`dev_requeue_skb()`, `qdisc_peek_dequeued()`) and `skb_bad_txq` (`qdisc_enqueue_skb_bad_txq()`) |
//! | [`Qdisc::dequeue_head_if`] | the test of `qdisc_peek_head()` (`sch->q.head`) |
//! | [`Qdisc::set_bypass`] | `sch->flags`' `TCQ_F_CAN_BYPASS`, set and cleared as `fifo_set_limit()` does |
//!
//! `docs/kernel-lines.md` names the test that fails if one of them drifts
//! from the kernel. They were checked against `include/net/sch_generic.h` of
//! both lines (Linux 6.12.118 and 7.3.4); where the kernel crates of the
//! two lines differ, the difference is in `compat.rs`.

mod bindings;
mod compat;
mod registration;
mod skb;

#[allow(unused_imports)] // Not by samples/pinned.rs, which returns `try_pin_init!`.
pub(crate) use compat::value;
#[allow(unused_imports)] // Only by the crate roots, through `module_qdisc!`.
pub(crate) use compat::{qdisc_module_info, QdiscModule};
pub(crate) use registration::Registration;
pub(crate) use skb::{SkBuff, ToFree};

use core::{marker::PhantomData, mem::MaybeUninit, pin::Pin, ptr::NonNull};
use kernel::{prelude::*, types::Opaque};

/// Declares a kernel module that registers one qdisc kind.
///
/// The module's state is the kind's [`Registration`], pinned (in place on
/// 6.19+), made at load and dropped at exit; the other fields are those of
/// [`module!`].
///
/// # Examples
///
/// The module of the example of [`Discipline`].
macro_rules! module_qdisc {
    (discipline: $discipline:ty, $($f:tt)*) => {
        type QdiscModuleOf = $crate::qdisc::QdiscModule<$discipline>;

        $crate::qdisc::qdisc_module_info! { $($f)* }
    };
}
pub(crate) use module_qdisc;

/// Result of an enqueue, what `NET_XMIT_*` tells the caller of `dev_queue_xmit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum NetXmit {
    /// The packet was queued (`NET_XMIT_SUCCESS`).
    Success = bindings::NET_XMIT_SUCCESS,
    /// The packet was dropped (`NET_XMIT_DROP`).
    Drop = bindings::NET_XMIT_DROP,
}

/// How a parent qdisc peeks at this one's next packet (`->peek`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peek {
    /// Dequeue it and park it until the parent takes it
    /// (`qdisc_peek_dequeued()`): right for any discipline. The packet is
    /// counted as sent when parked.
    Dequeued,
    /// Show the head of the queue (`qdisc_peek_head()`): only for a
    /// discipline whose dequeue always returns the head when there is one.
    #[allow(dead_code)] // Not by the plug: samples/rbfifo.rs.
    Head,
}

/// A queueing discipline: what a qdisc kind does with packets.
///
/// The implementing type is the per-qdisc state, initialised in place in
/// the qdisc's private area by [`Discipline::init`] and dropped when the
/// qdisc is destroyed (`->destroy`); it may hold locks, lists or timers. It
/// is `Send`: the callbacks run on whichever CPU holds the qdisc's lock.
///
/// The data path (`enqueue`, `dequeue`, `reset`) runs with the qdisc's root
/// lock held and gets the state as `Pin<&mut Self>`. The control path
/// (`change`, dumps, MTU events) runs under RTNL only, as in C, and gets a
/// [`Control`], whose [`Control::lock`] takes the qdisc tree lock (the root
/// lock) and gives the state: a discipline validates and allocates before
/// taking it, and formats a dump after letting it go.
///
/// # Examples
///
/// A FIFO that drops what does not fit in a fixed number of bytes, and its
/// module (see `samples/rbfifo.rs` for the kernel's `bfifo` in full):
///
/// ```
/// # use crate::qdisc::{module_qdisc, value, Discipline, ExtAck, NetXmit, Peek, Qdisc, SkBuff, ToFree};
/// # use kernel::{c_str, prelude::*};
/// struct Fifo {
///     limit: u32,
/// }
///
/// #[vtable]
/// impl Discipline for Fifo {
///     const KIND: &'static CStr = c_str!("tinyfifo");
///     // Its dequeue always returns the head: a parent may peek at it.
///     const PEEK: Peek = Peek::Head;
///
///     fn init(
///         _sch: &Qdisc<Self>,
///         _options: Option<&[u8]>,
///         _extack: &mut ExtAck<'_>,
///     ) -> Result<impl PinInit<Self, Error>> {
///         Ok(value(Fifo { limit: 64 * 1024 }))
///     }
///
///     fn enqueue(
///         self: Pin<&mut Self>,
///         sch: &Qdisc<Self>,
///         skb: SkBuff,
///         to_free: &mut ToFree<'_>,
///     ) -> NetXmit {
///         if sch.backlog().saturating_add(skb.pkt_len()) <= self.limit {
///             sch.enqueue_tail(skb)
///         } else {
///             sch.drop_packet(skb, to_free)
///         }
///     }
///
///     fn dequeue(self: Pin<&mut Self>, sch: &Qdisc<Self>) -> Option<SkBuff> {
///         sch.dequeue_head()
///     }
/// }
///
/// module_qdisc! {
///     discipline: Fifo,
///     name: "sch_tinyfifo",
///     authors: ["sch_plug-rs developers"],
///     description: "A byte-limited FIFO (the qdisc layer's example)",
///     license: "GPL",
///     alias: ["net-sch-tinyfifo"],
/// }
/// ```
#[vtable]
pub(crate) trait Discipline: Sized + Send + 'static {
    /// The kind string (`tc qdisc add … <KIND>`), at most 15 bytes (checked
    /// at build time).
    const KIND: &'static CStr;

    /// How a parent peeks (`->peek`).
    const PEEK: Peek = Peek::Dequeued;

    /// Creates the state of a new qdisc (`->init`): returns its initialiser,
    /// or an error (with a message in `extack`) for bad options.
    ///
    /// `options` is the payload of `TCA_OPTIONS`, `None` when the request
    /// carried none (a bare `tc qdisc add … plug`). On error the qdisc is not
    /// created. Runs under RTNL before the qdisc is visible to the data path.
    fn init(
        sch: &Qdisc<Self>,
        options: Option<&[u8]>,
        extack: &mut ExtAck<'_>,
    ) -> Result<impl PinInit<Self, Error>>;

    /// Takes a packet from the stack (`->enqueue`): queue it with
    /// [`Qdisc::enqueue_tail`] or drop it with [`Qdisc::drop_packet`].
    fn enqueue(
        self: Pin<&mut Self>,
        sch: &Qdisc<Self>,
        skb: SkBuff,
        to_free: &mut ToFree<'_>,
    ) -> NetXmit;

    /// Hands the next packet to the device (`->dequeue`), `None` if none may
    /// leave now.
    fn dequeue(self: Pin<&mut Self>, sch: &Qdisc<Self>) -> Option<SkBuff>;

    /// Applies new options (`->change`), called by sch_api.c only when a
    /// change or replace request carries `TCA_OPTIONS`. Runs under RTNL;
    /// take the tree lock with [`Control::lock`] to reach the state. Without
    /// it (`HAS_CHANGE` false) such requests fail with `-EINVAL` ("Change
    /// operation not supported by specified qdisc", `qdisc_change()`).
    fn change(_sch: &mut Control<'_, Self>, _options: &[u8], _extack: &mut ExtAck<'_>) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The queue was just purged (`->reset`: device down, carrier loss,
    /// graft, destroy). The layer empties the queue itself; this hook is for
    /// the discipline's own state.
    fn reset(self: Pin<&mut Self>) {}

    /// Reports the configuration in a dump (`->dump`, `tc qdisc show`),
    /// typically with [`Dump::options`]. Runs under RTNL. Without it
    /// (`HAS_DUMP` false) dumps carry no `TCA_OPTIONS`.
    fn dump(_sch: &mut Control<'_, Self>, _dump: &mut Dump<'_>) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Reports extended statistics (`->dump_stats`, `TCA_XSTATS`,
    /// `tc -s qdisc show`), with [`StatsDump::app`]. Runs under RTNL.
    fn dump_stats(_sch: &mut Control<'_, Self>, _dump: &mut StatsDump<'_>) -> Result {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The qdisc's timer fired (`Qdisc::arm_timer`). Runs in softirq
    /// context with the qdisc's root lock held, as the data path does: do
    /// not sleep. With it (`HAS_TIMER`), each qdisc of the kind has a timer
    /// (a `timer_list` in its private area, taken and released as
    /// `sfq_perturbation()` does); it runs only when armed, again only if
    /// armed again, and never after the qdisc is destroyed.
    fn timer(self: Pin<&mut Self>, _sch: &Qdisc<Self>) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The MTU of the device this qdisc transmits on is about to change
    /// ([`MtuChange::Pending`], `NETDEV_PRECHANGEMTU`) or has changed
    /// ([`MtuChange::Done`], `NETDEV_CHANGEMTU`). Called for the qdiscs of
    /// the kind attached to the device's transmit queues (a root qdisc, or
    /// the children of `mq`), under RTNL. With it (`HAS_MTU_CHANGE`), the
    /// registration also registers a netdevice notifier; a discipline whose
    /// decisions depend on the MTU (as [`Qdisc::set_bypass`] does)
    /// recomputes them here.
    fn mtu_change(_sch: &mut Control<'_, Self>, _change: MtuChange) {
        kernel::build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
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
/// The pointer is the `skb` of the running `->dump` callback, which
/// outlives `'a`.
pub(crate) struct Dump<'a>(*mut bindings::sk_buff, PhantomData<&'a mut ()>);

impl Dump<'_> {
    /// Puts `payload` as the qdisc's `TCA_OPTIONS` attribute (`nla_put`).
    /// Fails with `EMSGSIZE` when the message is full.
    pub(crate) fn options(&mut self, payload: &[u8]) -> Result {
        let len = i32::try_from(payload.len()).map_err(|_| compat::emsgsize())?;
        // SAFETY: The skb is the message being built (type invariant);
        // `payload` is valid for `len` bytes and copied by `nla_put`.
        let ret =
            unsafe { bindings::sch_plug_nla_put_options(self.0, len, payload.as_ptr().cast()) };
        if ret < 0 {
            return Err(compat::emsgsize());
        }
        Ok(())
    }
}

/// The statistics part of a qdisc dump being built.
///
/// # Invariants
///
/// The pointer is the `gnet_dump` of the running `->dump_stats` callback,
/// which outlives `'a`.
pub(crate) struct StatsDump<'a>(*mut bindings::gnet_dump, PhantomData<&'a mut ()>);

impl StatsDump<'_> {
    /// Puts `xstats` as the qdisc's extended statistics (`TCA_XSTATS`,
    /// `gnet_stats_copy_app`).
    pub(crate) fn app(&mut self, xstats: &[u8]) -> Result {
        let len = i32::try_from(xstats.len()).map_err(|_| compat::emsgsize())?;
        // SAFETY: The dump is the running one (type invariant);
        // `gnet_stats_copy_app` copies `len` bytes from the valid `xstats`
        // and does not write through the pointer despite its type.
        let ret = unsafe {
            bindings::sch_plug_copy_xstats(self.0, xstats.as_ptr().cast_mut().cast(), len)
        };
        if ret < 0 {
            return Err(compat::emsgsize());
        }
        Ok(())
    }
}

/// What a qdisc's private area holds.
///
/// # Invariants
///
/// `state` is initialised if and only if `ready` is true. The core
/// allocates the area zeroed (`qdisc_alloc()` uses `kzalloc`), which is a
/// valid `Private<T>` with `ready == false`; init sets it once the state is
/// written in place, destroy clears it when it drops the state. `reset` and
/// `destroy` can run on a qdisc whose init failed (`qdisc_create()`'s
/// `err_out4`, `qdisc_create_dflt()`), and check `ready`; the other
/// callbacks only run between a successful init and destroy. The area never
/// moves, so the state is pinned.
///
/// `timer` is set up by init before the discipline's own init runs, for a
/// discipline with a timer (`Discipline::HAS_TIMER`), and shut down before
/// the state is dropped. `sch` is the qdisc whose area this is, written by
/// init before it sets up the timer, for the timer's callback (as C
/// qdiscs with a timer keep `q->sch`).
struct Private<T> {
    state: MaybeUninit<T>,
    ready: bool,
    sch: *mut bindings::Qdisc,
    timer: Opaque<bindings::timer_list>,
}

/// The private area of the qdisc `sch` (`qdisc_priv()`), derived from the
/// pointer the core handed to a callback, which covers the whole
/// allocation: the area follows `struct Qdisc`, outside the bytes a Rust
/// reference to the struct (a `&Qdisc<T>`) covers.
///
/// # Safety
///
/// `sch` is a live qdisc, as the core passed it.
unsafe fn private<T>(sch: *mut bindings::Qdisc) -> *mut Private<T> {
    // SAFETY: Valid (caller); this only computes the address of the
    // trailing `privdata`, as `qdisc_priv()` does.
    unsafe { core::ptr::addr_of_mut!((*sch).privdata).cast() }
}

/// The state of the qdisc `sch`, pinned in its private area.
///
/// # Safety
///
/// `sch` is a live qdisc of `T`'s kind whose init succeeded and whose
/// destroy has not run (`ready`), and no other reference to its state
/// exists during `'a`.
unsafe fn state<'a, T: Discipline>(sch: *mut bindings::Qdisc) -> Pin<&'a mut T> {
    // SAFETY: The qdisc is live and its state initialised (caller,
    // `Private` invariant), exclusively ours (caller), and never moves
    // (`Private` invariant).
    unsafe { Pin::new_unchecked((*private::<T>(sch)).state.assume_init_mut()) }
}

/// A qdisc whose private area holds a `T`, as a callback reaches it
/// (`struct Qdisc`).
///
/// # Invariants
///
/// A `&Qdisc<T>` is a live qdisc of `T`'s kind (its ops are the
/// [`Registration<T>`]'s), and its holder has exclusive access to its queue and
/// private area while the reference lives: the qdisc's root lock is held
/// (enqueue, dequeue, reset, a [`TreeGuard`], the timer); or the qdisc is
/// not visible to the data path (init, and reset on destroy); or it was
/// detached (a graft) and the core waited for the data path to leave it
/// (`dev_deactivate()`'s `synchronize_net()`), so that the tree lock, which
/// is then the new root's, still excludes everyone. The layer makes one
/// only for the duration of a callback.
#[repr(transparent)]
pub(crate) struct Qdisc<T>(Opaque<bindings::Qdisc>, PhantomData<T>);

impl<T: Discipline> Qdisc<T> {
    /// # Safety
    ///
    /// `ptr` is a live qdisc of `T`'s kind, to which the caller has
    /// exclusive access as the type invariant describes, for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::Qdisc) -> &'a Self {
        // INVARIANT: The caller's promise.
        // SAFETY: `Qdisc<T>` is a transparent `Opaque<bindings::Qdisc>`,
        // which has the C struct's layout; the qdisc is live for `'a`
        // (caller).
        unsafe { &*ptr.cast::<Self>() }
    }

    fn as_raw(&self) -> *mut bindings::Qdisc {
        self.0.get()
    }

    /// Packets in the queue not yet handed out: the length of the qdisc's
    /// own list (`sch->q`).
    ///
    /// The core's `sch->q.qlen` also counts packets that it parks outside
    /// the list after they were dequeued, in two lists of the qdisc:
    /// `gso_skb` (a requeue by `dev_requeue_skb()`, or a parent's peek,
    /// `qdisc_peek_dequeued()`) and, for a root qdisc on a multiqueue
    /// device, `skb_bad_txq` (a packet for another transmit queue, met by
    /// `try_bulk_dequeue_skb_slow()`). Those are subtracted here, under the
    /// lock that orders every change to the three counts, rather than the
    /// list counted on every enqueue and dequeue: the data path then does
    /// what the C inlines do and no more.
    pub(crate) fn queued(&self) -> u32 {
        // SAFETY: The qdisc is valid and ours (type invariant), so are its
        // counters and lists.
        let (qlen, gso, bad_txq) = unsafe {
            let sch = self.as_raw();
            ((*sch).q.qlen, (*sch).gso_skb.qlen, (*sch).skb_bad_txq.qlen)
        };
        // Cannot go below 0 (the parked packets are part of `qlen`);
        // saturating keeps a core that one day counts them elsewhere from
        // turning that into a huge count.
        qlen.saturating_sub(gso).saturating_sub(bad_txq)
    }

    /// Bytes queued (`sch->qstats.backlog`).
    #[inline]
    pub(crate) fn backlog(&self) -> u32 {
        // SAFETY: The qdisc is valid and its counters are ours (type
        // invariant).
        unsafe { (*self.as_raw()).qstats.backlog }
    }

    /// Queues `skb` at the tail and accounts its bytes
    /// (`qdisc_enqueue_tail()`).
    #[inline]
    pub(crate) fn enqueue_tail(&self, skb: SkBuff) -> NetXmit {
        // SAFETY: The qdisc is valid and ours (type invariant), so are its
        // queue and counters; the queue takes over `skb`, which was ours and
        // on no list.
        unsafe { bindings::sch_plug_qdisc_enqueue_tail(skb.into_raw(), self.as_raw()) };
        NetXmit::Success
    }

    /// Takes the packet at the head, accounting it as sent
    /// (`qdisc_dequeue_head()`).
    #[inline]
    pub(crate) fn dequeue_head(&self) -> Option<SkBuff> {
        // SAFETY: The qdisc is valid and ours (type invariant);
        // `qdisc_dequeue_head()` unlinks the head, if there is one.
        let skb = unsafe { bindings::sch_plug_qdisc_dequeue_head(self.as_raw()) };
        if skb.is_null() {
            return None;
        }
        // SAFETY: Unlinked from our queue: the buffer is ours now.
        Some(unsafe { SkBuff::from_raw(skb) })
    }

    /// Takes the packet at the head if there is one and `may_leave()`
    /// agrees, accounting it as sent. `may_leave` is only asked when the
    /// queue holds a packet, so that a dequeue from an empty queue costs
    /// one test, as `qdisc_dequeue_head()`'s does.
    #[inline]
    pub(crate) fn dequeue_head_if(&self, may_leave: impl FnOnce() -> bool) -> Option<SkBuff> {
        // SAFETY: The qdisc is valid and its queue ours (type invariant).
        let empty = unsafe { (*self.as_raw()).q.head.is_null() };
        if empty || !may_leave() {
            return None;
        }
        self.dequeue_head()
    }

    /// Drops `skb` because the queue is over its limit, counting it in the
    /// qdisc's drops (`qdisc_drop_reason()`): the core frees it after
    /// releasing the lock, reporting `QDISC_DROP_OVERLIMIT` to drop monitors
    /// (`SKB_DROP_REASON_QDISC_DROP` on 6.12, which has no finer reason).
    #[inline]
    pub(crate) fn drop_packet(&self, skb: SkBuff, to_free: &mut ToFree<'_>) -> NetXmit {
        // SAFETY: The qdisc is valid and ours (type invariant), so are its
        // counters; `to_free` is the running enqueue's list (its invariant),
        // which takes over `skb`, ours and on no list.
        unsafe {
            bindings::sch_plug_qdisc_drop_overlimit(skb.into_raw(), self.as_raw(), to_free.as_raw())
        };
        NetXmit::Drop
    }

    /// Lets go of the socket of each queued packet whose socket is gone
    /// (`skb_orphan()`): closed by its owner, or a request or timewait
    /// socket. Such a packet is all that keeps the socket, and through it
    /// its network namespace, alive: a namespace deleted while a plug in it
    /// holds its own packets would otherwise never be freed. Packets of a
    /// live socket keep it, as in every C qdisc: the socket's send buffer
    /// and TCP's small queues bound what it has queued, and TCP sees that a
    /// held segment is still in a host queue instead of sending it again.
    ///
    /// Walks the whole queue: for a qdisc's timer, not the per-packet path.
    pub(crate) fn orphan_gone_owners(&self) {
        // SAFETY: The qdisc is valid and ours (type invariant): its list and
        // the buffers on it are ours to walk and modify; orphaning does not
        // touch a buffer's list link. A queued buffer's reference keeps its
        // socket valid to read.
        unsafe {
            let mut skb = (*self.as_raw()).q.head;
            while !skb.is_null() {
                if bindings::sch_plug_skb_owner_gone(skb) {
                    bindings::sch_plug_skb_orphan(skb);
                }
                skb = bindings::sch_plug_skb_next(skb);
            }
        }
    }

    /// Arms the qdisc's timer to run [`Discipline::timer`] in `ms`
    /// milliseconds, unless it is armed to run earlier (`timer_reduce()`).
    pub(crate) fn arm_timer(&self, ms: u32) {
        build_assert!(T::HAS_TIMER, "arm_timer without Discipline::timer");
        // SAFETY: The qdisc is valid (type invariant), and a discipline with
        // a timer has it set up from before its own init until destroy
        // (`Private` invariant), which no holder of a `Qdisc` outlives.
        unsafe {
            // `qdisc_priv()` in C: a reference to the struct does not reach
            // the area after it.
            let private = bindings::sch_plug_qdisc_priv(self.as_raw()).cast::<Private<T>>();
            bindings::sch_plug_timer_arm((*private).timer.get(), ms)
        };
    }

    /// Lets the core send a packet straight to the device when the queue is
    /// empty and the qdisc idle, without calling enqueue and dequeue
    /// (`TCQ_F_CAN_BYPASS`, which the work-conserving FIFOs set). Only for
    /// a discipline that would have sent such a packet at once: one that
    /// may hold packets must switch it off first. The core tests the flag
    /// under the root lock, so it takes effect for the next packet.
    pub(crate) fn set_bypass(&self, on: bool) {
        let bit = bindings::TCQ_F_CAN_BYPASS;
        // SAFETY: The qdisc is valid and ours (type invariant), and every
        // writer of the flags holds the lock or RTNL, as we do. The core
        // reads them without the lock (`TCQ_F_NOLOCK` in `__dev_xmit_skb`),
        // so the new value is written once, as `WRITE_ONCE` would (a
        // volatile store).
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

/// A qdisc as a control callback (`->change`, the dumps, MTU events) gets
/// it: under RTNL, while the data path may be using it on other CPUs.
///
/// # Invariants
///
/// The pointer is a live qdisc of `T`'s kind whose init succeeded and
/// whose destroy has not run, RTNL is held (so no other control callback
/// runs on it) for `'a`, and the state is only reached through
/// [`Control::lock`].
pub(crate) struct Control<'a, T> {
    ptr: NonNull<bindings::Qdisc>,
    _lifetime: PhantomData<&'a mut T>,
}

impl<T: Discipline> Control<'_, T> {
    /// # Safety
    ///
    /// As the type invariant says, for as long as the value lives.
    unsafe fn from_raw(ptr: *mut bindings::Qdisc) -> Self {
        // INVARIANT: The caller's promise.
        Self {
            // SAFETY: A live qdisc is not null.
            ptr: unsafe { NonNull::new_unchecked(ptr) },
            _lifetime: PhantomData,
        }
    }

    /// Takes the qdisc tree lock (`sch_tree_lock()`: the root lock of the
    /// tree the qdisc is in), which excludes the data path, and gives access
    /// to the state until the guard is dropped. Do not sleep or allocate
    /// with `GFP_KERNEL` while holding it (it is a BH-disabling spinlock).
    pub(crate) fn lock(&mut self) -> TreeGuard<'_, T> {
        // SAFETY: The qdisc is live (type invariant); unlocked when the
        // guard drops.
        unsafe { bindings::sch_plug_sch_tree_lock(self.ptr.as_ptr()) };
        // INVARIANT: Locked just above; `&mut self` keeps a second guard
        // from being made while this one lives.
        TreeGuard {
            ptr: self.ptr,
            _control: PhantomData,
        }
    }
}

/// The qdisc tree lock, held; dropping the guard releases it.
///
/// # Invariants
///
/// `ptr` is a live qdisc of `T`'s kind whose init succeeded and whose
/// destroy has not run, RTNL is held, and so is its tree lock, by this
/// guard: the tree lock excludes the data path and RTNL the other control
/// callbacks.
pub(crate) struct TreeGuard<'a, T: Discipline> {
    ptr: NonNull<bindings::Qdisc>,
    _control: PhantomData<&'a mut T>,
}

impl<T: Discipline> TreeGuard<'_, T> {
    /// The state and the qdisc, both usable under the lock.
    pub(crate) fn parts(&mut self) -> (Pin<&mut T>, &Qdisc<T>) {
        let sch = self.ptr.as_ptr();
        // SAFETY: Init succeeded (type invariant); `&mut self` makes this
        // the only reference to the state while it lives.
        let state = unsafe { state::<T>(sch) };
        // SAFETY: Live, and ours under the lock (type invariant) while the
        // borrow of the guard lasts.
        (state, unsafe { Qdisc::from_raw(sch) })
    }

    /// The state.
    pub(crate) fn state(&mut self) -> Pin<&mut T> {
        self.parts().0
    }
}

impl<T: Discipline> Drop for TreeGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: Held by this guard (type invariant); nothing derived from
        // it outlives the guard.
        unsafe { bindings::sch_plug_sch_tree_unlock(self.ptr.as_ptr()) };
    }
}

/// The extended-ack of a netlink request: where an error message for the
/// user goes (`tc` prints it after "Error:").
///
/// # Invariants
///
/// The pointer is null or the extack of the request being processed,
/// valid for `'a`.
pub(crate) struct ExtAck<'a>(*mut bindings::netlink_ext_ack, PhantomData<&'a mut ()>);

impl ExtAck<'_> {
    /// # Safety
    ///
    /// `extack` is null or the extack of the request being processed, valid
    /// for as long as the value lives.
    unsafe fn from_raw(extack: *mut bindings::netlink_ext_ack) -> Self {
        // INVARIANT: The caller's promise.
        Self(extack, PhantomData)
    }

    /// Sets the error message of the request (`NL_SET_ERR_MSG`).
    pub(crate) fn set_message(&mut self, msg: &'static CStr) {
        // SAFETY: `self.0` is null or valid (type invariant); the message is
        // static, as the extack keeps the pointer after we return.
        unsafe { bindings::sch_plug_set_err_msg(self.0, msg.as_char_ptr()) };
    }
}
