//! plugfuzz: a seeded, reproducible netlink fuzzer for the plug qdisc,
//! checked message by message against a model.
//!
//!   plugfuzz --seed S --messages N --devs d0,d1,d2 [--verbose]
//!
//! Runs in a network namespace holding dummy devices (up, IPv6 off, no
//! address: nothing but our packets crosses them). It sends create, change,
//! replace, delete and get requests on the root of several devices with
//! every flag combination the qdisc API distinguishes, handles 0, 1:, 2: and
//! an invalid minor, TCA_OPTIONS of every length 0..64 (random bytes or a
//! `tc_plug_qopt` with an action from the whole int range and limits at the
//! bounds), with and without NLA_F_NESTED; and it sends real packets
//! (AF_PACKET) through the plugs. Each request's errno is checked against the
//! model's (sch_api.c of 6.12 for the routing, the default plug rules for
//! the rest), as is each packet's fate (queued or sent, or dropped: the send
//! fails with ENOBUFS); every `--check-every` steps (default 4, and after
//! the last) the device's root qdisc is read back (echoed by a create or
//! change, else a get): kind, handle, limit (TCA_OPTIONS), the seven
//! xstats, Sent packets and bytes, queue length, backlog and drops must all
//! be the model's. State accumulates, so a divergence shows at the next
//! check; `--check-every 1` checks after every step.
//!
//! The model of the plug is written here from the rules (README), not taken
//! from epoch.rs: closed epochs acknowledged one by one (merged at 64),
//! pass-through, the byte limit. Dummy devices transmit synchronously, so a
//! released packet has left by the time the request returns.
//!
//! Exit status 0 when every check held; otherwise the first mismatch is
//! printed with the seed and message number that reproduce it.

use plug_tools::*;
use std::collections::VecDeque;

const RING: usize = 64;

#[derive(Clone, Debug)]
struct Plug {
    handle: Option<u32>,
    limit: u32,
    pass_through: bool,
    open: u64,
    /// Closed epochs: (packets, acks needed).
    closed: VecDeque<(u64, u64)>,
    /// Lengths of the queued packets, oldest first, and their sum.
    queue: VecDeque<u32>,
    backlog: u64,
    sent_packets: u64,
    sent_bytes: u64,
    drops: u64,
}

impl Plug {
    fn new(limit: u32) -> Self {
        Plug {
            handle: None,
            limit,
            pass_through: false,
            open: 0,
            closed: VecDeque::new(),
            queue: VecDeque::new(),
            backlog: 0,
            sent_packets: 0,
            sent_bytes: 0,
            drops: 0,
        }
    }
    fn release(&mut self, n: u64) {
        for _ in 0..n {
            let l = self
                .queue
                .pop_front()
                .expect("model: release past the queue");
            self.backlog -= u64::from(l);
            self.sent_packets += 1;
            self.sent_bytes += u64::from(l);
        }
    }
    /// A packet of `len` bytes arrives; false if the plug drops it.
    fn packet(&mut self, len: u32) -> bool {
        if self.backlog + u64::from(len) > u64::from(self.limit) {
            self.drops += 1;
            return false;
        }
        if self.pass_through {
            self.sent_packets += 1;
            self.sent_bytes += u64::from(len);
        } else {
            self.open += 1;
            self.queue.push_back(len);
            self.backlog += u64::from(len);
        }
        true
    }
    fn command(&mut self, action: i32, limit: u32) {
        match action {
            TCQ_PLUG_BUFFER => {
                // Pass-through left nothing queued on a synchronous device.
                self.pass_through = false;
                let p = std::mem::take(&mut self.open);
                if self.closed.len() == RING {
                    let newest = self.closed.back_mut().unwrap();
                    newest.0 += p;
                    newest.1 += 1;
                } else {
                    self.closed.push_back((p, 1));
                }
            }
            TCQ_PLUG_RELEASE_ONE => {
                if let Some(oldest) = self.closed.front_mut() {
                    oldest.1 -= 1;
                    if oldest.1 == 0 {
                        let (p, _) = self.closed.pop_front().unwrap();
                        self.release(p);
                    }
                }
            }
            TCQ_PLUG_RELEASE_INDEFINITE => {
                let n = self.queue.len() as u64;
                self.release(n);
                self.closed.clear();
                self.open = 0;
                self.pass_through = true;
            }
            TCQ_PLUG_LIMIT => self.limit = limit,
            _ => unreachable!(),
        }
    }
    fn xstats(&self) -> [u32; 6] {
        let sat = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        [
            self.limit,
            u32::from(self.pass_through),
            if self.pass_through { 0 } else { sat(self.open) },
            self.closed.len() as u32,
            sat(self.closed.iter().map(|c| c.0).sum()),
            0,
        ]
    }
}

