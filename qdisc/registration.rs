// SPDX-License-Identifier: GPL-2.0

//! The C `struct Qdisc_ops` built from a [`Discipline`], its trampolines,
//! and its registration with the qdisc core.

use super::{
    bindings, Discipline, Dump, ExtAck, MtuChange, Private, Qdisc, SkBuff, StatsDump, ToFree,
};
use core::{ffi::c_void, marker::PhantomData, pin::Pin, ptr};
use kernel::{
    error::{from_result, to_result},
    ffi::{c_int, c_ulong},
    prelude::*,
    types::Opaque,
    ThisModule,
};

/// `NLA_HDRLEN`: the payload of a netlink attribute starts after its header.
const NLA_HDRLEN: usize = core::mem::size_of::<bindings::nlattr>();

/// The payload of a netlink attribute, as a byte slice.
///
/// # Safety
///
/// `nla` is null or an attribute that netlink validated (its length covers
/// its header and lies within the message), alive for `'a`.
unsafe fn nla_payload<'a>(nla: *const bindings::nlattr) -> Option<&'a [u8]> {
    if nla.is_null() {
        return None;
    }
    // SAFETY: `nla` is a valid attribute (caller).
    let len = usize::from(unsafe { (*nla).nla_len }).saturating_sub(NLA_HDRLEN);
    // SAFETY: A validated attribute has `len` payload bytes right after its
    // header, inside the netlink message that outlives the callback.
    Some(unsafe { core::slice::from_raw_parts(nla.cast::<u8>().add(NLA_HDRLEN), len) })
}

/// One `unsafe extern "C"` trampoline per `Qdisc_ops` slot.
struct Adapter<T: Discipline>(PhantomData<T>);

impl<T: Discipline> Adapter<T> {
    /// What the private area can hold, checked when the ops are built.
    const LAYOUT_OK: () = {
        assert!(
            !core::mem::needs_drop::<T>(),
            "the qdisc core frees the private area without dropping it"
        );
        // `privdata` is aligned as `struct Qdisc` is (`____cacheline_aligned`,
        // which bindgen carries over), and the core allocates the qdisc with
        // that alignment.
        assert!(core::mem::align_of::<Private<T>>() <= core::mem::align_of::<bindings::Qdisc>());
        assert!(core::mem::size_of::<Private<T>>() <= c_int::MAX as usize);
        // `Qdisc_ops::id` is `char[IFNAMSIZ]` with its terminating NUL: a
        // longer kind would be cut and registered under a name nobody asks
        // for.
        assert!(T::KIND.len() < 16, "a qdisc kind has at most 15 bytes");
    };

