//! plugstress: output commit under concurrency, with real UDP between two
//! network namespaces, on as many CPUs and transmit queues as the guest has.
//!
//!   plugstress recv --port P --out FILE                 (in the receiver's netns)
//!   plugstress run --dev v0 --dst 10.0.0.2:P --out FILE  (in the sender's netns)
//!                  [--seconds S] [--senders N] [--dumpers N] [--cpus 0,1]
//!                  [--mix transitions|pipeline] [--seed S] [--max-inflight K]
//!                  [--dumper-cpus 1]
//!   plugstress verdict --sent FILE --recv FILE [--order] [--extra-drops N]
//!
//! `run` starts N sender threads, each its own UDP flow (its own source port,
//! so that flows spread over the device's transmit queues), pinned round
//! robin to the given CPUs; a control thread driving the device's root plug
//! over one netlink socket; and dumper threads reading the plug's state at
//! the same time. Every datagram carries its flow, a sequence number and
//! the tag of the epoch it was sent in.
//!
//! Epoch tags are conservative: a sender reads the current tag before it
//! sends, and the control thread publishes a new tag only after its BUFFER
//! returned, so a packet tagged k was enqueued in epoch k or a later one.
//! Before sending the command that commits an epoch (the RELEASE_ONE that
//! acknowledges it, or a RELEASE_INDEFINITE), the control thread records the
//! time. A datagram is early when the receiver's kernel timestamp of its
//! arrival (SO_TIMESTAMPNS, taken as the veth hands it over, right after the
//! plug let it go) is before the commit time of its tag: a packet sent
//! before its epoch was acknowledged.
//!
//! Mixes: `transitions` alternates pass-through and buffering quickly (the
//! multiqueue defect: a BUFFER while the core parked a packet in
//! skb_bad_txq); `pipeline` keeps up to K checkpoints in flight, with limit
//! changes and an occasional RELEASE_INDEFINITE.
//!
//! Drops are counted without the module's word: the senders' sockets have
//! `IP_RECVERR`, so a datagram the qdisc drops at enqueue (`NET_XMIT_DROP`)
//! fails its `send` with `ENOBUFS`, and is neither counted as sent nor
//! given a sequence number; the sender namespace's `SndbufErrors`
//! (`/proc/net/snmp`), the kernel's count of those failures, is read
//! around the run.
//!
//! `verdict` checks: no early datagram; conservation independent of the
//! module (every datagram sent is received or dropped after the qdisc,
//! where the kernel counts it: `--extra-drops`, the veth's and the
//! receiver's counters); the plug's drop counter equal to the drops the
//! senders saw, and to `SndbufErrors`; no other send error; with `--order`,
//! every flow arrives in sequence (only meaningful when one CPU dequeues: on
//! several, each CPU feeds its own receive backlog and a flow can be
//! reordered after the qdisc, for the C plug as for ours).

use plug_tools::*;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MAGIC_END: u32 = 0xFFFF_FFFF;

/// `SndbufErrors` of the UDP MIB of this process's network namespace.
fn udp_sndbuf_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/self/net/snmp").unwrap();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (udp.next().unwrap(), udp.next().unwrap());
    let i = names
        .split_whitespace()
        .position(|n| n == "SndbufErrors")
        .unwrap();
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

/// What one sender did: datagrams sent, sends refused with `ENOBUFS` (the
/// qdisc dropped them), sends that failed otherwise.
struct SenderCount {
    sent: u64,
    enobufs: u64,
    other_errors: u64,
}

