// SPDX-License-Identifier: GPL-2.0

//! What differs between the kernel crates this layer builds against.
//!
//! Linux 6.12 (the crate of late 2024) and Linux 6.19 and later (7.x): the
//! project's `Kbuild` passes `--cfg kernel_6_19` to rustc when the kernel
//! it builds against is 6.19 or later, and refuses 6.13 to 6.18, which have
//! only some of these changes. Each item has one definition per line and
//! the same signature on both; nothing outside this file tests the cfg but
//! the crate root's parameter reader (`module.rs`), which names what
//! `module!` generates there.
//!
//! | item | 6.12 | 6.19+ |
//! |---|---|---|
//! | [`kind_bytes`] | `kernel::str::CStr::as_bytes_with_nul` | `core::ffi::CStr::to_bytes_with_nul` (6.19: `CStr` is core's) |
//! | [`value`] | a value is a `PinInit<T, E>` for every `E` | only `Result<T, E>` is (the pin-init crate, 6.15) |
//! | [`init_at`] | `PinInit::__pinned_init` | `PinInit::__init` |
//! | [`pkt_len`], [`pkt_segs`] | `pkt_len` in an anonymous struct of `qdisc_skb_cb`; `bstats_update()` counts `gso_segs` of the shared info | the struct flattened, and a `pkt_segs` field that `bstats_update()` counts (6.19) |
//! | [`emsgsize`] | built from the errno | `kernel::error::code::EMSGSIZE` |
//! | `qdisc_module_info!` | `module!` with `author`, no `params` | `module!` with `authors` (6.17) and `params` (6.19) |

use super::bindings;
#[cfg(kernel_6_19)]
use kernel::error::code;
use kernel::prelude::*;

/// "Message too long", what a full netlink message is: in
/// `kernel::error::code` since 6.13.
#[cfg(kernel_6_19)]
pub(super) fn emsgsize() -> Error {
    code::EMSGSIZE
}
/// "Message too long", what a full netlink message is: 6.12's
/// `kernel::error::code` has no `EMSGSIZE`.
#[cfg(not(kernel_6_19))]
pub(super) fn emsgsize() -> Error {
    Error::from_errno(-(kernel::bindings::EMSGSIZE as i32))
}

/// The kind string with its NUL, in const context.
#[cfg(kernel_6_19)]
pub(super) const fn kind_bytes(kind: &'static CStr) -> &'static [u8] {
    kind.to_bytes_with_nul()
}
/// The kind string with its NUL, in const context.
#[cfg(not(kernel_6_19))]
pub(super) const fn kind_bytes(kind: &'static CStr) -> &'static [u8] {
    kind.as_bytes_with_nul()
}

/// A ready value as the fallible in-place initialiser that
/// [`super::Discipline::init`] returns.
#[cfg(kernel_6_19)]
pub(crate) fn value<T>(v: T) -> impl PinInit<T, Error> {
    Ok::<T, Error>(v)
}
/// A ready value as the fallible in-place initialiser that
/// [`super::Discipline::init`] returns.
#[cfg(not(kernel_6_19))]
pub(crate) fn value<T>(v: T) -> impl PinInit<T, Error> {
    v
}

/// Runs the pinned initialiser `init` on `slot`.
///
/// # Safety
///
/// As `PinInit`'s initialising method: `slot` is valid for writes and stays
/// where it is (pinned) while initialised; on error it is left
/// uninitialised.
#[cfg(kernel_6_19)]
pub(super) unsafe fn init_at<T, I: PinInit<T, Error>>(init: I, slot: *mut T) -> Result {
    // SAFETY: The caller's promise is the method's requirement.
    unsafe { init.__init(slot) }
}
/// Runs the pinned initialiser `init` on `slot`.
///
/// # Safety
///
/// As `PinInit`'s initialising method: `slot` is valid for writes and stays
/// where it is (pinned) while initialised; on error it is left
/// uninitialised.
#[cfg(not(kernel_6_19))]
pub(super) unsafe fn init_at<T, I: PinInit<T, Error>>(init: I, slot: *mut T) -> Result {
    // SAFETY: The caller's promise is the method's requirement.
    unsafe { init.__pinned_init(slot) }
}

/// `module!` of the line, for [`super::module_qdisc!`]: `authors` and
/// `params` on 6.19+; on 6.12 `author` (the first of `authors`) and no
/// `params` (a parameter is declared in C there, `bindings/params.c`).
#[cfg(kernel_6_19)]
macro_rules! qdisc_module_info {
    (name: $name:tt, authors: [$($author:tt),+], description: $desc:tt,
     license: $lic:tt, alias: [$($alias:tt),*] $(, params: {$($params:tt)*})? $(,)?) => {
        ::kernel::prelude::module! {
            type: QdiscModule, name: $name, authors: [$($author),+], description: $desc,
            license: $lic, alias: [$($alias),*], $(params: {$($params)*},)?
        }
    };
}
/// `module!` of the line, for [`super::module_qdisc!`]: `authors` and
/// `params` on 6.19+; on 6.12 `author` (the first of `authors`) and no
/// `params` (a parameter is declared in C there, `bindings/params.c`).
#[cfg(not(kernel_6_19))]
macro_rules! qdisc_module_info {
    (name: $name:tt, authors: [$author:tt $(, $more:tt)*], description: $desc:tt,
     license: $lic:tt, alias: [$($alias:tt),*] $(, params: {$($params:tt)*})? $(,)?) => {
        ::kernel::prelude::module! {
            type: QdiscModule, name: $name, author: $author, description: $desc,
            license: $lic, alias: [$($alias),*],
        }
    };
}
pub(crate) use qdisc_module_info;

/// Names the generated bindings use unqualified: on 6.19+ bindgen derives
/// pin-init's `MaybeZeroable` for every type (`rust/bindgen_parameters`),
/// as for the kernel's own `bindings` crate, which imports the same.
pub(super) mod bindgen_prelude {
    #[cfg(kernel_6_19)]
    pub(in super::super) use pin_init::MaybeZeroable;
}

// SAFETY: `__BindgenBitfieldUnit<Storage>` is a newtype around `Storage`, so
// all zeroes is a valid value when it is one of `Storage` (what the
// kernel's `bindings` crate says for its own copy of the type).
#[cfg(kernel_6_19)]
unsafe impl<Storage: pin_init::Zeroable> pin_init::Zeroable
    for bindings::__BindgenBitfieldUnit<Storage>
{
}

/// The module parameter `c_quirks` on 6.12, whose `module!` cannot declare
/// parameters: `bindings/params.c` declares it (0644, in sysfs), and this
/// reads it with `READ_ONCE`. On 6.19+ the crate root declares it through
/// `module!` (`params`) and reads it itself.
#[cfg(not(kernel_6_19))]
#[inline]
pub(crate) fn c_quirks_param() -> bool {
    // SAFETY: Reads a `bool` module parameter; no precondition.
    unsafe { bindings::sch_plug_c_quirks() }
}
