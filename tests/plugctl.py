#!/usr/bin/python3
"""In-process control of a plug and its traffic, for the guest tests.

One Python process per test instead of one tc/ip/python per step: in the
debug guest every exec costs about a second. Speaks rtnetlink directly (no
pyroute2: its import alone takes half a minute there), enters the test
namespaces with setns(2), sends and receives real UDP between them.

Topology (made by tests/lib.sh setup_pair): netns snd with v0 10.0.0.1,
netns rcv with v1 10.0.0.2, static neighbours, no IPv6.
"""
import ctypes
import errno
import os
import select
import re
import socket
import struct
import subprocess
import time

CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0
NETLINK_EXT_ACK = 11
SOL_NETLINK = 270
SO_SNDBUFFORCE, SO_RCVBUFFORCE = 32, 33
IP_RECVERR = 11
RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWQDISC, RTM_DELQDISC, RTM_GETQDISC = 16, 28, 36, 37, 38
NUD_PERMANENT = 0x80
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_ROOT, NLM_F_MATCH = 0x100, 0x200
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCA_KIND, TCA_OPTIONS, TCA_STATS, TCA_XSTATS = 1, 2, 3, 4
TC_H_ROOT = 0xFFFFFFFF
LOOPBACK_IFINDEX = 1
IFF_UP = 1

BUFFER, RELEASE_ONE, RELEASE_INDEFINITE, LIMIT = 0, 1, 2, 3
ACTIONS = {"block": BUFFER, "release": RELEASE_ONE,
           "release_indefinite": RELEASE_INDEFINITE, "limit": LIMIT}

_libc = ctypes.CDLL(None, use_errno=True)


def in_new_netns(fn):
    """Run fn() inside a new network namespace of no name (unshare(2): it
    lives while something made in it, a socket, holds it), then come back."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
        return fn()
    finally:
        _libc.setns(home, CLONE_NEWNET)
        os.close(home)


def in_netns(name, fn):
    """Run fn() inside network namespace `name`, then come back."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")
        return fn()
    finally:
        _libc.setns(home, CLONE_NEWNET)
        os.close(home)
        os.close(target)


def mib(netns, names):
    """Counters of /proc/net/snmp and /proc/net/netstat in namespace
    `netns`, as a dict: `names` like "Udp:SndbufErrors",
    "Tcp:RetransSegs", "TcpExt:TCPSpuriousRtxHostQueues"."""
    def read():
        values = {}
        # thread-self: the calling thread's namespace, also off the main thread.
        for path in ("/proc/thread-self/net/snmp", "/proc/thread-self/net/netstat"):
            with open(path) as f:
                lines = f.read().splitlines()
            for head, vals in zip(lines[0::2], lines[1::2]):
                prefix, keys = head.split(":", 1)
                for k, v in zip(keys.split(), vals.split(":", 1)[1].split()):
                    values[f"{prefix}:{k}"] = int(v)
        return {n: values[n] for n in names}
    return in_netns(netns, read)


def snmp(netns, proto, field):
    """A counter of /proc/net/snmp in namespace `netns` (e.g. "Udp",
    "SndbufErrors": the datagrams the qdisc refused)."""
    name = f"{proto}:{field}"
    return mib(netns, [name])[name]


def netdev(netns, ifname, field):
    """A device counter of /proc/net/dev in namespace `netns`: rx_bytes,
    rx_packets, rx_errs, rx_drop, ..., tx_bytes, tx_packets, tx_errs,
    tx_drop, ..."""
    names = ["rx_bytes", "rx_packets", "rx_errs", "rx_drop", "rx_fifo", "rx_frame",
             "rx_compressed", "rx_multicast", "tx_bytes", "tx_packets", "tx_errs", "tx_drop"]
    def read():
        with open("/proc/self/net/dev") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name.strip() == ifname:
                    return int(rest.split()[names.index(field)])
        raise KeyError(ifname)
    return in_netns(netns, read)


