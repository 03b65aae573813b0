#!/usr/bin/python3
"""Regression tests for the C module's defects (docs/c-plug.md section 3):
each sequence runs against the C sch_plug.ko, which must show the defect, and
against ours with default settings, which must keep output commit. Plus the
dump (D6) and a control-path stress under lockdep (D5). Prints KTAP. Runs
inside the guest after tests/lib.sh setup_pair.

  defects.py <our ko> <C ko>
"""
import struct
import subprocess
import sys

from plugctl import (BUFFER, LIMIT, RELEASE_INDEFINITE, RELEASE_ONE, TC_H_ROOT, Ktap, Rtnl,
                     Traffic, in_netns, load, netdev, qopt, settle, snmp)

OURS, C_KO = sys.argv[1], sys.argv[2]
BIG = 1_000_000
ktap = Ktap()
check = ktap.check


class Plug:
    """A fresh plug on v0 (or under `setup`), with traffic and snapshots."""

    def __init__(self, impl, create, setup=None, parent=TC_H_ROOT):
        load(impl, OURS, C_KO)
        self.rtnl = Rtnl("snd")
        self.v0 = self.rtnl.ifindex("v0")
        self.rtnl.neigh(self.v0, "10.0.0.2", "02:00:00:00:00:02")
        if setup:
            in_netns("snd", lambda: subprocess.run(["/sbin/tc", *setup], check=True))
        self.parent = parent
        handle = 0x20000 if parent != TC_H_ROOT else 0
        err, msg = self.rtnl.qdisc("add", self.v0, create, handle=handle, parent=parent)
        assert err == 0, (err, msg)
        self.traffic = Traffic()

    def cmd(self, action, limit=0):
        return self.rtnl.qdisc("change", self.v0, qopt(action, limit), parent=self.parent)[0]

    def send(self, tag, n):
        self.traffic.send(tag, n)

    def snap(self):
        st = settle(self.rtnl, self.v0, self.traffic, parent=self.parent) or {}
        return st

    def rx(self):
        self.snap()
        return list(self.traffic.received)

    def link(self, up):
        self.rtnl.link_up(self.v0, up)
        if up:
            self.rtnl.neigh(self.v0, "10.0.0.2", "02:00:00:00:00:02")

    def close(self):
        self.rtnl.qdisc("del", self.v0)
        self.traffic.close()


def tags(tag, n, first=0):
    return [f"{tag} {i}" for i in range(first, first + n)]


# D1: a create with an action but no limit (tc `add … plug block`).
for impl in ("c", "rust"):
    p = Plug(impl, qopt(BUFFER, 0))
    p.send("a", 3)
    st = p.snap()
    if impl == "c":
        check("D1 C: create with `block` gets limit 0 and drops every packet",
              (3, 0), (st["drops"], st["qlen"]))
    else:
        check("D1 ours: create with `block` keeps the default limit and buffers",
              (0, 3), (st["drops"], st["qlen"]))
        p.cmd(BUFFER)
        p.cmd(RELEASE_ONE)
        check("D1 ours: the epoch is released on its ack", tags("a", 3), p.rx())
    p.close()

# D2: reset (link down/up) keeps C's epoch counters.
for impl in ("c", "rust"):
    p = Plug(impl, qopt(LIMIT, BIG))
    p.send("e0", 3)
    p.cmd(BUFFER)  # checkpoint 0 closes e0
    p.send("e1", 2)
    p.link(False)  # carrier loss purges the queue
    p.link(True)
    p.send("e1b", 1)  # still epoch 1, never acknowledged
    p.cmd(RELEASE_ONE)  # ack of checkpoint 0
    if impl == "c":
        check("D2 C: after down/up, the ack of epoch 0 releases a packet of epoch 1",
              ["e1b 0"], p.rx())
    else:
        check("D2 ours: after down/up, the ack of epoch 0 releases nothing of epoch 1",
              [], p.rx())
        p.cmd(BUFFER)
        p.cmd(RELEASE_ONE)
        check("D2 ours: epoch 1's packet leaves on epoch 1's ack", ["e1b 0"], p.rx())
    p.close()

# D3: two checkpoints in flight (pipelined): epochs of 3 and 10 packets.
for impl in ("c", "rust"):
    p = Plug(impl, qopt(LIMIT, BIG))
    p.send("e0", 3)
    p.cmd(BUFFER)
    p.send("e1", 10)
    p.cmd(BUFFER)
    p.cmd(RELEASE_ONE)  # ack of checkpoint 0 only
    if impl == "c":
        check("D3 C: the ack of epoch 0 releases 10 packets, 7 of unacknowledged epoch 1",
              tags("e0", 3) + tags("e1", 7), p.rx())
    else:
        check("D3 ours: the ack of epoch 0 releases epoch 0 only", tags("e0", 3), p.rx())
        p.cmd(RELEASE_ONE)
        check("D3 ours: the ack of epoch 1 releases epoch 1", tags("e0", 3) + tags("e1", 10),
              p.rx())
    p.close()

