//! plugdemo: output commit as a checkpointing system uses it (`make run`).
//!
//!   plugdemo --dev ifb0 --primary NS --dom0 NS --client NS --dst IP:PORT --out DIR
//!            [--epoch-ms 50] [--ack-ms 120] [--seconds 20] [--rate 400] [--limit BYTES]
//!
//! Three threads of one process, each in its own network namespace:
//!
//! - the **sender**, in the primary (the protected machine), sends UDP
//!   datagrams at a rate that swings around `--rate`, each with its sequence number, the epoch
//!   it was sent in and its send time;
//! - the **checkpointer**, in dom0 (where Remus runs), keeps one netlink
//!   socket to the plug on `--dev`: every `--epoch-ms` it closes the epoch
//!   (`TCQ_PLUG_BUFFER`, the machine is checkpointed), and `--ack-ms` after
//!   closing an epoch it acknowledges it (`TCQ_PLUG_RELEASE_ONE`, the
//!   backup has the checkpoint), so that with an ack delay longer than an
//!   epoch several checkpoints are in flight; it records when each epoch
//!   was opened, closed and acknowledged (the commit log);
//! - the **receiver**, in the client, timestamps every arrival in the
//!   kernel (`SO_TIMESTAMPNS`) and checks it against the commit log: an
//!   output-commit violation is a datagram that arrived before its epoch
//!   was acknowledged (the time is taken before the RELEASE_ONE is sent, so
//!   a packet that this release let go always arrives after it).
//!
//! The sender takes the epoch under a read lock and the checkpointer closes
//! it under the write lock: a datagram tagged k was sent before epoch k was
//! closed. It reaches the plug a little later (through the ifb's tasklet),
//! possibly in epoch k+1: then it waits longer than it must, never less.
//!
//! A status line on stderr while it runs; at the end a summary on stdout,
//! and in DIR: `commit.tsv` (epoch, opened, closed, acknowledged, ns since
//! the start) and `arrivals.tsv` (seq, epoch, sent, arrived, violation), for
//! `scripts/timeline.py`.

use plug_tools::*;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// What the threads share.
struct Shared {
    /// The open epoch; the sender reads it, the checkpointer bumps it.
    epoch: RwLock<u64>,
    /// Per epoch: (opened, closed, acknowledged), realtime ns.
    log: Mutex<Vec<(u64, Option<u64>, Option<u64>)>>,
    sent: AtomicU64,
    /// Beats the sender skipped: its socket's send buffer was full.
    skipped: AtomicU64,
    received: AtomicU64,
    violations: AtomicU64,
    stop_sending: AtomicBool,
    /// The sender sent its last datagram.
    sender_done: AtomicBool,
    stop_receiving: AtomicBool,
    /// The checkpointer has opened epoch 0 and starts its clock.
    started: AtomicBool,
}

/// One datagram: seq, epoch, send time.
fn payload(seq: u64, epoch: u64, sent: u64) -> [u8; 24] {
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&seq.to_ne_bytes());
    b[8..16].copy_from_slice(&epoch.to_ne_bytes());
    b[16..].copy_from_slice(&sent.to_ne_bytes());
    b
}

