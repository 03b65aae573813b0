//! Shared pieces of the in-guest test tools: an rtnetlink client for qdisc
//! requests (create, change, replace, delete, get) that reads back errno,
//! extack message, options, generic stats and xstats; a seeded random
//! generator; clocks.
//!
//! The tools are built on the host by cargo (`scripts/tools.sh`) and run in
//! the QEMU guest, which sees the host's userspace: a compiled client sends
//! thousands of requests a second where Python under TCG manages ~130.

use std::io;
use std::mem::size_of;

pub const RTM_NEWQDISC: u16 = 36;
pub const RTM_DELQDISC: u16 = 37;
pub const RTM_GETQDISC: u16 = 38;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_ECHO: u16 = 0x8;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLA_F_NESTED: u16 = 0x8000;
pub const TC_H_ROOT: u32 = 0xFFFF_FFFF;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSGERR_ATTR_MSG: u16 = 1;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_XSTATS: u16 = 4;
const TCA_STATS2: u16 = 7;
const TCA_STATS_BASIC: u16 = 1;
const TCA_STATS_QUEUE: u16 = 3;
const TCA_STATS_PKT64: u16 = 8;

/// `struct tc_plug_qopt` actions.
pub const TCQ_PLUG_BUFFER: i32 = 0;
pub const TCQ_PLUG_RELEASE_ONE: i32 = 1;
pub const TCQ_PLUG_RELEASE_INDEFINITE: i32 = 2;
pub const TCQ_PLUG_LIMIT: i32 = 3;

/// `struct tc_plug_qopt` as bytes.
pub fn qopt(action: i32, limit: u32) -> Vec<u8> {
    let mut v = action.to_ne_bytes().to_vec();
    v.extend_from_slice(&limit.to_ne_bytes());
    v
}

/// A qdisc request: which device, handle and parent, what kind, which
/// options (as raw bytes, with or without `NLA_F_NESTED`).
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub msg_type: u16,
    pub flags: u16,
    pub ifindex: i32,
    pub handle: u32,
    pub parent: u32,
    pub kind: Option<&'static str>,
    pub options: Option<Vec<u8>>,
    pub nested: bool,
    /// Ask a create or change to answer with the qdisc's new state.
    pub echo: bool,
}

/// What the kernel answered.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    /// 0 or a positive errno.
    pub errno: i32,
    pub extack: Option<String>,
    /// The qdisc message of a get.
    pub qdisc: Option<QdiscInfo>,
}

/// A qdisc as a dump shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QdiscInfo {
    pub handle: u32,
    pub kind: String,
    pub options: Option<Vec<u8>>,
    pub xstats: Option<Vec<u8>>,
    pub bytes: u64,
    pub packets: u64,
    pub qlen: u32,
    pub backlog: u32,
    pub drops: u32,
}

impl QdiscInfo {
    /// The xstats of a plug as six u32 (README: limit, pass-through,
    /// current epoch, closed epochs, their packets, release credits).
    pub fn plug_xstats(&self) -> Option<[u32; 6]> {
        let x = self.xstats.as_ref()?;
        if x.len() < 24 {
            return None;
        }
        let mut out = [0; 6];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u32::from_ne_bytes(x[4 * i..4 * i + 4].try_into().unwrap());
        }
        Some(out)
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn put_attr(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(align4(buf.len()), 0);
}

/// Attributes of a netlink payload: (type without flags, payload).
pub fn attrs(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let ty = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((ty, &b[4..len]));
        b = &b[align4(len).min(b.len())..];
    }
    out
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().unwrap())
}

/// An rtnetlink socket with extended acks.
pub struct Rtnl {
    fd: i32,
    seq: u32,
    buf: Vec<u8>,
    /// Requests sent so far.
    pub sent: u64,
}

impl Rtnl {
    pub fn open() -> io::Result<Self> {
        // SAFETY: Plain system calls on a socket this value owns.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let one: libc::c_int = 1;
            libc::setsockopt(
                fd,
                libc::SOL_NETLINK,
                libc::NETLINK_EXT_ACK,
                (&one as *const libc::c_int).cast(),
                4,
            );
            let mut sa: libc::sockaddr_nl = std::mem::zeroed();
            sa.nl_family = libc::AF_NETLINK as u16;
            if libc::bind(
                fd,
                (&sa as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as u32,
            ) < 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(Self {
                fd,
                seq: 0,
                buf: vec![0; 65536],
                sent: 0,
            })
        }
    }