struct Dev {
    name: String,
    ifindex: i32,
    mtu: u32,
    txqlen: u32,
    plug: Option<Plug>,
    sock: i32,
}

impl Dev {
    fn default_limit(&self) -> u32 {
        let n = if self.txqlen == 0 { 1000 } else { self.txqlen };
        n.saturating_mul(self.mtu + 14)
    }
}

fn sysfs_u32(dev: &str, what: &str) -> u32 {
    std::fs::read_to_string(format!("/sys/class/net/{dev}/{what}"))
        .unwrap_or_else(|e| panic!("{dev}/{what}: {e}"))
        .trim()
        .parse()
        .unwrap()
}

fn packet_socket(ifindex: i32) -> i32 {
    // SAFETY: Plain system calls.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        assert!(
            fd >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        let mut sa: libc::sockaddr_ll = std::mem::zeroed();
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_ifindex = ifindex;
        let r = libc::bind(
            fd,
            (&sa as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        assert!(r == 0, "bind: {}", std::io::Error::last_os_error());
        fd
    }
}

/// Sends one Ethernet frame of `len` bytes (IPv4 ethertype, zero payload);
/// false if the qdisc dropped it (the send fails with ENOBUFS).
fn send_frame(fd: i32, len: u32) -> bool {
    let mut f = vec![0u8; len as usize];
    f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    // SAFETY: `f` is valid for its length.
    let n = unsafe { libc::send(fd, f.as_ptr().cast(), f.len(), 0) };
    if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOBUFS) {
        return false;
    }
    assert!(
        n == len as isize,
        "send of {len} bytes: {}",
        std::io::Error::last_os_error()
    );
    true
}

/// A limit, biased to the bounds.
fn limit(rng: &mut Rng) -> u32 {
    match rng.below(8) {
        0 => 0,
        1 => 1,
        2 => 1 << 31,
        3 => u32::MAX,
        4 => rng.below(200) as u32,
        _ => 1000 + rng.below(20_000) as u32,
    }
}

/// An action, from the whole int range but mostly valid.
fn action(rng: &mut Rng) -> i32 {
    match rng.below(10) {
        0 => rng.next() as i32,
        1 => rng.pick(&[-1, 4, 5, i32::MIN, i32::MAX, 256]),
        2..=4 => TCQ_PLUG_BUFFER,
        5..=6 => TCQ_PLUG_RELEASE_ONE,
        7 => TCQ_PLUG_RELEASE_INDEFINITE,
        _ => TCQ_PLUG_LIMIT,
    }
}

/// TCA_OPTIONS: absent, random bytes of length 0..64, or a tc_plug_qopt
/// (sometimes with a tail).
fn options(rng: &mut Rng) -> Option<Vec<u8>> {
    match rng.below(10) {
        0 => None,
        1 => {
            let n = rng.below(65) as usize;
            Some((0..n).map(|_| rng.next() as u8).collect())
        }
        2 => {
            let mut v = qopt(action(rng), limit(rng));
            v.extend((0..rng.below(57)).map(|_| rng.next() as u8));
            Some(v)
        }
        _ => Some(qopt(action(rng), limit(rng))),
    }
}

