// SPDX-License-Identifier: GPL-2.0

//! What differs between the kernel crates this layer builds against.
//!
//! Linux 6.12 (the crate of late 2024) and Linux 6.19 and later (7.x): the
//! project's `Kbuild` passes `--cfg kernel_6_19` to rustc when the kernel
//! it builds against is 6.19 or later, and refuses 6.13 to 6.18, which have
//! only some of these changes. Each item has one definition per line and
//! the same signature on both; nothing outside this file tests the cfg.
//!
//! | item | 6.12 | 6.19+ |
//! |---|---|---|
//! | [`kind_bytes`] | `kernel::str::CStr::as_bytes_with_nul` | `core::ffi::CStr::to_bytes_with_nul` (6.19: `CStr` is core's) |
//! | [`value`] | a value is a `PinInit<T, E>` for every `E` | only `Result<T, E>` is (the pin-init crate, 6.15) |
//! | [`init_at`] | `PinInit::__pinned_init` | `PinInit::__init` |
//! | [`emsgsize`] | built from the errno | `kernel::error::code::EMSGSIZE` |
//! | [`pin_init_from_closure`] | in `kernel::init` | in the pin-init crate (6.15) |
//! | [`opaque_ptr`] | `Opaque::raw_get` | `Opaque::cast_into` (`raw_get` renamed) |
//! | [`QdiscModule`] | `Module`, the registration pinned in a `KBox` | `InPlaceModule` (6.13), the registration pinned in place |
//! | `qdisc_module_info!` | `module!` with `author` | `module!` with `authors` (6.17) |

#[cfg(kernel_6_19)]
use super::bindings;
use super::{Discipline, Registration};
#[cfg(kernel_6_19)]
use kernel::error::code;
use kernel::{prelude::*, types::Opaque};

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

/// The `T` inside an `Opaque<T>` that `this` points to, which need not be
/// initialised: `Opaque::cast_into` on 6.19+.
#[cfg(kernel_6_19)]
pub(super) const fn opaque_ptr<T>(this: *const Opaque<T>) -> *mut T {
    Opaque::cast_into(this)
}
/// The `T` inside an `Opaque<T>` that `this` points to, which need not be
/// initialised: `Opaque::raw_get` on 6.12.
#[cfg(not(kernel_6_19))]
pub(super) const fn opaque_ptr<T>(this: *const Opaque<T>) -> *mut T {
    Opaque::raw_get(this)
}

/// `pin_init_from_closure` of the line: in `kernel::init` on 6.12, in the
/// pin-init crate on 6.19+ (6.15).
#[cfg(not(kernel_6_19))]
pub(super) use kernel::init::pin_init_from_closure;
/// `pin_init_from_closure` of the line: in `kernel::init` on 6.12, in the
/// pin-init crate on 6.19+ (6.15).
#[cfg(kernel_6_19)]
pub(super) use pin_init::pin_init_from_closure;

/// The state of a module that registers one qdisc kind
/// ([`super::module_qdisc!`]): the kind's registration, made at load and
/// dropped at exit. On 6.19+ the registration is pinned in place in the
/// module's state (`InPlaceModule`, 6.13).
#[cfg(kernel_6_19)]
#[pin_data]
pub(crate) struct QdiscModule<T: Discipline> {
    #[pin]
    _registration: Registration<T>,
}

#[cfg(kernel_6_19)]
impl<T: Discipline> kernel::InPlaceModule for QdiscModule<T> {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            // SAFETY: This is the state of `module`, which `module!` makes
            // at load and drops at exit, and the registration is dropped
            // with it.
            _registration <- unsafe { Registration::new(module) },
        })
    }
}

/// The state of a module that registers one qdisc kind
/// ([`super::module_qdisc!`]): the kind's registration, made at load and
/// dropped at exit. On 6.12, whose `Module::init` returns the state by
/// value, the registration is pinned in a box that the state owns.
#[cfg(not(kernel_6_19))]
pub(crate) struct QdiscModule<T: Discipline> {
    _registration: Pin<KBox<Registration<T>>>,
}

#[cfg(not(kernel_6_19))]
impl<T: Discipline> kernel::Module for QdiscModule<T> {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // SAFETY: This is the state of `module`, which `module!` makes at
        // load and drops at exit, and the registration is dropped with it.
        let registration = unsafe { Registration::new(module) };
        Ok(Self {
            _registration: KBox::pin_init(registration, GFP_KERNEL)?,
        })
    }
}

/// `module!` of the line, for [`super::module_qdisc!`]: `authors` on
/// 6.19+ (6.17); on 6.12 `author`, the first of `authors`.
#[cfg(kernel_6_19)]
macro_rules! qdisc_module_info {
    (name: $name:tt, authors: [$($author:tt),+], description: $desc:tt,
     license: $lic:tt, alias: [$($alias:tt),*] $(,)?) => {
        ::kernel::prelude::module! {
            type: QdiscModuleOf, name: $name, authors: [$($author),+], description: $desc,
            license: $lic, alias: [$($alias),*],
        }
    };
}
/// `module!` of the line, for [`super::module_qdisc!`]: `authors` on
/// 6.19+ (6.17); on 6.12 `author`, the first of `authors`.
#[cfg(not(kernel_6_19))]
macro_rules! qdisc_module_info {
    (name: $name:tt, authors: [$author:tt $(, $more:tt)*], description: $desc:tt,
     license: $lic:tt, alias: [$($alias:tt),*] $(,)?) => {
        ::kernel::prelude::module! {
            type: QdiscModuleOf, name: $name, author: $author, description: $desc,
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
