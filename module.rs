// SPDX-License-Identifier: GPL-2.0

//! Crate root of `sch_plug.ko`: the plug discipline (`sch_plug.rs`), its
//! epoch rules (`epoch.rs`) and the safe qdisc layer (`qdisc/`) it is
//! written against, registered as the qdisc kind `plug`.

// epoch.rs is also the public API of the host test crate (tests/host).
#[allow(unreachable_pub)]
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
    // On 6.12 the parameter is declared in C (bindings/params.c) and this
    // is dropped (qdisc/compat.rs).
    params: {
        c_quirks: bool {
            default: false,
            description: "Follow the Linux 6.12 C sch_plug exactly, defects included (default: off, output commit holds); set at load",
        },
    },
}

/// The module parameter `c_quirks`: plugs follow the 6.12 C rules. On 6.19+
/// `module!` declares it (an `insmod` argument, not in sysfs); on 6.12 C
/// does (`bindings/params.c`, also in sysfs, read per new plug).
#[cfg(kernel_6_19)]
fn c_quirks() -> bool {
    module_parameters::c_quirks.value()
}
/// The module parameter `c_quirks`: plugs follow the 6.12 C rules. On 6.19+
/// `module!` declares it (an `insmod` argument, not in sysfs); on 6.12 C
/// does (`bindings/params.c`, also in sysfs, read per new plug).
#[cfg(not(kernel_6_19))]
fn c_quirks() -> bool {
    qdisc::c_quirks_param()
}