fn recv_main(args: &Args) {
    let port = args.num("--port", 5000) as u16;
    let out = args.get("--out").expect("--out");
    let fd = udp_receiver(port);
    // Ready: the test script waits for this file.
    std::fs::write(format!("{out}.ready"), b"").unwrap();
    let mut records = Vec::with_capacity(1 << 20);
    let mut buf = [0u8; 64];
    loop {
        let Some((n, ts)) = recv_ts(fd, &mut buf) else {
            continue;
        };
        if n < 20 {
            continue;
        }
        let flow = u32::from_ne_bytes(buf[0..4].try_into().unwrap());
        if flow == MAGIC_END {
            break;
        }
        let seq = u64::from_ne_bytes(buf[4..12].try_into().unwrap());
        let tag = u64::from_ne_bytes(buf[12..20].try_into().unwrap());
        records.push((flow, seq, tag, ts));
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    for (flow, seq, tag, ts) in records {
        writeln!(f, "{flow} {seq} {tag} {ts}").unwrap();
    }
}

struct Shared {
    tag: AtomicU64,
    stop: AtomicBool,
    /// Senders hold still while set, around a BUFFER.
    pause: AtomicBool,
    holding: AtomicU64,
    /// Commit time of each tag (0: not committed).
    commits: Mutex<Vec<u64>>,
}

impl Shared {
    fn new_tag(&self, committed_at: u64) -> u64 {
        let mut c = self.commits.lock().unwrap();
        c.push(committed_at);
        (c.len() - 1) as u64
    }
    fn commit(&self, tag: u64, at: u64) {
        let mut c = self.commits.lock().unwrap();
        if c[tag as usize] == 0 {
            c[tag as usize] = at;
        }
    }
}

fn run_main(args: &Args) {
    let dev = args.get("--dev").expect("--dev");
    let (ip, port) = parse_dst(args.get("--dst").expect("--dst"));
    let out = args.get("--out").expect("--out").to_string();
    let seconds = args.num("--seconds", 10);
    let senders = args.num("--senders", 4) as usize;
    let dumpers = args.num("--dumpers", 1) as usize;
    let max_inflight = args.num("--max-inflight", 3) as usize;
    let mix = args.get("--mix").unwrap_or("pipeline").to_string();
    let mut rng = Rng::new(args.num("--seed", 1));
    let cpus: Vec<usize> = args
        .get("--cpus")
        .unwrap_or("0")
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    let dumper_cpus: Vec<usize> = match args.get("--dumper-cpus") {
        Some(c) => c.split(',').map(|c| c.parse().unwrap()).collect(),
        None => cpus.clone(),
    };
    let ifindex = ifindex(dev).unwrap();
    let sh = Arc::new(Shared {
        tag: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        pause: AtomicBool::new(false),
        holding: AtomicU64::new(0),
        commits: Mutex::new(Vec::new()),
    });
    let mut nl = Rtnl::open().unwrap();
    // Start in pass-through: tag 0 is committed from the start.
    let t = realtime_ns();
    assert_eq!(
        nl.plug_change(ifindex, TCQ_PLUG_RELEASE_INDEFINITE, 0)
            .unwrap()
            .errno,
        0,
        "release_indefinite"
    );
    sh.tag.store(sh.new_tag(t), SeqCst);
    let sndbuf_errors_before = udp_sndbuf_errors();

    let mut threads = Vec::new();
    for i in 0..senders {
        let sh = sh.clone();
        let cpu = cpus[i % cpus.len()];
        threads.push(std::thread::spawn(move || {
            pin(cpu);
            let fd = udp_socket();
            let src = sockaddr([0, 0, 0, 0], 6000 + i as u16);
            let dst = sockaddr(ip, port);
            let on: libc::c_int = 1;
            // SAFETY: Plain system calls on our socket, valid buffers.
            unsafe {
                libc::bind(fd, (&src as *const libc::sockaddr_in).cast(), 16);
                assert!(libc::connect(fd, (&dst as *const libc::sockaddr_in).cast(), 16) == 0);
                // A qdisc drop fails the send (ENOBUFS) instead of passing
                // for a sent datagram.
                assert!(
                    libc::setsockopt(
                        fd,
                        libc::IPPROTO_IP,
                        libc::IP_RECVERR,
                        (&on as *const libc::c_int).cast(),
                        4
                    ) == 0
                );
            }
            let mut seq = 0u64;
            let (mut enobufs, mut other_errors) = (0u64, 0u64);
            let mut buf = [0u8; 20];
            while !sh.stop.load(Relaxed) {
                if sh.pause.load(SeqCst) {
                    sh.holding.fetch_add(1, SeqCst);
                    while sh.pause.load(SeqCst) && !sh.stop.load(Relaxed) {
                        std::hint::spin_loop();
                    }
                    sh.holding.fetch_sub(1, SeqCst);
                }
                let tag = sh.tag.load(SeqCst);
                buf[0..4].copy_from_slice(&(i as u32).to_ne_bytes());
                buf[4..12].copy_from_slice(&seq.to_ne_bytes());
                buf[12..20].copy_from_slice(&tag.to_ne_bytes());
                // SAFETY: `buf` is valid.
                let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), 0) };
                if n == buf.len() as isize {
                    seq += 1;
                } else {
                    if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOBUFS) {
                        enobufs += 1;
                    } else {
                        other_errors += 1;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                if seq % 64 == 0 {
                    std::thread::yield_now();
                }
            }
            // SAFETY: Our socket.
            unsafe { libc::close(fd) };
            SenderCount {
                sent: seq,
                enobufs,
                other_errors,
            }
        }));
    }
    let dumps = Arc::new(AtomicU64::new(0));
    let mut dumper_threads = Vec::new();
    for i in 0..dumpers {
        let sh = sh.clone();
        let dumps = dumps.clone();
        let cpu = dumper_cpus[i % dumper_cpus.len()];
        dumper_threads.push(std::thread::spawn(move || {
            pin(cpu);
            let mut nl = Rtnl::open().unwrap();
            while !sh.stop.load(Relaxed) {
                let r = nl.get_root(ifindex).unwrap();
                assert!(
                    r.errno == 0 && r.qdisc.is_some_and(|q| q.kind == "plug"),
                    "dump failed"
                );
                dumps.fetch_add(1, Relaxed);
                std::thread::sleep(Duration::from_micros(500));
            }
        }));
    }

    // The control loop.
    pin(cpus[senders % cpus.len()]);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut pass_through = true;
    let mut inflight: VecDeque<u64> = VecDeque::new();
    let mut counts = [0u64; 4];
    let mut limit_small = false;
    while Instant::now() < deadline {
        let action = if mix == "transitions" {
            if pass_through {
                TCQ_PLUG_BUFFER
            } else {
                TCQ_PLUG_RELEASE_INDEFINITE
            }
        } else {
            match rng.below(100) {
                0..=3 => TCQ_PLUG_RELEASE_INDEFINITE,
                4..=7 => TCQ_PLUG_LIMIT,
                _ if pass_through => TCQ_PLUG_BUFFER,
                _ if inflight.is_empty() => TCQ_PLUG_BUFFER,
                _ if inflight.len() >= max_inflight => TCQ_PLUG_RELEASE_ONE,
                r if r < 55 => TCQ_PLUG_BUFFER,
                _ => TCQ_PLUG_RELEASE_ONE,
            }
        };
        let mut limit = 0;
        match action {
            TCQ_PLUG_BUFFER => {
                // Senders hold still (bounded wait: one may be blocked on a
                // full socket buffer) so that every packet sent after the
                // BUFFER carries the new tag: the first packet of the new
                // epoch, the one a spare release credit would let out, is
                // then recognisable. The queue keeps draining meanwhile.
                sh.pause.store(true, SeqCst);
                let t = Instant::now();
                while sh.holding.load(SeqCst) < senders as u64
                    && t.elapsed() < Duration::from_millis(200)
                {
                    std::thread::yield_now();
                }
                assert_eq!(nl.plug_change(ifindex, action, 0).unwrap().errno, 0);
                inflight.push_back(sh.tag.load(SeqCst));
                sh.tag.store(sh.new_tag(0), SeqCst);
                sh.pause.store(false, SeqCst);
                pass_through = false;
            }
            TCQ_PLUG_RELEASE_ONE => {
                let t = realtime_ns();
                if let Some(tag) = inflight.pop_front() {
                    sh.commit(tag, t);
                }
                assert_eq!(nl.plug_change(ifindex, action, 0).unwrap().errno, 0);
            }
            TCQ_PLUG_RELEASE_INDEFINITE => {
                let t = realtime_ns();
                for tag in inflight.drain(..) {
                    sh.commit(tag, t);
                }
                sh.commit(sh.tag.load(SeqCst), t);
                assert_eq!(nl.plug_change(ifindex, action, 0).unwrap().errno, 0);
                sh.tag.store(sh.new_tag(t), SeqCst);
                pass_through = true;
            }
            _ => {
                // Mostly roomy, sometimes a few packets' worth: drops.
                limit_small = !limit_small && rng.chance(30);
                limit = if limit_small { 2_000 } else { 10_000_000 };
                assert_eq!(nl.plug_change(ifindex, action, limit).unwrap().errno, 0);
            }
        }
        counts[action as usize] += 1;
        let _ = limit;
        std::thread::sleep(Duration::from_micros(
            200 + rng.below(if mix == "transitions" { 800 } else { 3000 }),
        ));
    }
    // Commit everything, let the queue drain, stop.
    let t = realtime_ns();
    for tag in inflight.drain(..) {
        sh.commit(tag, t);
    }
    sh.commit(sh.tag.load(SeqCst), t);
    assert_eq!(
        nl.plug_change(ifindex, TCQ_PLUG_LIMIT, 10_000_000)
            .unwrap()
            .errno,
        0
    );
    assert_eq!(
        nl.plug_change(ifindex, TCQ_PLUG_RELEASE_INDEFINITE, 0)
            .unwrap()
            .errno,
        0
    );
    sh.stop.store(true, SeqCst);
    let counts_per_sender: Vec<SenderCount> =
        threads.into_iter().map(|t| t.join().unwrap()).collect();
    let sent: Vec<u64> = counts_per_sender.iter().map(|c| c.sent).collect();
    for t in dumper_threads {
        t.join().unwrap();
    }
    // Wait until the plug is empty, then read its counters.
    let mut q = nl.get_root(ifindex).unwrap().qdisc.unwrap();
    for _ in 0..500 {
        if q.qlen == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        q = nl.get_root(ifindex).unwrap().qdisc.unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let sndbuf_errors = udp_sndbuf_errors() - sndbuf_errors_before;
    // The end marker, then the bookkeeping for the verdict.
    let fd = udp_socket();
    let dst = sockaddr(ip, port);
    let mut end = [0u8; 20];
    end[0..4].copy_from_slice(&MAGIC_END.to_ne_bytes());
    for _ in 0..3 {
        // SAFETY: Valid buffers.
        unsafe {
            libc::sendto(
                fd,
                end.as_ptr().cast(),
                20,
                0,
                (&dst as *const libc::sockaddr_in).cast(),
                16,
            )
        };
    }
    let commits = sh.commits.lock().unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&out).unwrap());
    writeln!(
        f,
        "sent {}",
        sent.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    )
    .unwrap();
    writeln!(
        f,
        "plug_drops {} plug_qlen {} plug_packets {}",
        q.drops, q.qlen, q.packets
    )
    .unwrap();
    writeln!(
        f,
        "sender_drops {} send_errors {} sndbuf_errors {}",
        counts_per_sender.iter().map(|c| c.enobufs).sum::<u64>(),
        counts_per_sender.iter().map(|c| c.other_errors).sum::<u64>(),
        sndbuf_errors
    )
    .unwrap();
    writeln!(
        f,
        "commits {}",
        commits
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    )
    .unwrap();
    println!(
        "# plugstress {mix}: {}s, {} senders on CPUs {cpus:?}, sent {}, epochs {}, commands: buffer {} release_one {} release_indefinite {} limit {}, dumps {}",
        seconds,
        senders,
        sent.iter().sum::<u64>(),
        commits.len(),
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        dumps.load(Relaxed)
    );
}

