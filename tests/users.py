#!/usr/bin/python3
"""Every known user's command sequence (docs/users.md), with real
traffic: what each of them relies on must hold on our plug, namely nothing
lost, nothing sent before its checkpoint was acknowledged, and the limit
they set in force. Each recipe names its source; the flags and the order of
the requests are the user's, through the client the user uses (libnl's
route library, the libnl CLI, or tc).

Topology: tests/lib.sh setup_pair (snd v0 10.0.0.1 -> rcv v1 10.0.0.2).
Expected deliveries come from a model of the documented semantics (README
"Using it"): BUFFER closes the open epoch (or, in pass-through, starts
buffering), RELEASE_ONE releases the oldest closed epoch (none: nothing),
RELEASE_INDEFINITE releases everything and passes through. Prints KTAP.
Every BUFFER closes an epoch, even from pass-through (an empty one), so
that the n-th RELEASE_ONE acknowledges the n-th checkpoint.
"""
import collections
import ctypes
import fcntl
import os
import select
import socket
import struct
import subprocess
import sys
import time

from plugctl import (NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST, TC_H_ROOT,
                     Ktap, Rtnl, Traffic, in_netns, load, settle)

ktap = Ktap()
check = ktap.check
TC, IP = "/sbin/tc", "/sbin/ip"


