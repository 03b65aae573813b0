//! qdiscctl: create, change or read a qdisc of any kind with raw options,
//! by netlink, in a few milliseconds (Python takes seconds in the debug
//! guest).
//!
//!   qdiscctl <ifname> add|change|replace <kind> <parent> <handle> <options>
//!   qdiscctl <ifname> dump <parent>
//!
//! <parent> is "root" or tc's "M:m"; <handle> "M:" or "M:m" (0: none);
//! <options> a 32-bit limit (`struct tc_fifo_qopt`), "none" for no
//! TCA_OPTIONS, or "hex:..." for raw bytes. Prints "errno=<n>" (0 on
//! success; then ` extack="<message>"` if the kernel gave one) and exits with that errno, or for dump the qdisc's options as "options=<hex>". tc cannot
//! give options to a kind it does not know (rbfifo); this sends the same
//! message for every kind. Runs in the current network namespace (use
//! `ip netns exec`).

use plug_tools::*;

fn tc_handle(s: &str) -> u32 {
    if s == "root" {
        return TC_H_ROOT;
    }
    let (major, minor) = s.split_once(':').unwrap_or((s, ""));
    let hex = |x: &str| if x.is_empty() { 0 } else { u32::from_str_radix(x, 16).expect("handle") };
    (hex(major) << 16) | hex(minor)
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let ifindex = ifindex(&a[0]).expect("device");
    let mut nl = Rtnl::open().expect("rtnetlink socket");
    if a[1] == "dump" {
        let r = nl
            .request(&Request {
                msg_type: RTM_GETQDISC,
                ifindex,
                parent: tc_handle(&a[2]),
                echo: true,
                ..Default::default()
            })
            .expect("netlink");
        let opts = r.qdisc.and_then(|q| q.options).unwrap_or_default();
        println!("options={}", opts.iter().map(|b| format!("{b:02x}")).collect::<String>());
        return;
    }
    let flags = match a[1].as_str() {
        "add" => NLM_F_CREATE | NLM_F_EXCL,
        "change" => 0,
        "replace" => NLM_F_CREATE | NLM_F_REPLACE,
        v => panic!("unknown verb {v}"),
    };
    let options = match a[5].as_str() {
        "none" => None,
        o if o.starts_with("hex:") => Some(
            (4..o.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&o[i..i + 2], 16).expect("hex"))
                .collect(),
        ),
        o => Some(o.parse::<u32>().expect("limit").to_ne_bytes().to_vec()),
    };
    let r = nl
        .request(&Request {
            msg_type: RTM_NEWQDISC,
            flags,
            ifindex,
            handle: tc_handle(&a[4]),
            parent: tc_handle(&a[3]),
            kind: Some(Box::leak(a[2].clone().into_boxed_str())),
            options,
            ..Default::default()
        })
        .expect("netlink");
    match r.extack {
        Some(m) => println!("errno={} extack={m:?}", r.errno),
        None => println!("errno={}", r.errno),
    }
    std::process::exit(r.errno);
}
