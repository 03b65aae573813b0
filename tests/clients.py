#!/usr/bin/python3
"""Every client drives our plug unchanged: iproute2 tc, libnl's nl-qdisc-add,
pyroute2. Each command's effect is checked with real packets and the plug's
counters, not by its exit status alone. Prints KTAP. Runs inside the guest
with our module loaded and tests/lib.sh setup_pair's namespaces.
"""
import struct
import subprocess
import sys

from plugctl import Ktap, Rtnl, Traffic, in_netns, settle

ktap = Ktap()
check = ktap.check


def sh(*argv):
    """Run a client inside netns snd; return (exit status, stderr)."""
    p = in_netns("snd", lambda: subprocess.run(argv, capture_output=True, text=True))
    return p.returncode, p.stderr.strip()


rtnl = Rtnl("snd")
v0 = rtnl.ifindex("v0")
traffic = Traffic()
tag = iter(range(1000))


def send(n):
    traffic.send(f"p{next(tag)}", n)


def state():
    """(held packets, dropped, received so far, kind)"""
    st = settle(rtnl, v0, traffic) or {}
    return st.get("qlen"), st.get("drops"), len(traffic.received), st.get("kind")


def fresh():
    rtnl.qdisc("del", v0)
    settle(rtnl, v0, traffic)
    return len(traffic.received)


TC = "/sbin/tc"
# --- iproute2 tc ---------------------------------------------------------
base = fresh()
check("tc add (bare): exit 0", (0, ""), sh(TC, "qdisc", "add", "dev", "v0", "root", "plug"))
send(2)
check("tc add (bare): plug buffers with the default limit", (2, 0, base, "plug"), state())
sh(TC, "qdisc", "change", "dev", "v0", "root", "plug", "block")
check("tc change block: exit 0 and epoch closed, nothing leaves", (2, 0, base, "plug"), state())
check("tc change release: exit 0", (0, ""), sh(TC, "qdisc", "change", "dev", "v0", "root", "plug", "release"))
check("tc change release: the closed epoch leaves", (0, 0, base + 2, "plug"), state())
sh(TC, "qdisc", "change", "dev", "v0", "root", "plug", "release_indefinite")
send(3)
check("tc change release_indefinite: pass-through", (0, 0, base + 5, "plug"), state())
sh(TC, "qdisc", "change", "dev", "v0", "root", "plug", "block")
check("tc change limit 100: exit 0", (0, ""), sh(TC, "qdisc", "change", "dev", "v0", "root", "plug", "limit", "100"))
send(3)  # 45-byte frames: two fit in 100 bytes
check("tc change limit 100: two held, one dropped", (2, 1, base + 5, "plug"), state())
check("tc replace (same kind) release_indefinite: exit 0", (0, ""),
      sh(TC, "qdisc", "replace", "dev", "v0", "root", "plug", "release_indefinite"))
check("tc replace goes through change: held packets leave", (0, 1, base + 7, "plug"), state())
check("tc qdisc del: exit 0", (0, ""), sh(TC, "qdisc", "del", "dev", "v0", "root"))
check("tc qdisc del: plug gone", True, (rtnl.stats(v0) or {}).get("kind") != "plug")

base = fresh()
check("tc add limit 100: exit 0", (0, ""), sh(TC, "qdisc", "add", "dev", "v0", "root", "plug", "limit", "100"))
send(3)
check("tc add limit 100: limit applied, plug buffers", (2, 1, base, "plug"), state())
for kw, passes in (("block", False), ("release", False), ("release_indefinite", True)):
    base = fresh()
    check(f"tc add {kw}: exit 0", (0, ""), sh(TC, "qdisc", "add", "dev", "v0", "root", "plug", kw))
    send(1)
    # The 6.12 C module takes the limit field (0) and drops everything
    # (defect D1); ours keeps the default limit and applies the action.
    want = (0, 0, base + 1, "plug") if passes else (1, 0, base, "plug")
    check(f"tc add {kw}: default limit kept, action applied", want, state())