fn sender(sh: &Shared, netns: &str, dst: ([u8; 4], u16), rate: u64) {
    enter_netns(netns).expect("primary namespace");
    let fd = udp_socket();
    let sa = sockaddr(dst.0, dst.1);
    // The machine runs from the first epoch on: sending while the
    // checkpointer still sets up (loading libnl) would make epoch 0 several
    // epochs long, and a plug that releases the wrong epoch's size (the C
    // one) would start that far behind instead of showing its error.
    while !sh.started.load(Acquire) && !sh.stop_sending.load(Relaxed) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let start = Instant::now();
    let mut next = start;
    let mut seq = 0u64;
    while !sh.stop_sending.load(Relaxed) {
        // Never block while holding the epoch: a plug that keeps the
        // sockets of the packets it holds (the C one does) can fill the
        // send buffer, and a sender blocked under the read lock would keep
        // the checkpointer from closing the epoch, and so from releasing
        // anything. A full buffer just skips this beat.
        let n = {
            let epoch = sh.epoch.read().unwrap();
            let b = payload(seq, *epoch, realtime_ns());
            // SAFETY: Sends our buffer to a valid address, without waiting.
            unsafe {
                libc::sendto(
                    fd,
                    b.as_ptr().cast(),
                    b.len(),
                    libc::MSG_DONTWAIT,
                    (&sa as *const libc::sockaddr_in).cast(),
                    16,
                )
            }
        };
        if n == 24 {
            seq += 1;
            sh.sent.store(seq, Relaxed);
        } else {
            let e = std::io::Error::last_os_error();
            assert!(
                matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::ENOBUFS)),
                "sendto: {e}"
            );
            sh.skipped.fetch_add(1, Relaxed);
        }
        // The rate swings between 0.2 and 1.8 times `rate` over 0.7 s, as
        // a machine's traffic does: epochs differ in size.
        let phase = start.elapsed().as_secs_f64() * std::f64::consts::TAU / 0.7;
        next += Duration::from_secs_f64(1.0 / (rate.max(1) as f64 * (1.0 + 0.8 * phase.sin())));
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    sh.sender_done.store(true, Release);
}

/// (seq, epoch, sent, arrived, violation)
type Arrival = (u64, u64, u64, u64, bool);

fn receiver(sh: &Shared, netns: &str, port: u16) -> Vec<Arrival> {
    enter_netns(netns).expect("client namespace");
    let fd = udp_receiver(port);
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: Sets a receive timeout on our socket.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    while !sh.stop_receiving.load(Relaxed) {
        let Some((n, arrived)) = recv_ts(fd, &mut buf) else {
            continue;
        };
        if n != 24 {
            continue;
        }
        let word = |i: usize| u64::from_ne_bytes(buf[i * 8..i * 8 + 8].try_into().unwrap());
        let (seq, epoch, sent) = (word(0), word(1), word(2));
        let acked = sh
            .log
            .lock()
            .unwrap()
            .get(epoch as usize)
            .and_then(|e| e.2);
        let early = acked.is_none_or(|a| arrived < a);
        if early {
            sh.violations.fetch_add(1, Relaxed);
        }
        sh.received.fetch_add(1, Relaxed);
        out.push((seq, epoch, sent, arrived, early));
    }
    out
}

/// The checkpointer's netlink client: libnl's route library, as Xen's
/// libxl (`libxl_netbuffer.c`) and HAProxy's helper drive a plug (one
/// `nl_sock` for the whole run, `rtnl_qdisc_plug_*` then
/// `rtnl_qdisc_add`), loaded with `dlopen` (Debian ships no unversioned
/// `.so` without the -dev package); or `--via rtnl`, this crate's own client.
enum Commands {
    Libnl {
        sock: *mut libc::c_void,
        qdisc: *mut libc::c_void,
        buffer: unsafe extern "C" fn(*mut libc::c_void) -> i32,
        release_one: unsafe extern "C" fn(*mut libc::c_void) -> i32,
        set_limit: unsafe extern "C" fn(*mut libc::c_void, i32) -> i32,
        add: unsafe extern "C" fn(*mut libc::c_void, *mut libc::c_void, i32) -> i32,
    },
    Rtnl(Rtnl, i32),
}

/// A symbol of a library `dlopen`ed before.
fn sym<T>(lib: *mut libc::c_void, name: &str) -> T {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: `lib` is a valid handle; the symbol is looked up by name.
    let p = unsafe { libc::dlsym(lib, c.as_ptr()) };
    assert!(!p.is_null(), "libnl: no {name}");
    // SAFETY: The caller names the symbol's C type as `T`, a fn pointer.
    unsafe { std::mem::transmute_copy(&p) }
}