    /// # Safety
    ///
    /// Called by the qdisc core as `->init` of our ops.
    unsafe extern "C" fn init_callback(
        sch: *mut bindings::Qdisc,
        opt: *mut bindings::nlattr,
        extack: *mut bindings::netlink_ext_ack,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `sch` is a qdisc of our kind being created under RTNL,
            // not yet visible to the data path, so access is exclusive.
            let sch = unsafe { Qdisc::<T>::from_raw(sch) };
            // SAFETY: `opt` is null or `TCA_OPTIONS`, validated by sch_api.c.
            let options = unsafe { nla_payload(opt) };
            // SAFETY: `extack` belongs to the request being served.
            let mut extack = unsafe { ExtAck::from_raw(extack) };
            let state = T::init(sch, options, &mut extack)?;
            // SAFETY: The private area is `priv_size = size_of::<Private<T>>()`
            // zeroed bytes, suitably aligned (`LAYOUT_OK`): a valid
            // `Private<T>`, and ours alone during init.
            let private = unsafe { &mut *sch.private() };
            private.state.write(state);
            private.ready = true;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the qdisc core as `->enqueue` of our ops.
    unsafe extern "C" fn enqueue_callback(
        skb: *mut bindings::sk_buff,
        sch: *mut bindings::Qdisc,
        to_free: *mut *mut bindings::sk_buff,
    ) -> c_int {
        // SAFETY: The core calls enqueue with the root qdisc lock held on a
        // qdisc whose init succeeded.
        let sch = unsafe { Qdisc::<T>::from_raw(sch) };
        // SAFETY: The core hands us a buffer it no longer owns.
        let skb = unsafe { SkBuff::from_raw(skb) };
        // SAFETY: `to_free` is this call's deferred-free list.
        let mut to_free = unsafe { ToFree::from_raw(to_free) };
        // SAFETY: The private area holds the `T` written by init, and the
        // root lock makes this the only reference to it.
        let state = unsafe { (*sch.private()).state.assume_init_mut() };
        state.enqueue(sch, skb, &mut to_free) as c_int
    }

    /// # Safety
    ///
    /// Called by the qdisc core as `->dequeue` of our ops.
    unsafe extern "C" fn dequeue_callback(sch: *mut bindings::Qdisc) -> *mut bindings::sk_buff {
        // SAFETY: The core calls dequeue with the root qdisc lock held on a
        // qdisc whose init succeeded.
        let sch = unsafe { Qdisc::<T>::from_raw(sch) };
        // SAFETY: As in `enqueue_callback`.
        let state = unsafe { (*sch.private()).state.assume_init_mut() };
        state.dequeue(sch).map_or(ptr::null_mut(), SkBuff::into_raw)
    }

    /// # Safety
    ///
    /// Called by the qdisc core as `->change` of our ops.
    unsafe extern "C" fn change_callback(
        sch: *mut bindings::Qdisc,
        opt: *mut bindings::nlattr,
        extack: *mut bindings::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: `opt` is `TCA_OPTIONS`, validated by sch_api.c.
        let Some(options) = (unsafe { nla_payload(opt) }) else {
            return EINVAL.to_errno();
        };
        // SAFETY: `extack` belongs to the request being served.
        let mut extack = unsafe { ExtAck::from_raw(extack) };
        // SAFETY: `change` is only called on live qdiscs of our kind, whose
        // init succeeded.
        unsafe {
            Self::with_tree_lock(sch, |state, qdisc| {
                state.change(qdisc, options, &mut extack)
            })
        }
    }

    /// # Safety
    ///
    /// Called by the qdisc core as `->reset` of our ops.
    unsafe extern "C" fn reset_callback(sch: *mut bindings::Qdisc) {
        // SAFETY: The core resets with the root qdisc lock held, or on
        // destroy with the qdisc unreachable: access is exclusive.
        let qdisc = unsafe { Qdisc::<T>::from_raw(sch) };
        // SAFETY: The queue is ours to purge under that exclusion.
        unsafe { bindings::sch_plug_qdisc_reset_queue(sch) };
        // SAFETY: The area is a valid `Private<T>` (zeroed, then written by
        // init), ours under that exclusion.
        let private = unsafe { &mut *qdisc.private() };
        private.queued = 0;
        if private.ready {
            // SAFETY: `ready` is only set once init wrote the state.
            unsafe { private.state.assume_init_mut() }.reset();
        }
    }

    /// # Safety
    ///
    /// Called by the qdisc core as `->dump` of our ops.
    unsafe extern "C" fn dump_callback(
        sch: *mut bindings::Qdisc,
        skb: *mut bindings::sk_buff,
    ) -> c_int {
        // INVARIANT: `skb` is the message this dump builds.
        let mut dump = Dump(skb);
        // SAFETY: `sch` is a live qdisc of our kind, dumped under RTNL.
        unsafe { Self::with_tree_lock(sch, |state, _| state.dump(&mut dump)) }
    }

    /// # Safety
    ///
    /// Called by the qdisc core as `->dump_stats` of our ops.
    unsafe extern "C" fn dump_stats_callback(
        sch: *mut bindings::Qdisc,
        d: *mut bindings::gnet_dump,
    ) -> c_int {
        // INVARIANT: `d` is the dump this callback fills.
        let mut dump = StatsDump(d);
        // SAFETY: `sch` is a live qdisc of our kind, dumped under RTNL.
        unsafe { Self::with_tree_lock(sch, |state, _| state.dump_stats(&mut dump)) }
    }

    /// Runs `f` on the state of `sch` with the qdisc tree lock held, and
    /// turns its result into a C return value. `->change` and the dumps run
    /// under RTNL only, while the data path uses the state under the root
    /// lock, which is the lock `sch_tree_lock` takes.
    ///
    /// # Safety
    ///
    /// `sch` is a live qdisc of our kind whose init succeeded.
    unsafe fn with_tree_lock(
        sch: *mut bindings::Qdisc,
        f: impl FnOnce(&mut T, &Qdisc<T>) -> Result,
    ) -> c_int {
        // SAFETY: `sch` is live (caller); the lock is released below.
        unsafe { bindings::sch_plug_sch_tree_lock(sch) };
        // SAFETY: The tree lock excludes the data path (and RTNL the other
        // control callbacks) until the unlock below.
        let qdisc = unsafe { Qdisc::<T>::from_raw(sch) };
        // SAFETY: Init succeeded (caller) and the lock makes this the only
        // reference to the state.
        let state = unsafe { (*qdisc.private()).state.assume_init_mut() };
        let ret = from_result(|| {
            f(state, qdisc)?;
            Ok(0)
        });
        // SAFETY: Taken above; `qdisc` and `state` are not used past here.
        unsafe { bindings::sch_plug_sch_tree_unlock(sch) };
        ret
    }

    /// The netdevice notifier: tells the qdiscs of our kind attached to a
    /// device's transmit queues that its MTU changes.
    ///
    /// # Safety
    ///
    /// Called by the notifier chain with `nb` the `nb` of a registered
    /// [`Tables`] and `info` the event's `netdev_notifier_info`.
    unsafe extern "C" fn netdev_callback(
        nb: *mut bindings::notifier_block,
        event: c_ulong,
        info: *mut c_void,
    ) -> c_int {
        let change = match u32::try_from(event) {
            Ok(bindings::netdev_cmd_NETDEV_PRECHANGEMTU) => MtuChange::Pending,
            Ok(bindings::netdev_cmd_NETDEV_CHANGEMTU) => MtuChange::Done,
            _ => return bindings::NOTIFY_DONE as c_int,
        };
        // SAFETY: `nb` is the `nb` field of a live `Tables` (caller), which
        // is `repr(C)`: stepping back by its offset gives the table.
        let ops = unsafe {
            let tables = nb
                .cast::<u8>()
                .sub(core::mem::offset_of!(Tables, nb))
                .cast::<Tables>();
            (*tables).ops.get().cast_const()
        };
        // SAFETY: `info` is the event's info (caller), and MTU events are
        // about a device.
        let dev = unsafe { bindings::sch_plug_notifier_dev(info) };
        let mut last = ptr::null_mut();
        for i in 0.. {
            // SAFETY: `dev` is the event's live device and MTU events are
            // sent under RTNL, which the helper requires.
            let sch = unsafe { bindings::sch_plug_txq_qdisc(dev, i) };
            if sch.is_null() {
                break;
            }
            // A root qdisc is attached to every queue of its device.
            // SAFETY: An attached qdisc is a valid qdisc.
            if sch == last || unsafe { (*sch).ops } != ops {
                continue;
            }
            last = sch;
            // SAFETY: An attached qdisc of our kind is live and its init
            // succeeded (the core attaches a qdisc only after its init).
            unsafe {
                Self::with_tree_lock(sch, |state, qdisc| {
                    state.mtu_change(qdisc, change);
                    Ok(())
                })
            };
        }
        bindings::NOTIFY_DONE as c_int
    }

    /// The ops table for `T`, owned by `module`.
    fn build(module: &'static ThisModule) -> bindings::Qdisc_ops {
        #[allow(clippy::let_unit_value)]
        let () = Self::LAYOUT_OK;
        let mut id = [0; 16];
        let kind = T::KIND.as_bytes();
        // Fits with its NUL: checked in `LAYOUT_OK`.
        id[..kind.len()].copy_from_slice(kind);
        bindings::Qdisc_ops {
            id,
            // Cannot truncate: checked in `LAYOUT_OK`.
            priv_size: core::mem::size_of::<Private<T>>() as c_int,
            enqueue: Some(Self::enqueue_callback),
            dequeue: Some(Self::dequeue_callback),
            peek: Some(bindings::sch_plug_qdisc_peek_dequeued),
            init: Some(Self::init_callback),
            reset: Some(Self::reset_callback),
            change: if T::HAS_CHANGE {
                Some(Self::change_callback)
            } else {
                None
            },
            dump: if T::HAS_DUMP {
                Some(Self::dump_callback)
            } else {
                None
            },
            dump_stats: if T::HAS_DUMP_STATS {
                Some(Self::dump_stats_callback)
            } else {
                None
            },
            owner: module.as_ptr().cast(),
            ..Default::default()
        }
    }
}

/// What the C side keeps pointers to while a kind is registered: its ops
/// and, for a discipline with [`Discipline::mtu_change`], the netdevice
/// notifier that calls it (which finds the ops from its own address).
#[repr(C)]
struct Tables {
    ops: Opaque<bindings::Qdisc_ops>,
    nb: Opaque<bindings::notifier_block>,
}

/// A registered qdisc kind; dropping it unregisters the kind.
///
/// # Invariants
///
/// `tables.ops` is registered with the qdisc core until `drop`, and so is
/// `tables.nb` with the netdevice notifier chain if `T::HAS_MTU_CHANGE`.
pub(crate) struct Registration<T: Discipline> {
    tables: Pin<KBox<Tables>>,
    _discipline: PhantomData<T>,
}

impl<T: Discipline> Registration<T> {
    /// Registers `T` as a qdisc kind owned by `module`: qdiscs of the kind
    /// hold a reference on the module, so it cannot be unloaded under them.
    ///
    /// Fails with `EEXIST` if the kind is already registered (for example by
    /// the C `sch_plug`).
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let tables = KBox::pin(
            Tables {
                ops: Opaque::new(Adapter::<T>::build(module)),
                nb: Opaque::new(bindings::notifier_block {
                    notifier_call: Some(Adapter::<T>::netdev_callback),
                    ..Default::default()
                }),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `ops` is a fully initialised table whose address is stable
        // (pinned in the heap) and which outlives the registration: it is
        // unregistered in `drop` before it is freed.
        to_result(unsafe { bindings::register_qdisc(tables.ops.get()) })?;
        if T::HAS_MTU_CHANGE {
            // SAFETY: As for the ops: `nb` is initialised, pinned, and
            // unregistered in `drop` (or just below) before it is freed.
            let ret = unsafe { bindings::register_netdevice_notifier(tables.nb.get()) };
            if let Err(e) = to_result(ret) {
                // SAFETY: Registered just above; no qdisc of the kind can
                // exist yet, as the module is still initialising.
                unsafe { bindings::unregister_qdisc(tables.ops.get()) };
                return Err(e);
            }
        }
        // INVARIANT: Registered just above.
        Ok(Self {
            tables,
            _discipline: PhantomData,
        })
    }
}

impl<T: Discipline> Drop for Registration<T> {
    fn drop(&mut self) {
        if T::HAS_MTU_CHANGE {
            // SAFETY: Registered (type invariant); once this returns, no
            // callback runs or will run.
            unsafe { bindings::unregister_netdevice_notifier(self.tables.nb.get()) };
        }
        // SAFETY: Registered (type invariant). No qdisc of the kind exists
        // any more: each holds a module reference, so the module's exit,
        // which drops this, cannot run before they are gone.
        unsafe { bindings::unregister_qdisc(self.tables.ops.get()) };
    }
}

// SAFETY: The registration is only a handle to ops that the qdisc core
// synchronises itself (`qdisc_mod_lock`); it can be dropped from any thread.
unsafe impl<T: Discipline> Send for Registration<T> {}
// SAFETY: `&Registration` gives no access to anything.
unsafe impl<T: Discipline> Sync for Registration<T> {}
