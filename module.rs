// SPDX-License-Identifier: GPL-2.0

//! Crate root of `sch_plug.ko`: the plug discipline (`sch_plug.rs`), its
//! epoch rules (`epoch.rs`) and the safe qdisc layer (`qdisc/`) it is
//! written against, registered as the qdisc kind `plug`.

// epoch.rs is also the public API of the host test crate (tests/host).
#[expect(unreachable_pub)]
mod epoch;
mod qdisc;
mod sch_plug;

qdisc::module_qdisc! {
    discipline: sch_plug::Plug,
    name: "sch_plug",
    authors: ["sch_plug-rs developers"],
    description: "Qdisc to plug and unplug traffic via netlink control (Rust)",
    license: "GPL",
    // What `tc qdisc add … plug` asks modprobe for when no `plug` is
    // registered (request_qdisc_module() in net/sched/sch_api.c).
    alias: ["net-sch-plug"],
}