impl Commands {
    fn libnl(ifindex: i32) -> Self {
        let open = |name: &str| {
            let c = std::ffi::CString::new(name).unwrap();
            // SAFETY: Loads a system library by name.
            let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
            assert!(!h.is_null(), "cannot load {name} (libnl-route-3-200)");
            h
        };
        let nl = open("libnl-3.so.200");
        let route = open("libnl-route-3.so.200");
        type P = *mut libc::c_void;
        // SAFETY: libnl's documented API, called with the objects it
        // returned: a connected route socket and a plug qdisc object at
        // the device's root, whose options each command sets.
        unsafe {
            let sock = sym::<unsafe extern "C" fn() -> P>(nl, "nl_socket_alloc")();
            assert_eq!(sym::<unsafe extern "C" fn(P, i32) -> i32>(nl, "nl_connect")(sock, 0), 0);
            let qdisc = sym::<unsafe extern "C" fn() -> P>(route, "rtnl_qdisc_alloc")();
            sym::<unsafe extern "C" fn(P, i32)>(route, "rtnl_tc_set_ifindex")(qdisc, ifindex);
            sym::<unsafe extern "C" fn(P, u32)>(route, "rtnl_tc_set_parent")(qdisc, TC_H_ROOT);
            let kind = c"plug";
            assert_eq!(
                sym::<unsafe extern "C" fn(P, *const libc::c_char) -> i32>(route, "rtnl_tc_set_kind")(qdisc, kind.as_ptr()),
                0
            );
            Commands::Libnl {
                sock,
                qdisc,
                buffer: sym(route, "rtnl_qdisc_plug_buffer"),
                release_one: sym(route, "rtnl_qdisc_plug_release_one"),
                set_limit: sym(route, "rtnl_qdisc_plug_set_limit"),
                add: sym(route, "rtnl_qdisc_add"),
            }
        }
    }

    /// One command on the plug; panics if the kernel refuses it.
    fn send(&mut self, action: i32, limit: u32) {
        match self {
            Commands::Rtnl(nl, ifindex) => {
                let r = nl.plug_change(*ifindex, action, limit).expect("netlink");
                assert_eq!(r.errno, 0, "plug change {action}: {:?}", r.extack);
            }
            Commands::Libnl { sock, qdisc, buffer, release_one, set_limit, add } => {
                // SAFETY: The objects `libnl()` made; flags 0: a change of
                // the existing root qdisc (`nl-qdisc-add --update`).
                let err = unsafe {
                    match action {
                        TCQ_PLUG_BUFFER => buffer(*qdisc),
                        TCQ_PLUG_RELEASE_ONE => release_one(*qdisc),
                        _ => set_limit(*qdisc, limit as i32),
                    };
                    add(*sock, *qdisc, 0)
                };
                assert_eq!(err, 0, "libnl rtnl_qdisc_add (plug action {action}): {err}");
            }
        }
    }
}

/// Packets the plug holds now (its queue length), `None` if unknown.
fn held(nl: &mut Rtnl, ifindex: i32) -> Option<u32> {
    nl.get_root(ifindex).ok()?.qdisc.map(|q| q.qlen)
}

/// What the checkpointer reports: the most checkpoints in flight at once,
/// and the plug's drops and queue once every epoch was acknowledged.
struct Done {
    max_inflight: usize,
    plug_drops: u32,
    plug_held: u32,
}