/// The decoded options: Err(()) for what the plug rejects with EINVAL.
fn decode(opt: &[u8]) -> Result<(i32, u32), ()> {
    if opt.len() < 8 {
        return Err(());
    }
    let a = i32::from_ne_bytes(opt[0..4].try_into().unwrap());
    let l = u32::from_ne_bytes(opt[4..8].try_into().unwrap());
    if (0..=3).contains(&a) {
        Ok((a, l))
    } else {
        Err(())
    }
}

/// A new plug as `->init` makes it (default rules), or EINVAL.
fn create(dev: &Dev, opt: &Option<Vec<u8>>) -> Result<Plug, i32> {
    let dflt = dev.default_limit();
    match opt {
        None => Ok(Plug::new(dflt)),
        Some(o) => {
            let (a, l) = decode(o).map_err(|_| libc::EINVAL)?;
            let lim = if a == TCQ_PLUG_LIMIT {
                l
            } else if l != 0 {
                l
            } else {
                dflt
            };
            let mut p = Plug::new(lim);
            if a == TCQ_PLUG_RELEASE_INDEFINITE {
                p.command(a, 0);
            }
            Ok(p)
        }
    }
}

const EINVAL: i32 = libc::EINVAL;
const EEXIST: i32 = libc::EEXIST;
const ENOENT: i32 = libc::ENOENT;

/// sch_api.c's answer to RTM_NEWQDISC on the root (kind "plug"), applied
/// to the model; the errno expected.
fn model_new(dev: &mut Dev, handle: u32, flags: u16, opt: &Option<Vec<u8>>) -> i32 {
    let q_handle = dev.plug.as_ref().map(|p| p.handle);
    let create_n_graft = |dev: &mut Dev| -> i32 {
        if flags & NLM_F_CREATE == 0 {
            return ENOENT;
        }
        match create(dev, opt) {
            Err(e) => e,
            Ok(mut p) => {
                p.handle = if handle == 0 { None } else { Some(handle) };
                dev.plug = Some(p);
                0
            }
        }
    };
    let change = |dev: &mut Dev| -> i32 {
        if flags & NLM_F_EXCL != 0 {
            return EEXIST;
        }
        let Some(o) = opt else { return 0 };
        match decode(o) {
            Err(()) => EINVAL,
            Ok((a, l)) => {
                dev.plug.as_mut().unwrap().command(a, l);
                0
            }
        }
    };
    match q_handle {
        // The device's default root (handle 0) counts as none.
        None => {
            if handle != 0 && handle & 0xffff != 0 {
                return EINVAL;
            }
            create_n_graft(dev)
        }
        Some(qh) => {
            let qh = qh.expect("model: root handle learnt after create");
            if handle == 0 || handle == qh {
                // Same kind: a change.
                change(dev)
            } else {
                if flags & NLM_F_REPLACE == 0 {
                    return EEXIST;
                }
                if handle & 0xffff != 0 {
                    return EINVAL;
                }
                // No qdisc has that handle: create and graft over the root.
                create_n_graft(dev)
            }
        }
    }
}

/// tc_get_qdisc for RTM_DELQDISC/RTM_GETQDISC on the root.
fn model_del_get(dev: &mut Dev, del: bool, handle: u32, kind: Option<&str>) -> i32 {
    let (qh, qkind) = match &dev.plug {
        Some(p) => (p.handle.unwrap(), "plug"),
        None => (0, "noqueue"),
    };
    if handle != 0 && handle != qh {
        return EINVAL;
    }
    if kind.is_some_and(|k| k != qkind) {
        return EINVAL;
    }
    if del {
        if qh == 0 {
            return ENOENT;
        }
        dev.plug = None;
    }
    0
}

