// SPDX-License-Identifier: GPL-2.0

//! The examples of the qdisc layer's documentation, compiled.
//!
//! `scripts/doctests.py` extracts every compiled `# Examples` block of
//! `qdisc/` into `doctests_generated.rs` at build time (`Kbuild`), one
//! module per block; one of them declares the kernel module (`module_qdisc!`),
//! so that this crate is `sch_tinyfifo.ko`, the examples' discipline, which
//! a test loads and sends packets through.

#![deny(unsafe_code)]
// The layer, with its `unsafe`, as this module's copy; the examples have none.
#[allow(dead_code, unreachable_pub, unsafe_code)]
#[path = "../qdisc/mod.rs"]
mod qdisc;

include!("doctests_generated.rs");