    /// Sends one request with `NLM_F_ACK` and reads its answer.
    pub fn request(&mut self, r: &Request) -> io::Result<Reply> {
        self.seq = self.seq.wrapping_add(1);
        let mut m = Vec::with_capacity(128);
        m.extend_from_slice(&[0; 16]);
        // struct tcmsg
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&r.ifindex.to_ne_bytes());
        m.extend_from_slice(&r.handle.to_ne_bytes());
        m.extend_from_slice(&r.parent.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        if let Some(kind) = r.kind {
            let mut k = kind.as_bytes().to_vec();
            k.push(0);
            put_attr(&mut m, TCA_KIND, &k);
        }
        if let Some(opt) = &r.options {
            put_attr(
                &mut m,
                TCA_OPTIONS | if r.nested { NLA_F_NESTED } else { 0 },
                opt,
            );
        }
        let len = m.len() as u32;
        m[0..4].copy_from_slice(&len.to_ne_bytes());
        m[4..6].copy_from_slice(&r.msg_type.to_ne_bytes());
        // A get answers only with NLM_F_ECHO (qdisc_get_notify in 6.12);
        // a create or change with it answers with the qdisc's new state
        // (qdisc_notify), which saves a get.
        let echo = if r.msg_type == RTM_GETQDISC || r.echo {
            NLM_F_ECHO
        } else {
            0
        };
        m[6..8].copy_from_slice(&(r.flags | NLM_F_REQUEST | NLM_F_ACK | echo).to_ne_bytes());
        m[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        // SAFETY: `m` is valid for its length.
        let n = unsafe { libc::send(self.fd, m.as_ptr().cast(), m.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        self.sent += 1;
        let mut reply = Reply::default();
        loop {
            // SAFETY: `buf` is valid for its length.
            let n = unsafe { libc::recv(self.fd, self.buf.as_mut_ptr().cast(), self.buf.len(), 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut b = &self.buf[..n as usize];
            while b.len() >= 16 {
                let mlen = u32_at(b, 0) as usize;
                let ty = u16::from_ne_bytes([b[4], b[5]]);
                let seq = u32_at(b, 8);
                if mlen < 16 || mlen > b.len() {
                    break;
                }
                let body = &b[16..mlen];
                if seq == self.seq {
                    match ty {
                        NLMSG_ERROR => {
                            let err = i32::from_ne_bytes(body[0..4].try_into().unwrap());
                            reply.errno = -err;
                            // The request echoed back (its header only with
                            // NETLINK_CAP_ACK unset: the whole request), then
                            // the extack attributes.
                            let echoed = if err == 0 {
                                16
                            } else {
                                u32_at(body, 4) as usize
                            };
                            let at = 4 + align4(echoed);
                            if body.len() > at {
                                for (t, v) in attrs(&body[at..]) {
                                    if t == NLMSGERR_ATTR_MSG {
                                        reply.extack = Some(
                                            String::from_utf8_lossy(
                                                v.split(|c| *c == 0).next().unwrap_or(&[]),
                                            )
                                            .into_owned(),
                                        );
                                    }
                                }
                            }
                            return Ok(reply);
                        }
                        NLMSG_DONE => return Ok(reply),
                        RTM_NEWQDISC => reply.qdisc = Some(parse_qdisc(body)),
                        _ => {}
                    }
                }
                b = &b[align4(mlen).min(b.len())..];
            }
        }
    }

    /// The root qdisc of a device (`RTM_GETQDISC`, parent root).
    pub fn get_root(&mut self, ifindex: i32) -> io::Result<Reply> {
        self.request(&Request {
            msg_type: RTM_GETQDISC,
            ifindex,
            parent: TC_H_ROOT,
            ..Default::default()
        })
    }

    /// A plug change on the root qdisc of a device (`tc qdisc change`).
    pub fn plug_change(&mut self, ifindex: i32, action: i32, limit: u32) -> io::Result<Reply> {
        self.request(&Request {
            msg_type: RTM_NEWQDISC,
            ifindex,
            parent: TC_H_ROOT,
            kind: Some("plug"),
            options: Some(qopt(action, limit)),
            ..Default::default()
        })
    }
}

impl Drop for Rtnl {
    fn drop(&mut self) {
        // SAFETY: Our descriptor.
        unsafe { libc::close(self.fd) };
    }
}

fn parse_qdisc(body: &[u8]) -> QdiscInfo {
    let mut q = QdiscInfo {
        handle: u32_at(body, 8),
        ..Default::default()
    };
    for (t, v) in attrs(&body[20.min(body.len())..]) {
        match t {
            TCA_KIND => {
                q.kind =
                    String::from_utf8_lossy(v.split(|c| *c == 0).next().unwrap_or(&[])).into_owned()
            }
            TCA_OPTIONS => q.options = Some(v.to_vec()),
            TCA_XSTATS => q.xstats = Some(v.to_vec()),
            TCA_STATS2 => {
                for (t, v) in attrs(v) {
                    match t {
                        TCA_STATS_BASIC if v.len() >= 12 => {
                            q.bytes = u64::from_ne_bytes(v[0..8].try_into().unwrap());
                            q.packets = u64::from(u32_at(v, 8));
                        }
                        TCA_STATS_PKT64 if v.len() >= 8 => {
                            q.packets = u64::from_ne_bytes(v[0..8].try_into().unwrap())
                        }
                        TCA_STATS_QUEUE if v.len() >= 12 => {
                            q.qlen = u32_at(v, 0);
                            q.backlog = u32_at(v, 4);
                            q.drops = u32_at(v, 8);
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    q
}

/// xorshift64*: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `pct`%.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// `CLOCK_REALTIME` in nanoseconds: the clock of socket receive timestamps.
pub fn realtime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: Writes `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The index of a network device of the current namespace.
pub fn ifindex(name: &str) -> io::Result<i32> {
    let c = std::ffi::CString::new(name).unwrap();
    // SAFETY: `c` is a valid C string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no device {name}"),
        ))
    } else {
        Ok(i as i32)
    }
}

/// Argument parsing for `--name value` pairs.
pub struct Args(Vec<String>);

impl Args {
    pub fn from_env() -> Self {
        Self(std::env::args().skip(1).collect())
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .map(|s| s.as_str())
    }
    pub fn num(&self, name: &str, default: u64) -> u64 {
        self.get(name)
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name}: not a number: {v}"))
            })
            .unwrap_or(default)
    }
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
    pub fn first(&self) -> Option<&str> {
        self.0.first().map(|s| s.as_str())
    }
}

/// A UDP socket of the current network namespace.
pub fn udp_socket() -> i32 {
    // SAFETY: Plain system call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    assert!(fd >= 0);
    fd
}

pub fn sockaddr(ip: [u8; 4], port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip),
        },
        sin_zero: [0; 8],
    }
}

/// "ip:port" as ([a, b, c, d], port).
pub fn parse_dst(s: &str) -> ([u8; 4], u16) {
    let (ip, port) = s.split_once(':').expect("--dst ip:port");
    let ip: std::net::Ipv4Addr = ip.parse().unwrap();
    (ip.octets(), port.parse().unwrap())
}

/// Pins the calling thread to `cpu`.
pub fn pin(cpu: usize) {
    // SAFETY: A zeroed cpu_set_t is empty; we set one bit and apply it to
    // this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A UDP socket bound to `port` on every address, with kernel receive
/// timestamps (`SO_TIMESTAMPNS`) and a 64 MB receive buffer.
pub fn udp_receiver(port: u16) -> i32 {
    let fd = udp_socket();
    let one: libc::c_int = 1;
    let big: libc::c_int = 64 << 20;
    let sa = sockaddr([0, 0, 0, 0], port);
    // SAFETY: Plain system calls on our socket.
    unsafe {
        for (opt, v) in [(libc::SO_TIMESTAMPNS, &one), (libc::SO_RCVBUFFORCE, &big)] {
            libc::setsockopt(fd, libc::SOL_SOCKET, opt, (v as *const i32).cast(), 4);
        }
        assert!(
            libc::bind(fd, (&sa as *const libc::sockaddr_in).cast(), 16) == 0,
            "bind"
        );
    }
    fd
}

/// Receives one datagram into `buf`: its length and the kernel's receive
/// timestamp (`CLOCK_REALTIME` ns), `None` on error or timeout.
pub fn recv_ts(fd: i32, buf: &mut [u8]) -> Option<(usize, u64)> {
    let mut cmsg = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: A zeroed msghdr pointing at our buffers.
    let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
    mh.msg_iov = &mut iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cmsg.as_mut_ptr().cast();
    mh.msg_controllen = std::mem::size_of_val(&cmsg);
    // SAFETY: `mh` describes valid buffers.
    let n = unsafe { libc::recvmsg(fd, &mut mh, 0) };
    if n < 0 {
        return None;
    }
    let mut ts = 0u64;
    // SAFETY: Walking the control messages the kernel wrote.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&mh);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let t = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                ts = t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64;
            }
            c = libc::CMSG_NXTHDR(&mh, c);
        }
    }
    Some((n as usize, ts))
}

/// Moves the calling thread into the network namespace `name`
/// (`/run/netns/<name>`, as `ip netns` makes them): sockets it opens from
/// then on belong to that namespace, and stay there.
pub fn enter_netns(name: &str) -> io::Result<()> {
    let f = std::fs::File::open(format!("/run/netns/{name}"))?;
    use std::os::fd::AsRawFd;
    // SAFETY: A valid namespace file descriptor; affects this thread only.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
