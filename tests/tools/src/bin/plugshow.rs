//! plugshow: the root qdisc of a device as `key=value` words, read over
//! rtnetlink: kind, handle, the plug's limit (TCA_OPTIONS), its seven
//! xstats, and the generic counters. For shell tests; stock `tc` prints
//! none of the plug's own state.
//!
//!   plugshow DEV [KEY]     (KEY: print only that value)

use plug_tools::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dev = args.first().expect("usage: plugshow DEV [KEY]");
    let mut nl = Rtnl::open().expect("rtnetlink");
    let r = nl.get_root(ifindex(dev).expect("device")).expect("get");
    let q = r.qdisc.unwrap_or_default();
    let mut kv = vec![
        ("kind", q.kind.clone()),
        ("handle", format!("{:x}:", q.handle >> 16)),
        ("packets", q.packets.to_string()),
        ("bytes", q.bytes.to_string()),
        ("qlen", q.qlen.to_string()),
        ("backlog", q.backlog.to_string()),
        ("drops", q.drops.to_string()),
    ];
    if let Some(o) = q.options.as_ref().filter(|o| o.len() >= 8) {
        kv.push((
            "limit",
            u32::from_ne_bytes(o[4..8].try_into().unwrap()).to_string(),
        ));
    }
    if let Some(x) = q.plug_xstats() {
        let names = [
            "x_limit",
            "pass_through",
            "current_epoch",
            "closed_epochs",
            "closed_packets",
            "release_credits",
        ];
        for (n, v) in names.iter().zip(x) {
            kv.push((n, v.to_string()));
        }
    }
    match args.get(1) {
        Some(k) => println!(
            "{}",
            kv.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        ),
        None => println!(
            "{}",
            kv.iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}
