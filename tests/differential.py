#!/usr/bin/python3
"""Differential test: the same scenarios against the C sch_plug.ko and ours
with c_quirks=1 (the 6.12 rules), in the same boot; the observed counters
and received packet sequences must be identical after every step. Prints KTAP. Runs inside the guest, after
tests/lib.sh setup_pair made the namespaces.

  differential.py <our ko> <C ko> [scenario ...]
"""
import subprocess
import sys

from plugctl import (BUFFER, LIMIT, RELEASE_INDEFINITE, RELEASE_ONE, TC_H_ROOT, Rtnl, Traffic,
                     in_netns, load, qopt, settle)

BIG = 1_000_000
# Each scenario is a list of steps:
#   ("add" | "change" | "replace", action, limit) or ("add", None): a qdisc request
#   ("raw", verb, bytes): a request with arbitrary TCA_OPTIONS
#   ("send", n): n tagged datagrams; ("down",) / ("up",): the plugged device
#   ("tc", args...): a tc command in netns snd (a parent qdisc, say)
#   ("leaf", parent): from now on the plug is the child at `parent`
TBF = ("tc", "qdisc", "add", "dev", "v0", "root", "handle", "1:", "tbf", "rate", "10gbit",
       "burst", "1mb", "latency", "1s")
PRIO = ("tc", "qdisc", "add", "dev", "v0", "root", "handle", "1:", "prio")
SCENARIOS = {
    "epochs": [("add", BUFFER, BIG), ("send", 3), ("change", BUFFER, 0), ("send", 2),
               ("change", RELEASE_ONE, 0), ("change", BUFFER, 0), ("change", RELEASE_ONE, 0),
               ("send", 1), ("change", RELEASE_ONE, 0), ("change", RELEASE_INDEFINITE, 0),
               ("send", 2), ("change", BUFFER, 0), ("send", 2), ("change", BUFFER, 0),
               ("change", RELEASE_ONE, 0)],
    "bare-create-default-limit": [("add", None), ("send", 4), ("change", BUFFER, 0),
                                  ("change", RELEASE_ONE, 0), ("send", 2),
                                  ("change", RELEASE_INDEFINITE, 0)],
    "create-with-action": [("add", BUFFER, 0), ("send", 3), ("change", LIMIT, BIG),
                           ("send", 2), ("change", BUFFER, 0), ("change", RELEASE_ONE, 0)],
    "create-release-indefinite": [("add", RELEASE_INDEFINITE, 5000), ("send", 3),
                                  ("change", RELEASE_INDEFINITE, 0), ("send", 2)],
    "reset-by-link-down": [("add", BUFFER, BIG), ("send", 3), ("change", BUFFER, 0),
                           ("send", 2), ("down",), ("up",), ("send", 1),
                           ("change", RELEASE_ONE, 0), ("change", BUFFER, 0),
                           ("change", RELEASE_ONE, 0)],
    "two-buffers": [("add", BUFFER, BIG), ("send", 3), ("change", BUFFER, 0), ("send", 10),
                    ("change", BUFFER, 0), ("change", RELEASE_ONE, 0),
                    ("change", RELEASE_ONE, 0)],
    "pass-through-then-buffer": [("add", BUFFER, BIG), ("change", RELEASE_INDEFINITE, 0),
                                 ("send", 3), ("change", BUFFER, 0), ("send", 2),
                                 ("change", BUFFER, 0), ("change", RELEASE_ONE, 0)],
    "byte-limit": [("add", BUFFER, 200), ("send", 6), ("change", LIMIT, 50), ("send", 1),
                   ("change", BUFFER, 0), ("change", RELEASE_ONE, 0), ("change", LIMIT, 100),
                   ("change", RELEASE_INDEFINITE, 0), ("send", 3)],
    "replace-goes-through-change": [("add", BUFFER, BIG), ("send", 2),
                                    ("replace", BUFFER, 0), ("replace", RELEASE_ONE, 0),
                                    ("replace", RELEASE_INDEFINITE, 0), ("send", 1)],
    "rejected-input": [("add", BUFFER, BIG), ("send", 2), ("raw", "change", b"\1\0\0\0"),
                       ("raw", "change", qopt(7, 0)), ("raw", "change", qopt(-1, 0)),
                       ("raw", "add-dup", qopt(BUFFER, BIG)), ("change", BUFFER, 0),
                       ("change", RELEASE_ONE, 0)],
    "short-create": [("raw", "add", b"\0\0\0\0"), ("add", None), ("send", 1),
                     ("change", RELEASE_INDEFINITE, 0)],
    # tbf peeks at its child before dequeuing it: a peek spends a release
    # credit (qdisc_peek_dequeued), in C as in ours.
    "leaf-under-tbf": [TBF, ("leaf", 0x10001), ("add", LIMIT, BIG), ("send", 4),
                       ("change", BUFFER, 0), ("send", 2), ("change", RELEASE_ONE, 0),
                       ("change", BUFFER, 0), ("change", RELEASE_ONE, 0),
                       ("change", RELEASE_INDEFINITE, 0), ("send", 2)],
    # prio's band 1:2 takes best-effort traffic.
    "leaf-under-prio": [PRIO, ("leaf", 0x10002), ("add", LIMIT, BIG), ("send", 3),
                        ("change", BUFFER, 0), ("send", 1), ("change", RELEASE_ONE, 0),
                        ("down",), ("up",), ("change", BUFFER, 0), ("change", RELEASE_ONE, 0)],
}