# --- libnl nl-qdisc-add --------------------------------------------------
NL = "/usr/bin/nl-qdisc-add"
base = fresh()
check("nl-qdisc-add plug --limit: exit 0", (0, ""),
      sh(NL, "--dev=v0", "--parent=root", "--id=1:", "plug", "--limit=100000"))
send(2)
check("nl-qdisc-add create: buffers, limit applied", (2, 0, base, "plug"), state())
for flag, want in (("--buffer", (2, 0, base)), ("--release-one", (0, 0, base + 2))):
    check(f"nl-qdisc-add --update plug {flag}: exit 0", (0, ""),
          sh(NL, "--dev=v0", "--parent=root", "--id=1:", "--update", "plug", flag))
    check(f"nl-qdisc-add --update plug {flag}: effect", want, state()[:3])
check("nl-qdisc-add --update plug --release-indefinite: exit 0", (0, ""),
      sh(NL, "--dev=v0", "--parent=root", "--id=1:", "--update", "plug", "--release-indefinite"))
send(2)
check("nl-qdisc-add --release-indefinite: pass-through", (0, 0, base + 4), state()[:3])
sh(NL, "--dev=v0", "--parent=root", "--id=1:", "--update", "plug", "--buffer")
check("nl-qdisc-add --update plug --limit=100: exit 0", (0, ""),
      sh(NL, "--dev=v0", "--parent=root", "--id=1:", "--update", "plug", "--limit=100"))
send(3)
check("nl-qdisc-add --limit=100: two held, one dropped", (2, 1, base + 4), state()[:3])

# --- pyroute2 ------------------------------------------------------------
base = fresh()
from pyroute2 import IPRoute  # noqa: E402 (slow import: only now)

ipr = in_netns("snd", IPRoute)
ipr.tc("add", "plug", index=v0, handle=0x10000, limit=100000)
send(2)
check("pyroute2 add limit=100000: buffers", (2, 0, base, "plug"), state())
for action, want in (("TCQ_PLUG_BUFFER", (2, 0, base)), ("TCQ_PLUG_RELEASE_ONE", (0, 0, base + 2))):
    ipr.tc("change", "plug", index=v0, handle=0x10000, action=action)
    check(f"pyroute2 change {action}", want, state()[:3])
ipr.tc("change", "plug", index=v0, handle=0x10000, action="TCQ_PLUG_RELEASE_INDEFINITE")
send(2)
check("pyroute2 change TCQ_PLUG_RELEASE_INDEFINITE: pass-through", (0, 0, base + 4), state()[:3])
ipr.tc("change", "plug", index=v0, handle=0x10000, action="TCQ_PLUG_BUFFER")
ipr.tc("change", "plug", index=v0, handle=0x10000, action="TCQ_PLUG_LIMIT", limit=100)
send(3)
check("pyroute2 change TCQ_PLUG_LIMIT limit=100: two held, one dropped", (2, 1, base + 4), state()[:3])
# pyroute2 reads the dump: TCA_OPTIONS through its plug module, TCA_XSTATS
# as hex (struct tc_plug_xstats, README.md).
dump = [m for m in ipr.get_qdiscs(index=v0) if m.get_attr("TCA_KIND") == "plug"]
opts = dump[0].get_attr("TCA_OPTIONS") if dump else None
check("pyroute2 dump: TCA_OPTIONS decodes as {TCQ_PLUG_LIMIT, limit 100}", (3, 100),
      (opts["action"], opts["limit"]) if opts else None)
xstats = dump[0].get_attr("TCA_XSTATS") if dump else None
check("pyroute2 dump: TCA_XSTATS = limit 100, buffering, 2 in the open epoch, "
      "1 closed empty epoch, no credits", (100, 0, 2, 1, 0, 0),
      struct.unpack("=6I", bytes.fromhex(xstats.replace(":", ""))) if xstats else None)
ipr.tc("del", index=v0, handle=0x10000, root=True)
check("pyroute2 del: plug gone", True, (rtnl.stats(v0) or {}).get("kind") != "plug")
ipr.close()

sys.exit(ktap.finish())
