// SPDX-License-Identifier: GPL-2.0

//! The C `struct Qdisc_ops` built from a [`Discipline`] at compile time, its
//! trampolines, and its registration with the qdisc core.

use super::{
    bindings, compat, private, state, Control, Discipline, Dump, ExtAck, MtuChange, Peek, Private,
    Qdisc, SkBuff, StatsDump, ToFree,
};
use core::{ffi::c_void, marker::PhantomData, mem::MaybeUninit, ptr};
use kernel::{
    container_of,
    error::{from_result, to_result},
    ffi::{c_char, c_int, c_ulong},
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
pub(super) struct Adapter<T: Discipline>(PhantomData<T>);

impl<T: Discipline> Adapter<T> {
    /// What the private area can hold, checked when the ops are built.
    const LAYOUT_OK: () = {
        // `privdata` is aligned as `struct Qdisc` is (`____cacheline_aligned`,
        // which bindgen carries over), and the core allocates the qdisc with
        // that alignment.
        assert!(core::mem::align_of::<Private<T>>() <= core::mem::align_of::<bindings::Qdisc>());
        assert!(core::mem::size_of::<Private<T>>() <= c_int::MAX as usize);
        // `Qdisc_ops::id` is `char[IFNAMSIZ]` with its terminating NUL: a
        // longer kind would be cut and registered under a name nobody asks
        // for.
        assert!(
            compat::kind_bytes(T::KIND).len() <= 16,
            "a qdisc kind has at most 15 bytes"
        );
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
            let qdisc = unsafe { Qdisc::<T>::from_raw(sch) };
            // SAFETY: `opt` is null or `TCA_OPTIONS`, validated by sch_api.c.
            let options = unsafe { nla_payload(opt) };
            // SAFETY: `extack` belongs to the request being served.
            let mut extack = unsafe { ExtAck::from_raw(extack) };
            // SAFETY: The core passed a live qdisc.
            let private = unsafe { private::<T>(sch) };
            if T::HAS_TIMER {
                // SAFETY: The area is ours during init and zeroed: the timer
                // is set up once, before the discipline can arm it, and
                // destroy (which follows init on every path, failed or not)
                // shuts it down. Its callback finds the qdisc in `sch`.
                unsafe {
                    (*private).sch = sch;
                    bindings::sch_plug_timer_setup(
                        (*private).timer.get(),
                        Some(Self::timer_callback),
                    )
                };
            }
            let init = T::init(qdisc, options, &mut extack)?;
            // SAFETY: The private area is a valid `Private<T>` with `ready`
            // false (its invariant), ours alone during init; the slot stays
            // where it is for the qdisc's life, so the state is pinned. On
            // error the initialiser leaves the slot uninitialised, and
            // `ready` stays false.
            unsafe {
                compat::init_at(init, (*private).state.as_mut_ptr())?;
                (*private).ready = true;
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the qdisc core as `->destroy` of our ops.
    unsafe extern "C" fn destroy_callback(sch: *mut bindings::Qdisc) {
        // SAFETY: The core destroys a qdisc that nothing reaches any more
        // (`__qdisc_destroy()`), or one whose creation failed
        // (`qdisc_create()`'s `err_out4`): access is exclusive.
        // SAFETY: The core passed a live qdisc.
        let private = unsafe { private::<T>(sch) };
        if T::HAS_TIMER {
            // SAFETY: Set up by init, which ran before (`Private`
            // invariant). Destroy runs under RTNL with no spinlock held, so
            // it may wait for a running timer; once shut down, the timer
            // cannot be armed again.
            unsafe { bindings::timer_shutdown_sync((*private).timer.get()) };
        }
        // SAFETY: The area is a valid `Private<T>` (its invariant), ours.
        // `ready` says whether init wrote the state; it is dropped in place
        // once, and `ready` cleared with it.
        unsafe {
            if (*private).ready {
                (*private).ready = false;
                ptr::drop_in_place((*private).state.as_mut_ptr());
            }
        }
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
        let qdisc = unsafe { Qdisc::<T>::from_raw(sch) };
        // SAFETY: The core hands us a buffer it no longer owns.
        let skb = unsafe { SkBuff::from_raw(skb) };
        // SAFETY: `to_free` is this call's deferred-free list.
        let mut to_free = unsafe { ToFree::from_raw(to_free) };
        // SAFETY: Init succeeded, and the root lock makes this the only
        // reference to the state.
        let state = unsafe { state::<T>(sch) };
        T::enqueue(state, qdisc, skb, &mut to_free) as c_int
    }

    /// # Safety
    ///
    /// Called by the qdisc core as `->dequeue` of our ops.
    unsafe extern "C" fn dequeue_callback(sch: *mut bindings::Qdisc) -> *mut bindings::sk_buff {
        // SAFETY: The core calls dequeue with the root qdisc lock held on a
        // qdisc whose init succeeded.
        let qdisc = unsafe { Qdisc::<T>::from_raw(sch) };
        // SAFETY: As in `enqueue_callback`.
        let state = unsafe { state::<T>(sch) };
        T::dequeue(state, qdisc).map_or(ptr::null_mut(), SkBuff::into_raw)
    }

    /// # Safety
    ///
    /// Called by the timer core for the `timer` of the private area of a
    /// qdisc of our kind, set up by `init_callback`.
    unsafe extern "C" fn timer_callback(timer: *mut bindings::timer_list) {
        // SAFETY: `timer` is the `timer` field of a `Private<T>` (caller),
        // in the private area of the qdisc `sch` that init wrote there, which
        // lives until its destroy, which shuts the timer down first (waiting
        // for this call).
        let (private, sch): (*const Private<T>, _) = unsafe {
            let private = container_of!(
                timer.cast::<Opaque<bindings::timer_list>>(),
                Private<T>,
                timer
            );
            (private, (*private).sch)
        };
        // SAFETY: The qdisc is alive (above); the helper takes its root
        // lock as `sch_tree_lock()` would, under RCU, in this softirq.
        let lock = unsafe { bindings::sch_plug_timer_lock(sch) };
        // SAFETY: The root lock excludes the data path, reset under the
        // lock and the control callbacks' `TreeGuard`s, so the area is
        // ours; a reset without the lock (destroy) stopped the timer first.
        if unsafe { (*private).ready } {
            // SAFETY: As above: the root lock is held for the call.
            let qdisc = unsafe { Qdisc::<T>::from_raw(sch) };
            // SAFETY: Init succeeded (`ready`) and the lock makes this the
            // only reference to the state.
            let state = unsafe { state::<T>(sch) };
            T::timer(state, qdisc);
        }
        // SAFETY: Taken above by this call.
        unsafe { bindings::sch_plug_timer_unlock(lock) };
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
        // SAFETY: `change` is only called under RTNL on live qdiscs of our
        // kind, whose init succeeded.
        let mut sch = unsafe { Control::<T>::from_raw(sch) };
        from_result(|| {
            T::change(&mut sch, options, &mut extack)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the qdisc core as `->reset` of our ops.
    unsafe extern "C" fn reset_callback(sch: *mut bindings::Qdisc) {
        // SAFETY: The core resets with the root qdisc lock held, or on
        // destroy with the qdisc unreachable: access is exclusive.
        // SAFETY: The core passed a live qdisc.
        let private = unsafe { private::<T>(sch) };
        // `__qdisc_destroy()` resets the qdisc, with no lock held, before
        // destroying it: its last reference is gone then (`qdisc_put()`;
        // only ingress qdiscs, which this layer does not make, are
        // destroyed otherwise, by `qdisc_graft()`), whereas a
        // reset under the root lock (device down, `qdisc_reset()` from
        // `dev_reset_queue()`) finds references left. The timer, which
        // takes the root lock to walk the queue, must be stopped before
        // this purge: it waits for a running one, which the destroy
        // context allows (RTNL, no spinlock).
        // SAFETY: The qdisc is valid; a discipline with a timer set it up in
        // init (`Private` invariant).
        if T::HAS_TIMER && unsafe { bindings::sch_plug_qdisc_refcount(sch) } == 0 {
            // SAFETY: As above.
            unsafe { bindings::timer_shutdown_sync((*private).timer.get()) };
        }
        // SAFETY: The queue is ours to purge under that exclusion.
        unsafe { bindings::sch_plug_qdisc_reset_queue(sch) };
        // SAFETY: The area is a valid `Private<T>` (its invariant), ours
        // under that exclusion; `ready` says whether the state is there.
        if unsafe { (*private).ready } {
            // SAFETY: Init succeeded (`ready`), and the exclusion above makes
            // this the only reference to the state.
            T::reset(unsafe { state::<T>(sch) });
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
        let mut dump = Dump(skb, PhantomData);
        // SAFETY: `sch` is a live qdisc of our kind whose init succeeded,
        // dumped under RTNL.
        let mut sch = unsafe { Control::<T>::from_raw(sch) };
        from_result(|| {
            T::dump(&mut sch, &mut dump)?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the qdisc core as `->dump_stats` of our ops.
    unsafe extern "C" fn dump_stats_callback(
        sch: *mut bindings::Qdisc,
        d: *mut bindings::gnet_dump,
    ) -> c_int {
        // INVARIANT: `d` is the dump this callback fills.
        let mut dump = StatsDump(d, PhantomData);
        // SAFETY: As in `dump_callback`.
        let mut sch = unsafe { Control::<T>::from_raw(sch) };
        from_result(|| {
            T::dump_stats(&mut sch, &mut dump)?;
            Ok(0)
        })
    }

    /// The netdevice notifier: tells the qdiscs of our kind attached to a
    /// device's transmit queues that its MTU changes.
    ///
    /// # Safety
    ///
    /// Called by the notifier chain with `nb` the `nb` of a registered
    /// [`Registration<T>`] and `info` the event's `netdev_notifier_info`.
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
        // SAFETY: `nb` is the `nb` field of a `Registration<T>` (caller):
        // stepping back by its offset gives the registration, pinned and
        // registered while its notifier is.
        let ops = unsafe {
            let registration: *const Registration<T> = container_of!(
                nb.cast::<Opaque<bindings::notifier_block>>(),
                Registration<T>,
                nb
            );
            (*registration).ops.get().cast_const()
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
            // succeeded (the core attaches a qdisc only after its init), and
            // RTNL is held.
            let mut sch = unsafe { Control::<T>::from_raw(sch) };
            T::mtu_change(&mut sch, change);
        }
        bindings::NOTIFY_DONE as c_int
    }

    /// The ops table for `T`, without its owner (set at registration). A
    /// `const fn`: a kind string that does not fit fails the build.
    const fn build() -> bindings::Qdisc_ops {
        let () = Self::LAYOUT_OK;
        let mut id = [0; 16];
        let kind = compat::kind_bytes(T::KIND);
        let mut i = 0;
        // Fits with its NUL: checked in `LAYOUT_OK`.
        while i < kind.len() {
            // `c_char` is `i8` on 6.12, `u8` on 7.x: the same byte.
            id[i] = c_char::from_ne_bytes([kind[i]]);
            i += 1;
        }
        bindings::Qdisc_ops {
            id,
            // Cannot truncate: checked in `LAYOUT_OK`.
            priv_size: core::mem::size_of::<Private<T>>() as c_int,
            enqueue: Some(Self::enqueue_callback),
            dequeue: Some(Self::dequeue_callback),
            peek: Some(match T::PEEK {
                Peek::Dequeued => bindings::sch_plug_qdisc_peek_dequeued,
                Peek::Head => bindings::sch_plug_qdisc_peek_head,
            }),
            init: Some(Self::init_callback),
            reset: Some(Self::reset_callback),
            destroy: Some(Self::destroy_callback),
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
            // SAFETY: The other fields of `struct Qdisc_ops` are pointers
            // and integers, for which zero (null, none) is valid.
            ..unsafe { MaybeUninit::zeroed().assume_init() }
        }
    }
}

/// A registered qdisc kind: its ops and, for a discipline with
/// [`Discipline::mtu_change`], the netdevice notifier that calls it (which
/// finds the ops from its own address). Pinned where the module keeps it
/// (in place in the module on 6.19+, in a box on 6.12: [`module_qdisc!`]),
/// since the C side keeps pointers to both; dropping it unregisters the
/// kind.
///
/// Qdiscs of the kind keep using the ops for as long as they exist, and
/// each holds a reference on the module: a registration that lives until
/// the module's exit, as [`Self::new`] requires, outlives them all.
///
/// [`module_qdisc!`]: super::module_qdisc
///
/// # Invariants
///
/// `ops` is registered with the qdisc core, and `nb` with the netdevice
/// notifier chain if `T::HAS_MTU_CHANGE`, from the end of [`Self::new`]'s
/// initialiser until `drop`.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T: Discipline> {
    #[pin]
    ops: Opaque<bindings::Qdisc_ops>,
    #[pin]
    nb: Opaque<bindings::notifier_block>,
    _discipline: PhantomData<T>,
}

// SAFETY: The C side synchronises its own use of the ops and the notifier
// (the qdisc core's `qdisc_mod_lock`, the notifier chain's RTNL); Rust code
// only registers them, in the initialiser, and unregisters them in `drop`,
// which may run on any thread.
unsafe impl<T: Discipline> Send for Registration<T> {}
// SAFETY: No method takes `&self`: sharing a reference gives access to
// nothing.
unsafe impl<T: Discipline> Sync for Registration<T> {}

impl<T: Discipline> Registration<T> {
    /// Registers the kind of `T`, owned by `module`: qdiscs of the kind hold
    /// a reference on the module.
    ///
    /// Fails with `EEXIST` if another module registered the kind (for
    /// example the C `sch_plug`).
    ///
    /// # Safety
    ///
    /// The registration is part of `module`'s own state and is dropped
    /// only at its exit, when no qdisc of the kind is left (each holds a
    /// reference on `module`).
    pub(crate) unsafe fn new(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            // SAFETY: `slot` is valid for writes and pinned (the initialiser's
            // contract), so the fields' addresses are those the C side will
            // keep.
            let (ops, nb) = unsafe {
                (
                    compat::opaque_ptr(ptr::addr_of!((*slot).ops)),
                    compat::opaque_ptr(ptr::addr_of!((*slot).nb)),
                )
            };
            let mut table = Adapter::<T>::build();
            table.owner = module.as_ptr().cast();
            // SAFETY: `ops` and `nb` are valid for writes (above); the
            // marker field is zero-sized, so the slot is then initialised.
            unsafe {
                ops.write(table);
                nb.write(bindings::notifier_block {
                    // Only referenced when used: the callback calls
                    // `mtu_change`, whose default is a build error.
                    notifier_call: if T::HAS_MTU_CHANGE {
                        Some(Adapter::<T>::netdev_callback)
                    } else {
                        None
                    },
                    next: ptr::null_mut(),
                    priority: 0,
                });
            }
            // SAFETY: `ops` is a complete table that stays where it is until
            // `drop` unregisters it.
            to_result(unsafe { bindings::register_qdisc(ops) })?;
            if T::HAS_MTU_CHANGE {
                // SAFETY: As for the ops: `nb` is complete and pinned.
                if let Err(e) = to_result(unsafe { bindings::register_netdevice_notifier(nb) }) {
                    // SAFETY: Registered just above; on error the slot is
                    // left as if never initialised.
                    unsafe { bindings::unregister_qdisc(ops) };
                    return Err(e);
                }
            }
            // INVARIANT: Registered above.
            Ok(())
        };
        // SAFETY: The closure initialises the whole slot and returns `Ok`,
        // or fails with nothing left registered; it never moves the slot.
        unsafe { compat::pin_init_from_closure(init) }
    }
}

#[pinned_drop]
impl<T: Discipline> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        if T::HAS_MTU_CHANGE {
            // SAFETY: Registered (type invariant); once this returns, no
            // callback runs or will run.
            unsafe { bindings::unregister_netdevice_notifier(self.nb.get()) };
        }
        // SAFETY: Registered (type invariant). This runs at the module's
        // exit (the contract of `new`), when no qdisc of the kind is left to
        // use the ops, and no new one finds them once this returns.
        unsafe { bindings::unregister_qdisc(self.ops.get()) };
    }
}