fn checkpointer(sh: &Shared, args: &Args, status: bool) -> Done {
    enter_netns(args.get("--dom0").expect("--dom0")).expect("dom0 namespace");
    let dev = args.get("--dev").expect("--dev");
    let ifindex = ifindex(dev).expect("plug device");
    let epoch_ms = args.num("--epoch-ms", 50);
    let ack_ms = args.num("--ack-ms", 120);
    let seconds = args.num("--seconds", 20);
    let limit = args.num("--limit", 10_000_000) as u32;
    // For the status line and the end: reading the plug's state.
    let mut nl = Rtnl::open().expect("rtnetlink socket");
    let mut cmd = match args.get("--via").unwrap_or("libnl") {
        "rtnl" => Commands::Rtnl(Rtnl::open().expect("rtnetlink socket"), ifindex),
        _ => Commands::libnl(ifindex),
    };
    // The machine starts: epoch 0 is open, with Remus's limit.
    cmd.send(TCQ_PLUG_LIMIT, limit);
    sh.log.lock().unwrap().push((realtime_ns(), None, None));
    sh.started.store(true, Release);
    let start = Instant::now();
    let epoch = Duration::from_millis(epoch_ms);
    let ack = Duration::from_millis(ack_ms);
    let end = Duration::from_secs(seconds);
    let mut pending: VecDeque<(u64, Instant)> = VecDeque::new();
    let (mut closed, mut max_inflight) = (0u64, 0usize);
    let mut next_close = start + epoch;
    let mut next_status = start;
    // The last epoch is closed: from then on only acknowledgements.
    let mut finished = false;
    loop {
        if finished && pending.is_empty() {
            break;
        }
        let due_ack = pending.front().map(|p| p.1);
        let next = match (finished, due_ack) {
            (false, Some(a)) => a.min(next_close),
            (false, None) => next_close,
            (true, Some(a)) => a,
            (true, None) => unreachable!(),
        };
        let now = Instant::now();
        if next > now {
            std::thread::sleep((next - now).min(Duration::from_millis(100)));
        }
        if !finished && Instant::now() >= next_close {
            finished = start.elapsed() >= end;
            if finished {
                // The machine stops: its last datagrams reach the plug
                // (through vif0's backlog and the ifb) before the last
                // checkpoint closes their epoch.
                sh.stop_sending.store(true, Relaxed);
                while !sh.sender_done.load(Acquire) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            // Checkpoint: close the open epoch.
            let mut e = sh.epoch.write().unwrap();
            cmd.send(TCQ_PLUG_BUFFER, 0);
            let t = realtime_ns();
            let mut log = sh.log.lock().unwrap();
            log[*e as usize].1 = Some(t);
            if !finished {
                log.push((t, None, None));
            }
            // Acknowledged `ack` after the epoch really closed.
            pending.push_back((*e, Instant::now() + ack));
            *e += 1;
            closed += 1;
            max_inflight = max_inflight.max(pending.len());
            next_close += epoch;
        }
        while let Some(&(k, due)) = pending.front() {
            if due > Instant::now() {
                break;
            }
            // The backup has epoch k: record the commit, then release.
            sh.log.lock().unwrap()[k as usize].2 = Some(realtime_ns());
            cmd.send(TCQ_PLUG_RELEASE_ONE, 0);
            pending.pop_front();
        }
        if status && Instant::now() >= next_status {
            next_status += Duration::from_millis(250);
            let acked = closed - pending.len() as u64;
            eprint!(
                "\r\x1b[K  {:5.1} s | epochs closed {closed}, acknowledged {acked}, in flight {} | held now {} | sent {}, received {} | violations {}",
                start.elapsed().as_secs_f64(),
                pending.len(),
                held(&mut nl, ifindex).map_or("?".into(), |n| n.to_string()),
                sh.sent.load(Relaxed),
                sh.received.load(Relaxed),
                sh.violations.load(Relaxed),
            );
        }
    }
    sh.stop_sending.store(true, Relaxed);
    if status {
        eprintln!();
    }
    // Every epoch is acknowledged: a correct plug holds nothing now, once
    // the last released packets have left.
    std::thread::sleep(Duration::from_millis(300));
    let q = nl.get_root(ifindex).ok().and_then(|r| r.qdisc).unwrap_or_default();
    Done {
        max_inflight,
        plug_drops: q.drops,
        plug_held: q.qlen,
    }
}

fn ms(ns: u64) -> String {
    format!("{:.1} ms", ns as f64 / 1e6)
}

fn main() {
    let args = Args::from_env();
    let out = args.get("--out").expect("--out").to_string();
    let dst = parse_dst(args.get("--dst").expect("--dst"));
    let rate = args.num("--rate", 400);
    let status = !args.has("--quiet");
    let sh = Arc::new(Shared {
        epoch: RwLock::new(0),
        log: Mutex::new(Vec::new()),
        sent: AtomicU64::new(0),
        skipped: AtomicU64::new(0),
        received: AtomicU64::new(0),
        violations: AtomicU64::new(0),
        stop_sending: AtomicBool::new(false),
        sender_done: AtomicBool::new(false),
        stop_receiving: AtomicBool::new(false),
        started: AtomicBool::new(false),
    });
    let client = args.get("--client").expect("--client").to_string();
    let rx = {
        let sh = sh.clone();
        std::thread::spawn(move || receiver(&sh, &client, dst.1))
    };
    // The receiver binds before the first datagram leaves.
    std::thread::sleep(Duration::from_millis(200));
    let primary = args.get("--primary").expect("--primary").to_string();
    let tx = {
        let sh = sh.clone();
        std::thread::spawn(move || sender(&sh, &primary, dst, rate))
    };
    let done = checkpointer(&sh, &args, status);
    tx.join().unwrap();
    // Everything was acknowledged: what is still on its way arrives now.
    let sent = sh.sent.load(Relaxed);
    let deadline = Instant::now() + Duration::from_secs(5);
    while sh.received.load(Relaxed) < sent && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    sh.stop_receiving.store(true, Relaxed);
    let arrivals = rx.join().unwrap();
    let log = sh.log.lock().unwrap().clone();
    let t0 = log[0].0;

    let mut f = std::io::BufWriter::new(std::fs::File::create(format!("{out}/commit.tsv")).unwrap());
    writeln!(f, "epoch\topened\tclosed\tacknowledged").unwrap();
    let rel = |t: Option<u64>| t.map_or("-".into(), |t| t.saturating_sub(t0).to_string());
    for (k, (o, c, a)) in log.iter().enumerate() {
        writeln!(f, "{k}\t{}\t{}\t{}", rel(Some(*o)), rel(*c), rel(*a)).unwrap();
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!("{out}/arrivals.tsv")).unwrap());
    writeln!(f, "seq\tepoch\tsent\tarrived\tviolation").unwrap();
    for &(seq, epoch, s, a, v) in &arrivals {
        writeln!(f, "{seq}\t{epoch}\t{}\t{}\t{}", rel(Some(s)), rel(Some(a)), v as u8).unwrap();
    }
    drop(f);

    // The summary.
    let received = arrivals.len() as u64;
    let closed = log.iter().filter(|e| e.1.is_some()).count();
    let acked = log.iter().filter(|e| e.2.is_some()).count();
    let mut hold: Vec<u64> = arrivals.iter().map(|a| a.3.saturating_sub(a.2)).collect();
    hold.sort_unstable();
    let pct = |p: f64| hold.get(((hold.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0);
    let early: Vec<&Arrival> = arrivals.iter().filter(|a| a.4).collect();
    let mut early_epochs: Vec<u64> = early.iter().map(|a| a.1).collect();
    early_epochs.dedup();
    let out_of_order = arrivals.windows(2).filter(|w| w[1].0 < w[0].0).count();
    println!(
        "epochs: {closed} closed, {acked} acknowledged, up to {} checkpoints in flight",
        done.max_inflight
    );
    println!(
        "packets: {sent} sent, {received} received, {} dropped by the plug, {} never released (held after every epoch was acknowledged), {} lost elsewhere",
        done.plug_drops,
        done.plug_held,
        sent.saturating_sub(received + u64::from(done.plug_drops) + u64::from(done.plug_held))
    );
    println!(
        "hold time (sent -> arrived): min {}, median {}, p99 {}, max {}",
        ms(pct(0.0)),
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(pct(1.0))
    );
    println!("out of order: {out_of_order}");
    let skipped = sh.skipped.load(Relaxed);
    if skipped > 0 {
        println!("sender: {skipped} datagrams not sent, its socket's send buffer full (held packets kept their socket)");
    }
    println!(
        "output-commit violations: {} packets (of {} epochs) arrived before their epoch was acknowledged",
        early.len(),
        early_epochs.len()
    );
    if let Some(a) = early.first() {
        let (_, c, ack) = log[a.1 as usize];
        println!(
            "  first: packet {} of epoch {}, arrived at {}, epoch closed at {}, acknowledged at {}",
            a.0,
            a.1,
            ms(a.3 - t0),
            c.map_or("never".into(), |t| ms(t - t0)),
            ack.map_or("never".into(), |t| ms(t - t0)),
        );
        let shown: Vec<String> = early_epochs.iter().take(12).map(|e| e.to_string()).collect();
        println!(
            "  epochs released early: {}{}",
            shown.join(", "),
            if early_epochs.len() > 12 { ", ..." } else { "" }
        );
    }
    println!(
        "VERDICT violations={} dropped={} held={} out_of_order={out_of_order} received={received} sent={sent}",
        early.len(),
        done.plug_drops,
        done.plug_held
    );
}
