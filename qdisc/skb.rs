// SPDX-License-Identifier: GPL-2.0

//! Owned socket buffers and the deferred-free list of the enqueue path.

use super::bindings;
use core::{marker::PhantomData, ptr::NonNull};

/// A socket buffer owned by Rust code.
///
/// Exactly one `SkBuff` exists per `struct sk_buff` that C handed over: the
/// enqueue callback receives it by value, [`super::Qdisc::enqueue_tail`] and
/// [`super::Qdisc::drop_packet`] consume it, and dequeue returns it to C. It is not
/// `Clone`: a buffer linked into a queue twice corrupts the queue.
///
/// Dropping an `SkBuff` frees the buffer (`kfree_skb_reason()` with
/// `SKB_DROP_REASON_QDISC_DROP`), so a path that forgets one leaks nothing;
/// the disciplines here never rely on that.
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
    #[allow(dead_code)] // Not by the plug (`skb->len`, as C's): samples/rbfifo.rs.
    pub(crate) fn pkt_len(&self) -> u32 {
        // SAFETY: The buffer is valid and ours (type invariant), and a
        // buffer a qdisc handles carries a `struct qdisc_skb_cb`.
        unsafe { bindings::sch_plug_qdisc_pkt_len(self.0.as_ptr()) }
    }
}

// SAFETY: An `SkBuff` is the only owner of its buffer (type invariant), and
// a buffer may be handed to and freed on any CPU: the stack moves packets
// between CPUs all the time (a qdisc's packets leave on whichever CPU runs
// the queue).
unsafe impl Send for SkBuff {}

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

    /// The list head, for the kernel's drop functions.
    pub(super) fn as_raw(&mut self) -> *mut *mut bindings::sk_buff {
        self.0
    }
}