def run(name, steps):
    """Run one scenario on the loaded plug; return its transcript."""
    rtnl = Rtnl("snd")
    v0 = rtnl.ifindex("v0")
    rtnl.qdisc("del", v0)  # from an earlier scenario, if any
    rtnl.neigh(v0, "10.0.0.2", "02:00:00:00:00:02")
    traffic = Traffic()
    transcript = []
    seen = 0
    parent = TC_H_ROOT
    for i, step in enumerate(steps):
        verb = step[0]
        err = ""
        if verb in ("add", "change", "replace"):
            opts = None if step[1] is None else qopt(step[1], step[2])
            handle = 0x20000 if verb == "add" and parent != TC_H_ROOT else 0
            err, _ = rtnl.qdisc(verb, v0, opts, handle=handle, parent=parent)
        elif verb == "raw":
            v = "add" if step[1] == "add-dup" else step[1]
            err, _ = rtnl.qdisc(v, v0, step[2], parent=parent)
        elif verb == "tc":
            err = in_netns("snd", lambda: subprocess.run(["/sbin/tc", *step[1:]])).returncode
        elif verb == "leaf":
            parent = step[1]
        elif verb == "send":
            traffic.send(f"s{i}", step[1])
        elif verb in ("down", "up"):
            err, _ = rtnl.link_up(v0, verb == "up")
            if verb == "up":  # down flushed the static neighbour
                rtnl.neigh(v0, "10.0.0.2", "02:00:00:00:00:02")
        st = settle(rtnl, v0, traffic, parent=parent) or {}
        rx = traffic.received[seen:]
        seen = len(traffic.received)
        transcript.append(f"{step!r} err={err} sent={st.get('sent')} drops={st.get('drops')} "
                          f"qlen={st.get('qlen')} backlog={st.get('backlog')} rx={rx}")
    rtnl.qdisc("del", v0)
    traffic.close()
    return transcript, seen


def main():
    ours, c_ko = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(SCENARIOS)
    results = {}
    for impl in ("c", "rust-quirks"):
        load(impl, ours, c_ko)
        for name in names:
            results[(impl, name)] = run(name, SCENARIOS[name])
    print("KTAP version 1")
    print(f"1..{2 * len(names)}")
    n = 0
    for name in names:
        (c, c_rx), (r, r_rx) = results[("c", name)], results[("rust-quirks", name)]
        n += 1
        if c == r:
            print(f"ok {n} {name}: c_quirks=1 identical to C ({len(c)} steps)")
        else:
            print(f"not ok {n} {name}: differs from C")
            for a, b in zip(c, r):
                if a != b:
                    print(f"# C:    {a}\n# ours: {b}")
                    break
        n += 1
        # The scenario must have moved packets, or it proves nothing.
        print(f"{'ok' if r_rx > 0 else 'not ok'} {n} {name}: traffic flowed ({r_rx} received)")
        for line in r:
            print(f"#   {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