def run(netns, *argv):
    """A command of the user's, in a namespace; its exit status."""
    p = in_netns(netns, lambda: subprocess.run(argv, capture_output=True, text=True))
    if p.returncode != 0:
        print(f"# {' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.returncode


def limit_of(st):
    """The limit the plug dumps (TCA_OPTIONS = {TCQ_PLUG_LIMIT, limit})."""
    return struct.unpack_from("=iI", st["options"])[1] if st and "options" in st else None


class Libnl:
    """libnl-route-3 the way its users drive a plug: one nl_sock for the
    whole run, one rtnl_qdisc object (device, parent, handle, kind "plug")
    whose options each rtnl_qdisc_plug_* call sets, sent by
    rtnl_qdisc_add(sock, qdisc, flags). libnl always sends the whole
    struct tc_plug_qopt: a fresh object sends {BUFFER, 0}."""

    def __init__(self, netns, ifindex, parent=TC_H_ROOT, handle=0):
        nl = ctypes.CDLL("libnl-3.so.200", mode=os.RTLD_GLOBAL)
        rt = ctypes.CDLL("libnl-route-3.so.200", mode=os.RTLD_GLOBAL)
        p, u32, i32 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int
        nl.nl_socket_alloc.restype = p
        nl.nl_connect.argtypes = [p, i32]
        rt.rtnl_qdisc_alloc.restype = p
        for name, args in [("rtnl_tc_set_ifindex", [p, i32]), ("rtnl_tc_set_parent", [p, u32]),
                           ("rtnl_tc_set_handle", [p, u32]), ("rtnl_tc_set_kind", [p, ctypes.c_char_p]),
                           ("rtnl_qdisc_plug_buffer", [p]), ("rtnl_qdisc_plug_release_one", [p]),
                           ("rtnl_qdisc_plug_release_indefinite", [p]),
                           ("rtnl_qdisc_plug_set_limit", [p, i32]),
                           ("rtnl_qdisc_add", [p, p, i32]), ("rtnl_qdisc_delete", [p, p])]:
            getattr(rt, name).argtypes = args
        self.rt = rt
        self.sock = nl.nl_socket_alloc()
        # The socket belongs to the namespace it is opened in.
        assert in_netns(netns, lambda: nl.nl_connect(self.sock, 0)) == 0, "nl_connect"
        self.q = rt.rtnl_qdisc_alloc()
        rt.rtnl_tc_set_ifindex(self.q, ifindex)
        rt.rtnl_tc_set_parent(self.q, parent)
        if handle:
            rt.rtnl_tc_set_handle(self.q, handle)
        assert rt.rtnl_tc_set_kind(self.q, b"plug") == 0, "rtnl_tc_set_kind"

    def add(self, flags):
        """rtnl_qdisc_add: 0, or libnl's (negative) error code."""
        return self.rt.rtnl_qdisc_add(self.sock, self.q, flags)

    def buffer(self):
        self.rt.rtnl_qdisc_plug_buffer(self.q)

    def release_one(self):
        self.rt.rtnl_qdisc_plug_release_one(self.q)

    def release_indefinite(self):
        self.rt.rtnl_qdisc_plug_release_indefinite(self.q)

    def set_limit(self, limit):
        self.rt.rtnl_qdisc_plug_set_limit(self.q, limit)

    def delete(self):
        return self.rt.rtnl_qdisc_delete(self.sock, self.q)


class Model:
    """What a user may see arrive: per the documented semantics."""

    def __init__(self, pass_through):
        self.pass_through = pass_through
        self.open, self.closed, self.delivered = [], collections.deque(), []

    def send(self, pkts):
        (self.delivered if self.pass_through else self.open).extend(pkts)

    def buffer(self):
        # Every BUFFER is a checkpoint that one RELEASE_ONE acknowledges:
        # from pass-through too, where the epoch it closes is empty (what
        # passed through was committed by RELEASE_INDEFINITE).
        self.closed.append(self.open)
        self.pass_through, self.open = False, []

    def release_one(self):
        if self.closed:
            self.delivered += self.closed.popleft()

    def release_indefinite(self):
        while self.closed:
            self.release_one()
        self.delivered += self.open
        self.pass_through, self.open = True, []


def tagged(tag, n):
    return [f"{tag} {i}" for i in range(n)]


def fresh(traffic):
    """Forget what earlier recipes left in the receiver's sockets."""
    for capture in ("udp", "packet"):
        traffic.capture = capture
        traffic.drain()
    traffic.received.clear()


def stepper(user, nl, flags, model, rtnl, ifindex, traffic, parent=TC_H_ROOT):
    """The user's steps: step(desc, action, send) sets the plug option
    `action` on the libnl object and sends it with the user's `flags`,
    sends the datagrams `send` = (tag, count), waits for quiet, and checks
    that what arrived is what the model lets arrive."""

    def step(desc, action=None, send=None):
        if action:
            getattr(nl, action)()
            getattr(model, action)()
            err = nl.add(flags)
            if err:
                print(f"# {action}: libnl error {err}")
        if send:
            traffic.send(*send)
            model.send(tagged(*send))
        settle(rtnl, ifindex, traffic, parent=parent)
        check(f"{user}: {desc}", list(model.delivered), list(traffic.received))

    return step


# --- QEMU micro-checkpointing ----------------------------------------------
# Michael R. Hines (IBM), "[RFC PATCH v2 08/12] mc: core logic", qemu-devel,
# Feb 2014; glelouet/qemu migration-checkpoint.c: mc_enable_buffering()
# creates the plug with mc_deliver(0) (rtnl_qdisc_add with
# NLM_F_CREATE|NLM_F_REPLACE|NLM_F_EXCL), then mc_set_buffer_size(START_BUFFER
# = 125,000,000) and mc_suspend_buffering() (release_indefinite), each sent
# by mc_deliver(1) (NLM_F_CREATE|NLM_F_REPLACE); per checkpoint
# mc_start_buffer() (BUFFER) and, when acknowledged, mc_flush_oldest_buffer()
# (RELEASE_ONE); its qdisc_test.c runs BUFFER, BUFFER, RELEASE_ONE,
# RELEASE_ONE (two checkpoints in flight). mc_disable_buffering():
# release_indefinite, rtnl_qdisc_delete.
def qemu_mc(traffic):
    rtnl = Rtnl("snd")
    v0 = rtnl.ifindex("v0")
    nl = Libnl("snd", v0)
    cr = NLM_F_CREATE | NLM_F_REPLACE
    answers = [nl.add(cr | NLM_F_EXCL)]
    nl.set_limit(1000 * 1000 * 1000 // 8)
    answers.append(nl.add(cr))
    nl.release_indefinite()
    answers.append(nl.add(cr))
    check("QEMU MC: create (CREATE|REPLACE|EXCL), limit, release_indefinite (CREATE|REPLACE) succeed",
          [0, 0, 0], answers)
    check("QEMU MC: the limit in force is START_BUFFER, 125,000,000", 125_000_000,
          limit_of(rtnl.stats(v0)))
    fresh(traffic)
    m = Model(pass_through=True)

    step = stepper("QEMU MC", nl, cr, m, rtnl, v0, traffic)

    step("pass-through before the first checkpoint", send=("a", 3))
    for k in range(1, 4):
        step(f"checkpoint {k}: BUFFER, traffic held", "buffer", (f"b{k}", 3))
        step(f"checkpoint {k}: second BUFFER (two in flight), traffic held", "buffer", (f"c{k}", 2))
        step(f"checkpoint {k}: first RELEASE_ONE releases the oldest epoch only", "release_one")
        step(f"checkpoint {k}: second RELEASE_ONE releases the next one only", "release_one")
    step("disable buffering: release_indefinite releases the rest, in order", "release_indefinite")
    st = rtnl.stats(v0)
    check("QEMU MC: nothing dropped, nothing left", (0, 0), (st["drops"], st["qlen"]))
    check("QEMU MC: rtnl_qdisc_delete", 0, nl.delete())


# --- Kata live migration (katamaran) -----------------------------------------
# maci0/katamaran docs/TESTING.md, on the destination node: `tc qdisc add dev
# tap0_kata root plug limit 32768`, `tc qdisc change dev tap0_kata root plug
# release_indefinite`, `... plug block` before the cutover, `...
# release_indefinite` after QEMU's RESUME. The tap's other end is QEMU: here
# this process reads the tap, as QEMU would.
def kata(traffic):
    TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000
    dev = "tap0_kata"

    def open_tap():
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", dev.encode(), IFF_TAP | IFF_NO_PI))
        return fd

    if os.path.exists("/dev/net/tun"):
        tap = in_netns("snd", open_tap)
        pre = []

        def recv_frame():
            return os.read(tap, 65536)
    else:
        # A kernel without CONFIG_TUN (ours, until its next rebuild): a veth
        # stands in for the tap, its peer read as QEMU would read the tap.
        print("# no /dev/net/tun: a veth stands in for the tap")
        pre = [run("snd", IP, "link", "add", dev, "type", "veth", "peer", "name", "vmside"),
               run("snd", IP, "link", "set", "vmside", "up")]

        def vm_side():
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
            s.bind(("vmside", 0))
            s.setblocking(False)
            return s

        tap_sock = in_netns("snd", vm_side)
        tap = tap_sock.fileno()

        def recv_frame():
            return tap_sock.recv(65536)

    setup = [run("snd", IP, "addr", "add", "10.0.1.1/24", "dev", dev),
             run("snd", IP, "link", "set", dev, "up"),
             run("snd", IP, "neigh", "replace", "10.0.1.2", "lladdr", "02:00:00:00:01:02",
                 "dev", dev, "nud", "permanent")]
    tx = in_netns("snd", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    rtnl = Rtnl("snd")
    ifindex = rtnl.ifindex(dev)
    got, frames = [], [0]

    def read_tap():
        while select.select([tap], [], [], 0)[0]:
            try:
                frame = recv_frame()
            except BlockingIOError:
                break
            frames[0] += 1
            if len(frame) > 42 and frame[12:14] == b"\x08\x00" and frame[23] == 17:
                ihl = (frame[14] & 0xF) * 4
                got.append(frame[14 + ihl + 8:].split(b"\0")[0].decode())

    def send(tag, n, size=0):
        for i in range(n):
            tx.sendto(f"{tag} {i}".encode().ljust(size, b"\0"), ("10.0.1.2", 5000))

    def quiet():
        """Until every frame the qdisc sent has been read from the tap and
        nothing changed for a few polls (bounded; as plugctl.settle)."""
        last, calm = None, 0
        for _ in range(400):
            read_tap()
            st = rtnl.stats(ifindex)
            now = (st["sent"], st["qlen"], frames[0])
            calm = calm + 1 if now == last and st["sent"] <= frames[0] else 0
            if calm >= 4:
                return
            last = now
            time.sleep(0.05)

    user = [run("snd", TC, "qdisc", "add", "dev", dev, "root", "plug", "limit", "32768"),
            run("snd", TC, "qdisc", "change", "dev", dev, "root", "plug", "release_indefinite")]
    check("Kata: tap set up, then tc add limit 32768 and change release_indefinite succeed",
          [0] * (len(pre) + 5), pre + setup + user)
    check("Kata: the limit in force is 32768", 32768, limit_of(rtnl.stats(ifindex)))
    send("pre", 5)
    quiet()
    check("Kata: traffic flows before the cutover", tagged("pre", 5), list(got))
    check("Kata: block before the cutover", 0,
          run("snd", TC, "qdisc", "change", "dev", dev, "root", "plug", "block"))
    send("cut", 8)
    quiet()
    check("Kata: nothing reaches the tap during the cutover", tagged("pre", 5), list(got))
    check("Kata: release_indefinite after RESUME", 0,
          run("snd", TC, "qdisc", "change", "dev", dev, "root", "plug", "release_indefinite"))
    quiet()
    check("Kata: the held packets arrive after RESUME, all, in order",
          tagged("pre", 5) + tagged("cut", 8), list(got))
    # The limit holds a window's traffic: 32768 bytes of frames of
    # 14 + 20 + 8 + 1000 bytes, the rest dropped and counted.
    run("snd", TC, "qdisc", "change", "dev", dev, "root", "plug", "block")
    got.clear()
    send("big", 40, 1000)
    fits = 32768 // (14 + 20 + 8 + 1000)
    st = rtnl.stats(ifindex)
    check("Kata: a burst past the limit: what fits is held, the rest dropped",
          (fits, 40 - fits, []), (st["qlen"], st["drops"], list(got)))
    run("snd", TC, "qdisc", "change", "dev", dev, "root", "plug", "release_indefinite")
    quiet()
    check("Kata: the held part of the burst arrives, in order", tagged("big", fits), list(got))
    run("snd", TC, "qdisc", "del", "dev", dev, "root")
    if pre:
        tap_sock.close()
        run("snd", IP, "link", "del", dev)
    else:
        os.close(tap)
    tx.close()


# --- HAProxy's dev/plug_qdisc helper -----------------------------------------
# haproxy/haproxy dev/plug_qdisc/plug_qdisc.c (after Yelp's "true zero
# downtime HAProxy reloads", 2015, a plug as a leaf under prio):
# plug_qdisc_attach(device, parent, id, limit) sets the limit then
# rtnl_qdisc_add(NLM_F_CREATE) and calls
# plug_qdisc_release_indefinite_buffer() (rtnl_qdisc_add, flags 0); around
# an event, plug_qdisc_plug_buffer() then
# plug_qdisc_release_indefinite_buffer().
def haproxy(traffic):
    rtnl = Rtnl("snd")
    v0 = rtnl.ifindex("v0")
    prio = run("snd", TC, "qdisc", "add", "dev", "v0", "root", "handle", "1:", "prio", "bands", "2",
               "priomap", *["0"] * 16)
    leaf = 0x10001
    nl = Libnl("snd", v0, parent=leaf, handle=0x100000)
    nl.set_limit(100_000)
    answers = [prio, nl.add(NLM_F_CREATE)]
    nl.release_indefinite()
    answers.append(nl.add(0))
    check("HAProxy: prio root, plug_qdisc_attach (create under 1:1, then release indefinite)",
          [0, 0, 0], answers)
    st = rtnl.stats(v0, leaf)
    check("HAProxy: the plug is leaf 10: with the limit given to attach", ("plug", 0x100000, 100_000),
          (st.get("kind"), st.get("handle"), limit_of(st)))
    fresh(traffic)
    m = Model(pass_through=True)

    step = stepper("HAProxy", nl, 0, m, rtnl, v0, traffic, parent=leaf)

    step("traffic flows after attach", send=("before", 4))
    step("plug_qdisc_plug_buffer: the event's traffic is held", "buffer", ("during", 6))
    step("plug_qdisc_release_indefinite_buffer: it arrives, in order", "release_indefinite")
    step("traffic flows again", send=("after", 3))
    st = rtnl.stats(v0, leaf)
    check("HAProxy: nothing dropped, nothing left", (0, 0), (st["drops"], st["qlen"]))
    run("snd", TC, "qdisc", "del", "dev", "v0", "root")


# --- Xen Remus: remus-netbuf-setup and libxl ---------------------------------
# xen-project/xen tools/hotplug/Linux/remus-netbuf-setup: `nl-qdisc-add
# --dev=$ifb --parent root plug`, then `nl-qdisc-add --dev=$ifb --parent root
# --update plug --limit=10000000`, the vif's ingress redirected to the ifb
# (`tc qdisc add dev $vif ingress`, `tc filter add dev $vif parent ffff:
# proto ip prio 10 u32 match u32 0 0 action mirred egress redirect dev
# $ifb`); teardown `nl-qdisc-delete --dev=$ifb --parent root plug`, then the
# ingress qdisc removed. tools/libxl/libxl_netbuffer.c: checks the ifb's
# root is a plug, then per checkpoint rtnl_qdisc_plug_buffer() +
# rtnl_qdisc_add(NLM_F_REQUEST) when the guest is suspended and
# rtnl_qdisc_plug_release_one() + rtnl_qdisc_add(NLM_F_REQUEST) when the
# backup acknowledges. The guest is netns snd, dom0 netns rcv, the vif v1.
def xen(traffic):
    nl_add, nl_del = "/usr/bin/nl-qdisc-add", "/usr/bin/nl-qdisc-delete"
    setup = [run("rcv", IP, "link", "add", "ifb0", "type", "ifb"),
             run("rcv", IP, "link", "set", "ifb0", "up"),
             run("rcv", nl_add, "--dev=ifb0", "--parent", "root", "plug"),
             run("rcv", nl_add, "--dev=ifb0", "--parent", "root", "--update", "plug",
                 "--limit=10000000"),
             run("rcv", TC, "qdisc", "add", "dev", "v1", "ingress"),
             run("rcv", TC, "filter", "add", "dev", "v1", "parent", "ffff:", "proto", "ip", "prio", "10",
                 "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect",
                 "dev", "ifb0")]
    check("Xen: remus-netbuf-setup's commands succeed", [0] * len(setup), setup)
    rtnl = Rtnl("rcv")
    ifb = rtnl.ifindex("ifb0")
    st = rtnl.stats(ifb)
    check("Xen: libxl finds a plug at the ifb's root, limit 10,000,000 in force",
          ("plug", 10_000_000), (st.get("kind"), limit_of(st)))
    nl = Libnl("rcv", ifb, handle=st["handle"])
    fresh(traffic)
    traffic.capture = "udp"  # packets cross v1 before the plug
    m = Model(pass_through=False)

    step = stepper("Xen", nl, NLM_F_REQUEST, m, rtnl, ifb, traffic)

    step("the guest's first epoch is held", send=("e0", 3))
    for i, n in enumerate([5, 1, 4], 1):
        step(f"checkpoint {i}: suspended (BUFFER), epoch e{i} runs on, nothing released",
             "buffer", (f"e{i}", n))
        step(f"checkpoint {i}: acknowledged (RELEASE_ONE), epoch e{i - 1} released, not e{i}",
             "release_one")
    step("last checkpoint: suspended", "buffer")
    step("last checkpoint: acknowledged, every epoch delivered", "release_one")
    st = rtnl.stats(ifb)
    check("Xen: nothing dropped, nothing left", (0, 0), (st["drops"], st["qlen"]))
    teardown = [run("rcv", nl_del, "--dev=ifb0", "--parent", "root", "plug"),
                run("rcv", TC, "qdisc", "del", "dev", "v1", "ingress")]
    check("Xen: teardown (nl-qdisc-delete, ingress removed)", [0, 0], teardown)
    check("Xen: the plug is gone", False, (rtnl.stats(ifb) or {}).get("kind") == "plug")
    run("rcv", IP, "link", "del", "ifb0")


def run_recipe(recipe, traffic):
    try:
        recipe(traffic)
    except Exception as e:  # a broken recipe fails, the next ones still run
        check(f"{recipe.__name__}: ran to the end", None, repr(e))


traffic = Traffic()
for recipe in (qemu_mc, kata, haproxy, xen):
    run_recipe(recipe, traffic)
# The control: these checks can fail. The C sch_plug keeps one pending
# epoch, so QEMU's two checkpoints in flight make it release packets of an
# unacknowledged epoch (or strand them): the same recipe must fail there.
if len(sys.argv) == 3:
    ours_ko, c_ko = sys.argv[1:]
    load("c", ours_ko, c_ko)
    control, main_check = Ktap(), check
    check = control.check
    run_recipe(qemu_mc, traffic)
    check = main_check
    failed = [r[1] for r in control.results if not r[0]]
    for desc in failed:
        print(f"# C sch_plug: not ok: {desc}")
    check("control: the C sch_plug fails the QEMU MC recipe", True, len(failed) > 0)
    load("rust", ours_ko, c_ko)
traffic.close()
raise SystemExit(ktap.finish())