/// Compares the root qdisc read back from the kernel with the model.
fn compare(seed: u64, n: u64, dev: &mut Dev, got: QdiscInfo, what: &str) {
    match dev.plug.as_mut() {
        None => {
            if got.kind != "noqueue" {
                fail(
                    seed,
                    n,
                    format!(
                        "{}: root {:?}, model has the default noqueue",
                        dev.name, got.kind
                    ),
                );
            }
        }
        Some(p) => {
            if p.handle.is_none() {
                p.handle = Some(got.handle);
            }
            let expect = (
                "plug".to_string(),
                p.handle.unwrap(),
                Some(qopt(TCQ_PLUG_LIMIT, p.limit)),
                Some(p.xstats()),
                p.sent_packets,
                p.sent_bytes,
                p.queue.len() as u32,
                p.backlog as u32,
                p.drops as u32,
            );
            let actual = (
                got.kind.clone(),
                got.handle,
                got.options.clone(),
                got.plug_xstats(),
                got.packets,
                got.bytes,
                got.qlen,
                got.backlog,
                got.drops,
            );
            if expect != actual {
                fail(
                        seed,
                        n,
                        format!(
                            "{} after [{what}]: (kind, handle, options, xstats, sent packets, bytes, qlen, backlog, drops)\n  expected {expect:?}\n       got {actual:?}",
                            dev.name
                        ),
                    );
            }
        }
    }
}

fn fail(seed: u64, n: u64, what: String) -> ! {
    println!("FAIL seed {seed} message {n}: {what}");
    println!(
        "reproduce: plugfuzz --seed {seed} --messages {} --verbose",
        n + 1
    );
    std::process::exit(1);
}

/// How long each kind of request takes here (for sizing the runs).
fn probe(nl: &mut Rtnl, ifindex: i32) {
    let root = |flags, opt: Option<Vec<u8>>| Request {
        msg_type: RTM_NEWQDISC,
        flags,
        ifindex,
        parent: TC_H_ROOT,
        kind: Some("plug"),
        options: opt,
        ..Default::default()
    };
    let del = Request {
        msg_type: RTM_DELQDISC,
        ifindex,
        parent: TC_H_ROOT,
        ..Default::default()
    };
    let time = |nl: &mut Rtnl, name: &str, n: u32, r: &Request| {
        let t = std::time::Instant::now();
        for _ in 0..n {
            nl.request(r).unwrap();
        }
        println!(
            "probe: {name}: {:.0} us each",
            t.elapsed().as_micros() as f64 / f64::from(n)
        );
    };
    nl.request(&del).unwrap();
    nl.request(&root(NLM_F_CREATE, None)).unwrap();
    time(
        nl,
        "change (buffer)",
        2000,
        &root(0, Some(qopt(TCQ_PLUG_BUFFER, 0))),
    );
    time(nl, "change rejected", 2000, &root(0, Some(vec![1, 2, 3])));
    time(
        nl,
        "get",
        2000,
        &Request {
            msg_type: RTM_GETQDISC,
            ifindex,
            parent: TC_H_ROOT,
            ..Default::default()
        },
    );
    let t = std::time::Instant::now();
    for _ in 0..50 {
        nl.request(&del).unwrap();
        nl.request(&root(NLM_F_CREATE, None)).unwrap();
    }
    println!(
        "probe: delete + create: {:.0} us per pair",
        t.elapsed().as_micros() as f64 / 50.0
    );
    nl.request(&del).unwrap();
}