fn verdict_main(args: &Args) {
    let sent_file = std::fs::read_to_string(args.get("--sent").expect("--sent")).unwrap();
    let recv_file = std::fs::read_to_string(args.get("--recv").expect("--recv")).unwrap();
    let extra_drops = args.num("--extra-drops", 0);
    let mut sent = Vec::new();
    let mut drops = 0u64;
    let (mut sender_drops, mut send_errors, mut sndbuf_errors) = (0u64, 0u64, 0u64);
    let mut commits = Vec::new();
    for line in sent_file.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("sent") => sent = w.map(|x| x.parse::<u64>().unwrap()).collect(),
            Some("plug_drops") => drops = w.next().unwrap().parse().unwrap(),
            Some("sender_drops") => {
                let v: Vec<u64> = w.filter_map(|x| x.parse().ok()).collect();
                (sender_drops, send_errors, sndbuf_errors) = (v[0], v[1], v[2]);
            }
            Some("commits") => commits = w.map(|x| x.parse::<u64>().unwrap()).collect(),
            _ => {}
        }
    }
    let mut received = 0u64;
    let mut early = 0u64;
    let mut early_tags = std::collections::BTreeMap::<u64, u64>::new();
    let mut unordered = 0u64;
    let mut last = vec![None::<u64>; sent.len()];
    let mut dup = 0u64;
    for line in recv_file.lines() {
        let v: Vec<u64> = line
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        let (flow, seq, tag, ts) = (v[0] as usize, v[1], v[2], v[3]);
        received += 1;
        let c = commits.get(tag as usize).copied().unwrap_or(0);
        if c == 0 || ts < c {
            early += 1;
            *early_tags.entry(tag).or_default() += 1;
        }
        if let Some(l) = last[flow] {
            if seq == l {
                dup += 1;
            } else if seq < l {
                unordered += 1;
            }
        }
        last[flow] = Some(last[flow].map_or(seq, |l| l.max(seq)));
    }
    // Sent: the sends that succeeded; a datagram the qdisc dropped failed
    // its send (ENOBUFS) and is not among them, unless the kernel answered
    // its sender for a batch (7.x): then only the kernel's own count of the
    // qdisc's drops (`--qdisc-drops`, its qdisc_drop event) tells.
    let qdisc_drops = args.get("--qdisc-drops").map(|v| v.parse::<u64>().unwrap());
    let silent = qdisc_drops.map_or(0, |q| q.saturating_sub(sender_drops));
    let total: u64 = sent.iter().sum();
    let lost = total as i64 - received as i64 - extra_drops as i64 - silent as i64;
    println!("# sent {total}, received {received}, dropped after the qdisc {extra_drops}, dropped by the plug in a batch (no sender told) {silent}, unaccounted {lost}");
    println!(
        "# drops: plug's counter {drops}, the kernel's qdisc_drop events {}, refused sends (ENOBUFS) {sender_drops}, SndbufErrors {sndbuf_errors}, other send errors {send_errors}",
        qdisc_drops.map_or("(none on this kernel)".to_string(), |q| q.to_string())
    );
    println!("# early {early} (by epoch tag: {early_tags:?}), out of order {unordered}, duplicates {dup}");
    // Without the kernel's count, every drop was told to its sender.
    let kernel_drops = qdisc_drops.unwrap_or(sender_drops);
    let drops_agree = drops == kernel_drops
        && kernel_drops >= sender_drops
        && sndbuf_errors == sender_drops
        && send_errors == 0;
    if !drops_agree {
        println!("# the plug's drop counter disagrees with the kernel's or the senders' count of its drops");
    }
    let mut ok = early == 0 && lost == 0 && dup == 0 && received > 0 && drops_agree;
    if args.has("--order") {
        ok &= unordered == 0;
    }
    std::process::exit(if ok { 0 } else { 1 });
}

fn main() {
    let args = Args::from_env();
    match args.first() {
        Some("recv") => recv_main(&args),
        Some("run") => run_main(&args),
        Some("verdict") => verdict_main(&args),
        _ => {
            eprintln!("usage: plugstress recv|run|verdict ... (see the source's header)");
            std::process::exit(2);
        }
    }
}