def qopt(action, limit=0):
    """struct tc_plug_qopt, native endian."""
    return struct.pack("=iI", action, limit)


def _attr(kind, payload):
    return struct.pack("=HH", 4 + len(payload), kind) + payload + b"\0" * (-len(payload) % 4)


def _attrs(data, off, end):
    while off + 4 <= end:
        alen, atype = struct.unpack_from("=HH", data, off)
        if alen < 4:
            return
        yield atype & 0x3FFF, data[off + 4 : off + alen]
        off += (alen + 3) & ~3


class Rtnl:
    """A rtnetlink socket in one namespace."""

    def __init__(self, netns):
        """netns: a namespace's name, or None for a new one of no name
        (in_new_netns), which goes with the socket: its only device is
        the loopback, LOOPBACK_IFINDEX."""
        def make():
            return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock = in_new_netns(make) if netns is None else in_netns(netns, make)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.sock.bind((0, 0))
        self.seq = 0
        self.netns = netns

    def ifindex(self, ifname):
        return in_netns(self.netns, lambda: socket.if_nametoindex(ifname))

    def request(self, mtype, flags, body):
        """Send one request; return (errno, extack message)."""
        self.seq += 1
        msg = struct.pack("=IHHII", 16 + len(body), mtype, flags | NLM_F_REQUEST | NLM_F_ACK,
                          self.seq, 0) + body
        self.sock.send(msg)
        while True:
            data = self.sock.recv(1 << 16)
            off = 0
            while off < len(data):
                length, t, mflags, seq, _ = struct.unpack_from("=IHHII", data, off)
                if t == NLMSG_ERROR and seq == self.seq:
                    (err,) = struct.unpack_from("=i", data, off + 16)
                    inner = 16 if mflags & 0x100 else struct.unpack_from("=I", data, off + 20)[0]
                    text = ""
                    for atype, val in _attrs(data, off + 20 + ((inner + 3) & ~3), off + length):
                        if atype == 1:
                            text = val.rstrip(b"\0").decode()
                    return -err, text
                off += (length + 3) & ~3

    def qdisc(self, verb, ifindex, options=None, kind="plug", handle=0, parent=TC_H_ROOT,
              nested=False):
        """tc qdisc add|change|replace|del, with raw TCA_OPTIONS bytes (or none)."""
        flags = {"add": NLM_F_EXCL | NLM_F_CREATE, "change": 0,
                 "replace": NLM_F_CREATE | NLM_F_REPLACE, "del": 0}[verb]
        mtype = RTM_DELQDISC if verb == "del" else RTM_NEWQDISC
        body = struct.pack("=BxxxiIII", socket.AF_UNSPEC, ifindex, handle, parent, 0)
        if verb != "del":
            body += _attr(TCA_KIND, kind.encode() + b"\0")
        if options is not None:
            body += _attr(TCA_OPTIONS | (0x8000 if nested else 0), options)
        return self.request(mtype, flags, body)

    def link_up(self, ifindex, up):
        body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, ifindex, IFF_UP if up else 0, IFF_UP)
        return self.request(RTM_NEWLINK, 0, body)

    def neigh(self, ifindex, ip, mac):
        """A permanent neighbour entry (ip neigh replace ... nud permanent):
        no ARP request waits behind a plug. Link down flushes it."""
        body = struct.pack("=BxxxiHBB", socket.AF_INET, ifindex, NUD_PERMANENT, 0, 0)
        body += _attr(1, socket.inet_aton(ip)) + _attr(2, bytes.fromhex(mac.replace(":", "")))
        return self.request(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, body)

    def stats(self, ifindex, parent=TC_H_ROOT):
        """The qdisc's generic counters: dict sent, bytes, drops, qlen, backlog, kind."""
        self.seq += 1
        body = struct.pack("=BxxxiIII", socket.AF_UNSPEC, ifindex, 0, 0, 0)
        self.sock.send(struct.pack("=IHHII", 16 + len(body), RTM_GETQDISC,
                                   NLM_F_REQUEST | NLM_F_ROOT | NLM_F_MATCH, self.seq, 0) + body)
        found = None
        while True:
            data = self.sock.recv(1 << 16)
            off = 0
            while off < len(data):
                length, t, _, seq, _ = struct.unpack_from("=IHHII", data, off)
                if t == NLMSG_DONE:
                    return found
                if t == NLMSG_ERROR:
                    raise OSError("qdisc dump failed")
                _, idx, handle, par, _ = struct.unpack_from("=BxxxiIII", data, off + 16)
                if idx == ifindex and par == parent:
                    st = {"handle": handle}
                    for atype, val in _attrs(data, off + 36, off + length):
                        if atype == TCA_KIND:
                            st["kind"] = val.rstrip(b"\0").decode()
                        elif atype == TCA_STATS:
                            (st["bytes"], st["sent"], st["drops"], _, _, _, st["qlen"],
                             st["backlog"]) = struct.unpack_from("=QIIIIIII", val)
                        elif atype == TCA_OPTIONS:
                            st["options"] = val
                        elif atype == TCA_XSTATS:
                            st["xstats"] = val
                    found = st
                off += (length + 3) & ~3


ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


