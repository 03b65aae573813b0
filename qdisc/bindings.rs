// SPDX-License-Identifier: GPL-2.0

//! Raw bindings to the qdisc API, generated at build time by
//! `scripts/bindgen.sh` from `bindings/bindings.h`. Only the qdisc layer
//! (this directory) sees them.

#![allow(
    unknown_lints,
    unnecessary_transmutes,
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    // Enabled by the kernel's Makefile on 7.x, allowed by its own bindings
    // crate (`rust/bindings/lib.rs`) for the code bindgen writes.
    clippy::as_underscore,
    clippy::cast_lossless,
    clippy::ptr_as_ptr,
    clippy::ref_as_ptr
)]

use kernel::ffi;
// What the line's bindgen options make the generated code name (compat.rs).
#[allow(unused_imports)]
use super::compat::bindgen_prelude::*;

// The kernel's bindgen flags blocklist these; its `bindings` crate defines
// them the same way.
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;

include!("../bindings/qdisc_generated.rs");