fn main() {
    let args = Args::from_env();
    let seed = args.num("--seed", 1);
    let messages = args.num("--messages", 10_000);
    let verbose = args.has("--verbose");
    let names = args.get("--devs").unwrap_or("d0,d1,d2");
    let mut rng = Rng::new(seed);
    let mut nl = Rtnl::open().expect("rtnetlink socket");
    let mut devs: Vec<Dev> = names
        .split(',')
        .map(|n| {
            let ifindex = ifindex(n).unwrap();
            Dev {
                name: n.to_string(),
                ifindex,
                mtu: sysfs_u32(n, "mtu"),
                txqlen: sysfs_u32(n, "tx_queue_len"),
                plug: None,
                sock: packet_socket(ifindex),
            }
        })
        .collect();
    if args.has("--probe") {
        probe(&mut nl, devs[0].ifindex);
        return;
    }
    // Start from the default root on each device.
    for d in &devs {
        let r = nl.get_root(d.ifindex).unwrap();
        let kind = r.qdisc.map(|q| q.kind).unwrap_or_default();
        if kind != "noqueue" {
            fail(
                seed,
                0,
                format!("{}: root is {kind:?}, expected the default noqueue", d.name),
            );
        }
    }
    let (mut errors, mut packets, mut checks) = (0u64, 0u64, 0u64);
    // Where the time goes: (what, count, microseconds), printed at the end.
    let mut time: Vec<(String, u64, u128)> = Vec::new();
    let mut account = |what: String, t: std::time::Instant| {
        let us = t.elapsed().as_micros();
        match time.iter_mut().find(|e| e.0 == what) {
            Some(e) => {
                e.1 += 1;
                e.2 += us;
            }
            None => time.push((what, 1, us)),
        }
    };
    let check_every = args.num("--check-every", 4);
    let mut step = 0u64;
    let handles = [0u32, 0x0001_0000, 0x0002_0000, 0x0001_0001];
    let flag_sets = [
        0,
        NLM_F_CREATE,
        NLM_F_CREATE | NLM_F_EXCL,
        NLM_F_CREATE | NLM_F_REPLACE,
        NLM_F_REPLACE,
        NLM_F_EXCL,
        NLM_F_CREATE | NLM_F_REPLACE | NLM_F_EXCL,
    ];
    while nl.sent < messages {
        let n = nl.sent;
        let di = rng.below(devs.len() as u64) as usize;
        let dev = &mut devs[di];
        let op = rng.below(100);
        let what;
        // The state the kernel reported with its answer (a successful
        // create or change echoes the qdisc), else read it back below.
        let mut echoed = None;
        // The state is checked every `check_every` steps: it accumulates,
        // so a divergence still shows at the next check (a dump costs
        // ~3 ms in the debug guest, a change ~1.7 ms).
        let mut verify = step % check_every == 0;
        step += 1;
        let t0 = std::time::Instant::now();
        if op < 30 {
            // Traffic: a few frames, each within the device's MTU.
            let k = 1 + rng.below(4);
            for _ in 0..k {
                let len = 14 + 1 + rng.below(u64::from(dev.mtu.min(1500))) as u32;
                let sent = send_frame(dev.sock, len);
                let expect = dev.plug.as_mut().is_none_or(|p| p.packet(len));
                if sent != expect {
                    fail(
                        seed,
                        nl.sent,
                        format!(
                            "{}: a {len}-byte packet was {} (model: {})",
                            dev.name,
                            if sent { "accepted" } else { "dropped" },
                            if expect { "accepted" } else { "dropped" }
                        ),
                    );
                }
                packets += 1;
            }
            what = format!("{}: {k} packets", dev.name);
            account("traffic".into(), t0);
        } else {
            let (req, expect) = if op < 93 {
                // Mostly the handles that reach the existing plug (a
                // change); the others create, replace or fail.
                let handle = if rng.chance(70) {
                    0
                } else {
                    rng.pick(&handles)
                };
                let flags = rng.pick(&flag_sets);
                let opt = options(&mut rng);
                let nested = rng.chance(30);
                let expect = model_new(dev, handle, flags, &opt);
                (
                    Request {
                        msg_type: RTM_NEWQDISC,
                        flags,
                        ifindex: dev.ifindex,
                        handle,
                        parent: TC_H_ROOT,
                        kind: Some("plug"),
                        options: opt,
                        nested,
                        echo: verify,
                    },
                    expect,
                )
            } else {
                let del = op < 95;
                let cur = dev.plug.as_ref().map_or(0, |p| p.handle.unwrap());
                let handle = match rng.below(3) {
                    0 => 0,
                    1 => cur,
                    _ => rng.pick(&handles),
                };
                let kind = rng.pick(&[None, Some("plug"), Some("pfifo")]);
                let expect = model_del_get(dev, del, handle, kind);
                (
                    Request {
                        msg_type: if del { RTM_DELQDISC } else { RTM_GETQDISC },
                        ifindex: dev.ifindex,
                        handle,
                        parent: TC_H_ROOT,
                        kind,
                        ..Default::default()
                    },
                    expect,
                )
            };
            let r = nl
                .request(&req)
                .unwrap_or_else(|e| fail(seed, n, format!("netlink: {e}")));
            account(
                format!(
                    "{} {}",
                    match req.msg_type {
                        RTM_NEWQDISC => "new",
                        RTM_DELQDISC => "del",
                        _ => "get",
                    },
                    if r.errno == 0 { "ok" } else { "rejected" }
                ),
                t0,
            );
            what = format!(
                "{}: type {} flags {:#x} handle {:#x} kind {:?} options {:?} nested {} -> errno {} {:?}",
                dev.name, req.msg_type, req.flags, req.handle, req.kind, req.options, req.nested, r.errno, r.extack
            );
            if r.errno != expect {
                fail(seed, n, format!("{what}: expected errno {expect}"));
            }
            if r.errno == 0 && req.msg_type == RTM_NEWQDISC {
                echoed = r.qdisc.clone();
            }
            if r.errno != 0 {
                // Nothing changed: the next check shows it all the same.
                verify = false;
                errors += 1;
                // Every rejection by the plug says why.
                if r.errno == EINVAL
                    && req.msg_type == RTM_NEWQDISC
                    && r.extack.as_deref().is_none_or(|m| m.is_empty())
                {
                    fail(seed, n, format!("{what}: EINVAL without an extack message"));
                }
            }
        }
        if verbose {
            println!("{n}: {what}");
        }
        // A plug created with handle 0 got one from the kernel: learn it
        // now, later requests need it.
        if devs[di].plug.as_ref().is_some_and(|p| p.handle.is_none()) {
            verify = true;
        }
        // Read the root back and compare everything with the model.
        if !verify {
            continue;
        }
        let n = nl.sent;
        let dev = &mut devs[di];
        let t0 = std::time::Instant::now();
        let got = match echoed {
            Some(q) => q,
            None => nl.get_root(dev.ifindex).unwrap().qdisc.unwrap_or_default(),
        };
        account("read-back".into(), t0);
        checks += 1;
        compare(seed, n, dev, got, &what);
    }
    // A last check of every device.
    for dev in &mut devs {
        let got = nl.get_root(dev.ifindex).unwrap().qdisc.unwrap_or_default();
        checks += 1;
        compare(seed, nl.sent, dev, got, "the end");
    }
    // Leave every device as it was: delete the plugs (held packets purged).
    for d in &mut devs {
        if d.plug.is_some() {
            let r = nl
                .request(&Request {
                    msg_type: RTM_DELQDISC,
                    ifindex: d.ifindex,
                    parent: TC_H_ROOT,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(r.errno, 0, "delete at the end");
        }
        // SAFETY: Our socket.
        unsafe { libc::close(d.sock) };
    }
    for (what, n, us) in &time {
        println!(
            "plugfuzz: time: {what}: {n} × {} us = {} s",
            us / u128::from(*n),
            us / 1_000_000
        );
    }
    println!("plugfuzz: seed {seed}: {} messages ({errors} rejected as the model expected), {packets} packets, {checks} state checks, 0 mismatches", nl.sent);
}