class Traffic:
    """UDP from snd (10.0.0.1) to rcv (10.0.0.2:5000), every packet tagged.

    The receiver is a packet socket on v1, so every frame the plug lets out
    is seen, not only our datagrams: a UDP datagram to port 5000 is recorded
    as its payload, anything else as "other <ethertype> <IP protocol>".
    With capture="udp" it is the UDP socket instead, for topologies where
    packets cross v1 before the plug (ingress redirection to an ifb).
    """

    def __init__(self, port=5000, ifname="v1", capture="packet", recverr=False):
        def tx():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 1 << 26)
            if recverr:
                # A datagram the qdisc drops fails its send (ENOBUFS).
                s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
            return s

        def sink():
            # Bound, so that the datagrams cause no ICMP port unreachable.
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            # Force: SO_RCVBUF is capped at rmem_max (about 270 frames).
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 25)
            s.bind(("0.0.0.0", port))
            s.setblocking(False)
            return s

        def rx():
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            # Force: SO_RCVBUF is capped at rmem_max (about 270 frames).
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 25)
            s.bind((ifname, 0))
            s.setblocking(False)
            return s

        self.tx = in_netns("snd", tx)
        self.sink = in_netns("rcv", sink)
        self.rx = in_netns("rcv", rx)
        self.port = port
        self.capture = capture
        self.received = []
        # With recverr: the payloads whose send failed with ENOBUFS.
        self.refused = []

    def send(self, tag, count, first=0):
        for seq in range(first, first + count):
            payload = f"{tag} {seq}"
            try:
                self.tx.sendto(payload.encode(), ("10.0.0.2", self.port))
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                self.refused.append(payload)

    def drain(self):
        if self.capture == "udp":
            while select.select([self.sink], [], [], 0)[0]:
                try:
                    self.received.append(self.sink.recv(65536).decode(errors="replace"))
                except BlockingIOError:
                    break
            return self.received
        while select.select([self.rx], [], [], 0)[0]:
            try:
                frame, addr = self.rx.recvfrom(65536)
            except BlockingIOError:
                break
            if addr[2] != PACKET_OUTGOING:
                self.received.append(self._describe(frame))
        return self.received

    def _describe(self, frame):
        (ethertype,) = struct.unpack_from("!H", frame, 12)
        if ethertype != 0x0800:
            return f"other {ethertype:#06x}"
        ihl = (frame[14] & 0xF) * 4
        proto = frame[23]
        if proto == 17:
            (dport,) = struct.unpack_from("!H", frame, 14 + ihl + 2)
            if dport == self.port:
                return frame[14 + ihl + 8 :].decode(errors="replace")
        return f"other ipv4 proto {proto}"

    def close(self):
        for s in (self.tx, self.sink, self.rx):
            s.close()


