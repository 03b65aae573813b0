#!/usr/bin/python3
"""The Xen Remus output-commit topology with our plug, driven as Remus drives
it (nl-qdisc-add, as libxl's remus-netbuf-setup and netbuffer code do).

The "guest" sends from netns snd through v0 -> v1. In netns rcv ("dom0"),
v1's ingress is redirected by `u32 ... action mirred egress redirect` to
ifb0, whose root qdisc is the plug. Per checkpoint: BUFFER when the guest is
suspended, RELEASE_ONE when the backup acknowledges. Every epoch must reach
the receiver only after its acknowledgement, complete and in order.
Prints KTAP.
"""
import subprocess
import sys

from plugctl import Ktap, Rtnl, Traffic, in_netns, settle

ktap = Ktap()
check = ktap.check


def dom0(*argv):
    p = in_netns("rcv", lambda: subprocess.run(argv, capture_output=True, text=True))
    if p.returncode != 0:
        print(f"# {' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.returncode


TC, NL = "/sbin/tc", "/usr/bin/nl-qdisc-add"
setup = [
    ["/sbin/ip", "link", "add", "ifb0", "type", "ifb"],
    ["/sbin/ip", "link", "set", "ifb0", "up"],
    # What remus-netbuf-setup does: plug on the ifb, then the limit.
    [NL, "--dev=ifb0", "--parent=root", "plug"],
    [NL, "--dev=ifb0", "--parent=root", "--update", "plug", "--limit=10000000"],
    [TC, "qdisc", "add", "dev", "v1", "ingress"],
    [TC, "filter", "add", "dev", "v1", "parent", "ffff:", "proto", "ip", "u32",
     "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", "ifb0"],
]
check("Remus setup commands succeed", [0] * len(setup), [dom0(*c) for c in setup])

rtnl = Rtnl("rcv")
ifb = rtnl.ifindex("ifb0")
traffic = Traffic(capture="udp")
check("plug is the ifb's root qdisc", "plug", (rtnl.stats(ifb) or {}).get("kind"))

epochs = [3, 10, 1, 7, 4]
delivered = []
traffic.send("e0", epochs[0])
st = settle(rtnl, ifb, traffic)
check("epoch 0 buffered before any checkpoint", (epochs[0], []), (st["qlen"], traffic.received))
for i, size in enumerate(epochs):
    # Checkpoint i: the guest is suspended; close its epoch.
    dom0(NL, "--dev=ifb0", "--parent=root", "--update", "plug", "--buffer")
    # The guest runs on: epoch i+1 is sent while checkpoint i is in flight.
    if i + 1 < len(epochs):
        traffic.send(f"e{i + 1}", epochs[i + 1])
    settle(rtnl, ifb, traffic)
    check(f"epoch {i} held until its checkpoint is acknowledged", delivered, traffic.received)
    # The backup acknowledges checkpoint i.
    dom0(NL, "--dev=ifb0", "--parent=root", "--update", "plug", "--release-one")
    st = settle(rtnl, ifb, traffic)
    delivered += [f"e{i} {s}" for s in range(size)]
    check(f"epoch {i} ({size} packets) delivered after its ack, in order, nothing of epoch {i + 1}",
          delivered, traffic.received)
check("nothing dropped, nothing left", (0, 0), (st["drops"], st["qlen"]))

sys.exit(ktap.finish())