# D4: pass-through, then BUFFER while packets sent in pass-through mode are
# still queued. A slow tbf parent keeps them queued in the plug.
SLOW = ["qdisc", "add", "dev", "v0", "root", "handle", "1:", "tbf", "rate", "8kbit",
        "burst", "100", "limit", "100000"]
for impl in ("c", "rust"):
    p = Plug(impl, qopt(LIMIT, BIG), setup=SLOW, parent=0x10001)
    p.cmd(RELEASE_INDEFINITE)
    p.send("pt", 10)
    p.cmd(BUFFER)  # checkpoint starts while pass-through packets wait
    st = p.snap()
    if impl == "c":
        stranded = st["qlen"]
        check("D4 C: packets sent in pass-through mode are stranded after BUFFER",
              True, stranded > 0)
        p.send("e1", 2)
        p.cmd(BUFFER)
        p.cmd(RELEASE_ONE)  # ack of the epoch holding e1
        check("D4 C: the ack releases stranded pass-through packets in e1's place",
              False, set(tags("e1", 2)) <= set(p.rx()))
    else:
        check("D4 ours: every pass-through packet leaves, nothing stranded",
              (tags("pt", 10), 0), (p.rx(), st["qlen"]))
        p.send("e1", 2)
        p.cmd(BUFFER)
        p.cmd(RELEASE_ONE)  # ack of the (empty) epoch closed by the first BUFFER
        check("D4 ours: acks still pair with checkpoints (e1 held)", tags("pt", 10), p.rx())
        p.cmd(RELEASE_ONE)
        check("D4 ours: e1 leaves on its own ack", tags("pt", 10) + tags("e1", 2), p.rx())
    p.close()
    in_netns("snd", lambda: subprocess.run(["/sbin/tc", "qdisc", "del", "dev", "v0", "root"]))

# D6: dump. C has none; ours reports a replayable LIMIT and extended stats.
for impl in ("c", "rust"):
    p = Plug(impl, qopt(LIMIT, 5000))
    p.send("x", 3)
    p.cmd(BUFFER)
    p.send("y", 2)
    st = p.snap()
    if impl == "c":
        check("D6 C: no options, no extended stats in dumps", (None, None),
              (st.get("options"), st.get("xstats")))
    else:
        check("D6 ours: dump carries tc_plug_qopt {LIMIT, 5000}", qopt(LIMIT, 5000),
              st.get("options"))
        x = st.get("xstats") or b""
        check("D6 ours: xstats limit, pass_through, current, closed epochs/packets, credits",
              (5000, 0, 2, 1, 3, 0), struct.unpack("=6I", x) if len(x) == 24 else x)
    p.close()

# D5: change cycles during traffic, under lockdep and KASAN (the guest log
# is scanned by the runner); nothing may be lost on the way. Drops are
# counted without the module: a datagram the qdisc refuses is counted by
# the kernel in the sender namespace's SndbufErrors (the bash sender has no
# IP_RECVERR, so its send still succeeds), one dropped after the qdisc in
# v0's tx_drop.
p = Plug("rust", qopt(LIMIT, BIG))
N = 3000
refused0, vdrop0 = snmp("snd", "Udp", "SndbufErrors"), netdev("snd", "v0", "tx_drop")
sender = in_netns("snd", lambda: subprocess.Popen(
    ["/bin/bash", "-c", f'for ((i = 0; i < {N}; i++)); do printf "s %s" $i >/dev/udp/10.0.0.2/5000; done']))
cycles = 0
while sender.poll() is None and cycles < 5000:
    p.cmd(BUFFER)
    p.cmd(RELEASE_INDEFINITE if cycles % 2 else RELEASE_ONE)
    p.traffic.drain()
    cycles += 1
sender.wait()
p.cmd(RELEASE_INDEFINITE)
st = p.snap()
rx = p.rx()
refused = snmp("snd", "Udp", "SndbufErrors") - refused0
vdrop = netdev("snd", "v0", "tx_drop") - vdrop0
check(f"D5 ours: {cycles} change cycles during traffic: every packet received, refused "
      "(SndbufErrors) or dropped after the plug, none left",
      (N, 0), (len(rx) + refused + vdrop, st["qlen"]))
check("D5 ours: the plug's drop counter equals the drops counted by the kernel (SndbufErrors)",
      refused, st["drops"])
check("D5 ours: the receiver got exactly what the plug sent, in order",
      (st["sent"], True), (len(rx), sorted(rx, key=lambda s: int(s.split()[1])) == rx))
p.close()

sys.exit(ktap.finish())