def settle(rtnl, ifindex, traffic, polls=4, interval=0.05, limit=400, parent=TC_H_ROOT):
    """Wait until the plug and the receiver are quiet: every packet the qdisc
    sent has arrived, and nothing changed for `polls` polls in a row. Bounded;
    the caller asserts on what it sees, never on how long it took."""
    last, quiet = None, 0
    for _ in range(limit):
        st = rtnl.stats(ifindex, parent)
        rx = len(traffic.drain())
        now = (st and st["sent"], st and st["qlen"], rx)
        if now == last and st and st["sent"] <= rx:
            quiet += 1
            if quiet >= polls:
                return st
        else:
            quiet = 0
        last = now
        time.sleep(interval)
    return rtnl.stats(ifindex, parent)


def _build_id(data):
    """The GNU build ID in a module file's or sysfs note's bytes, or None."""
    note = struct.pack("=III", 4, 20, 3) + b"GNU\0"
    at = data.find(note)
    return None if at < 0 else data[at + len(note) : at + len(note) + 20].hex()


def _loaded_kind():
    """"ours", "c" or "none": ours is the out-of-tree one (taint O in
    /proc/modules; "(OE)" where the kernel checks signatures, as Debian's
    does)."""
    with open("/proc/modules") as f:
        line = next((l for l in f if l.startswith("sch_plug ")), None)
    if line is None:
        return "none"
    flags = re.search(r"\(([A-Z]+)\)\s*$", line)
    return "ours" if flags and "O" in flags.group(1) else "c"


def loaded_plug():
    """("ours" | "c" | "none", build ID) of the loaded sch_plug. Ours is the
    out-of-tree one (taint O in /proc/modules)."""
    kind = _loaded_kind()
    if kind == "none":
        return "none", None
    try:
        with open("/sys/module/sch_plug/notes/.note.gnu.build-id", "rb") as f:
            bid = _build_id(f.read())
    except OSError:
        bid = None
    return kind, bid


_FILE_IDS = {}


def load(which, ours_ko, c_ko):
    """Make `which` the registered plug: "c" (the kernel's C module) or
    "rust" (ours). Raises if the old one does not unload or the one loaded
    is not the file meant (its taint, its build ID)."""
    if _loaded_kind() != "none":
        for _ in range(100):  # a deleted namespace's plugs go in a workqueue
            with open("/sys/module/sch_plug/refcnt") as f:
                if f.read().strip() == "0":
                    break
            time.sleep(0.1)
        subprocess.run(["rmmod", "sch_plug"], check=True)
    ko = {"c": c_ko, "rust": ours_ko}[which]
    subprocess.run(["insmod", ko], check=True)
    if ko not in _FILE_IDS:
        with open(ko, "rb") as f:
            _FILE_IDS[ko] = _build_id(f.read())
    want_id = _FILE_IDS[ko]
    want = ("c" if which == "c" else "ours", want_id)
    got = loaded_plug()
    if got != want or want_id is None:
        raise RuntimeError(f"loaded sch_plug is {got}, not {want} (from {ko})")


class Ktap:
    """Collects (expected, actual) checks; prints them as KTAP at the end."""

    def __init__(self):
        self.results = []

    def check(self, desc, expected, actual):
        self.results.append((expected == actual, desc, expected, actual))

    def finish(self):
        """Print the results; return the exit status (0 if all passed)."""
        print("KTAP version 1")
        print(f"1..{len(self.results)}")
        for i, (good, desc, exp, act) in enumerate(self.results, 1):
            print(f"{'ok' if good else 'not ok'} {i} {desc}")
            if not good:
                print(f"# expected {exp!r}\n#      got {act!r}")
        return 0 if all(r[0] for r in self.results) else 1

