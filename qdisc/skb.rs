// SPDX-License-Identifier: GPL-2.0

//! Owned socket buffers and the deferred-free list of the enqueue path.

use super::{bindings, compat};
use core::{marker::PhantomData, ptr::NonNull};

/// A socket buffer owned by Rust code.
///
/// Exactly one `SkBuff` exists per `struct sk_buff` that C handed over: the
/// enqueue callback receives it by value, [`super::Qdisc::enqueue_tail`] and
/// [`super::Qdisc::drop_packet`] consume it, and dequeue returns it to C. It is not
/// `Clone`: a buffer linked into a queue twice corrupts the queue.
///
/// Dropping an `SkBuff` frees the buffer (`kfree_skb`), so a path that
/// forgets one leaks nothing; the disciplines here never rely on that.
///
/// # Invariants
///
/// The pointer is a valid `struct sk_buff` owned by this value: it is on no
/// list and no one else frees it.
pub(crate) struct SkBuff(NonNull<bindings::sk_buff>);

impl SkBuff {
    /// Takes ownership of a buffer handed over by C.
    ///
    /// # Safety
    ///
    /// `skb` is a valid, non-null `struct sk_buff` whose ownership the caller
    /// transfers: it is on no list and nothing else will free it.
    pub(super) unsafe fn from_raw(skb: *mut bindings::sk_buff) -> Self {
        // INVARIANT: Ownership of a valid buffer is transferred per the
        // safety requirements.
        // SAFETY: The caller guarantees `skb` is non-null.
        Self(unsafe { NonNull::new_unchecked(skb) })
    }

    /// Gives ownership back to C.
    pub(super) fn into_raw(self) -> *mut bindings::sk_buff {
        let ptr = self.0.as_ptr();
        core::mem::forget(self);
        ptr
    }

    /// Length of the packet in bytes (`skb->len`).
    #[inline]
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: By the type invariant the buffer is valid, and we own it,
        // so nothing writes `len` concurrently.
        unsafe { (*self.0.as_ptr()).len }
    }

    /// The length the qdisc layer accounts for the packet in backlogs and
    /// byte counters (`qdisc_pkt_len()`): set by the core before the
    /// packet reaches a qdisc, and kept in `skb->cb` while it is queued.
    #[inline]
    pub(crate) fn pkt_len(&self) -> u32 {
        // SAFETY: The buffer is valid and ours (type invariant); this only
        // computes a field address.
        let cb = unsafe { core::ptr::addr_of!((*self.0.as_ptr()).cb) };
        let cb = cb.cast::<bindings::qdisc_skb_cb>();
        // SAFETY: A buffer a qdisc handles carries a `struct qdisc_skb_cb` at
        // the start of its control buffer (`qdisc_skb_cb()`), which is large
        // and aligned enough for it (48 bytes, 8-byte aligned).
        unsafe { compat::pkt_len(cb) }
    }

    /// How many packets the buffer counts for in packet counters (what
    /// `bstats_update()` adds): its GSO segments, 1 for a packet that is
    /// not GSO.
    #[inline]
    pub(crate) fn segs(&self) -> u32 {
        // SAFETY: The buffer is valid and ours (type invariant), and a
        // buffer a qdisc handles carries a `struct qdisc_skb_cb`.
        unsafe { compat::pkt_segs(self.0.as_ptr()) }
    }
}

// SAFETY: An `SkBuff` is the only owner of its buffer (type invariant), and
// a buffer may be handed to and freed on any CPU: the stack moves packets
// between CPUs all the time (a qdisc's packets leave on whichever CPU runs
// the queue).
unsafe impl Send for SkBuff {}

// `compat::pkt_segs` (6.12) reads `skb_shinfo()` as `head + end`: `end` is an
// offset from `head` on 64-bit; `stats_add` (mod.rs) writes `u64_stats_t`
// as one `local64_t`.
#[cfg(not(target_pointer_width = "64"))]
compile_error!("the qdisc layer reads sk_buff ends and u64 stats as 64-bit kernels lay them out");

/// The list link of a buffer (`skb->next`), which links queued buffers.
///
/// # Safety
///
/// `skb` is a valid buffer whose link the caller may write: it owns the
/// buffer, or holds the lock of the list the buffer is on.
#[inline]
pub(super) unsafe fn next(skb: *mut bindings::sk_buff) -> *mut *mut bindings::sk_buff {
    // SAFETY: `skb` is valid (caller); this only computes a field address.
    unsafe { core::ptr::addr_of_mut!((*skb).__bindgen_anon_1.__bindgen_anon_1.next) }
}

impl Drop for SkBuff {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own a valid buffer that is on no
        // list; it is not used after this.
        unsafe { bindings::sch_plug_kfree_skb(self.0.as_ptr()) };
    }
}

/// The list of buffers an enqueue callback drops, freed by the core after it
/// releases the qdisc lock (`struct sk_buff **to_free`).
///
/// # Invariants
///
/// The pointer is the `to_free` argument of the running enqueue callback,
/// which outlives `'a`.
pub(crate) struct ToFree<'a>(*mut *mut bindings::sk_buff, PhantomData<&'a mut ()>);

impl ToFree<'_> {
    /// # Safety
    ///
    /// `to_free` is the list pointer passed to the `enqueue` callback that is
    /// running, and the value does not outlive that call.
    pub(super) unsafe fn from_raw(to_free: *mut *mut bindings::sk_buff) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(to_free, PhantomData)
    }

    /// Adds `skb` to the list (`__qdisc_drop()`); the core frees the list
    /// once it has released the qdisc lock.
    #[inline]
    pub(crate) fn push(&mut self, skb: SkBuff) {
        let skb = skb.into_raw();
        // SAFETY: `self.0` is the running enqueue's list head (type
        // invariant), which only that enqueue touches; `skb` was ours, so
        // its link is ours to write, and the list takes the buffer over.
        unsafe {
            *next(skb) = *self.0;
            *self.0 = skb;
        }
    }
}
