#!/usr/bin/python3
"""Differential test: the same scenarios against the C sch_plug.ko and ours,
in the same boot. Where no defect of the C module is at play, the observed
counters (with the qdisc's kind and bytes) and received packet sequences
must be identical after every step; where one is (FIXED: D1-D3 of
docs/c-plug.md), ours must differ from C. Each module must also reach each
scenario's known outcome, worked out by hand (EXPECT for C; for ours,
EXPECT_OURS where a fix changes it). Prints KTAP; exits 1 if any result
failed. Runs inside the guest, after tests/lib.sh setup_pair made the
namespaces.

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


def seqs(*bursts):
    """The payloads of bursts ("s<step>", n): what a run must have received."""
    return [f"{tag} {i}" for tag, n in bursts for i in range(n)]


# The known outcome of each scenario on the C module (sch_plug.c, 6.12 to
# 7.3), worked out by hand: every payload received, in order, and the plug's
# final (sent, drops, qlen); with the errnos of the requests that must fail.
# Two modules that agree on a wrong outcome (a harness fault hitting both:
# an add that fails, traffic through the default qdisc) fail here.
EXPECT = {
    "epochs": (seqs(("s1", 3), ("s3", 2), ("s7", 1), ("s10", 2), ("s12", 2)), (10, 0, 0)),
    # Bare create: limit txqueuelen x (MTU + 14) = 1,514,000.
    "bare-create-default-limit": (seqs(("s1", 4), ("s4", 2)), (6, 0, 0)),
    # D1: create with an action sets limit 0: the first 3 are dropped.
    "create-with-action": (seqs(("s3", 2)), (2, 3, 0)),
    # A create ignores its action: plugged until the change.
    "create-release-indefinite": (seqs(("s1", 3), ("s3", 2)), (5, 0, 0)),
    # D2: the purge keeps the counters: epoch 0's ack lets s6 out.
    "reset-by-link-down": (seqs(("s6", 1)), (1, 0, 0)),
    # D3: the ack of epoch 0 releases 10 packets, 7 of epoch 1; 3 stay.
    "two-buffers": (seqs(("s1", 3), ("s3", 7)), (10, 0, 3)),
    "pass-through-then-buffer": (seqs(("s2", 3), ("s4", 2)), (5, 0, 0)),
    # 46-byte frames: 4 fit 200 bytes, 2 dropped; 1 dropped at limit 50.
    "byte-limit": (seqs(("s1", 4), ("s8", 3)), (7, 3, 0)),
    "replace-goes-through-change": (seqs(("s1", 2), ("s5", 1)), (3, 0, 0)),
    "rejected-input": (seqs(("s1", 2)), (2, 0, 0)),
    "short-create": (seqs(("s2", 1)), (1, 0, 0)),
    "leaf-under-tbf": (seqs(("s3", 4), ("s5", 2), ("s10", 2)), (8, 0, 0)),
    # The purge at link down takes s5; the later ack releases nothing.
    "leaf-under-prio": (seqs(("s3", 3)), (3, 0, 0)),
}
# The scenarios in which a defect of the C module shows, and how ours,
# which fixes it, differs (docs/c-plug.md §3). In all others ours must be
# step by step what C is.
FIXED = {
    "epochs": "D3: the ack after two BUFFERs releases the older, empty epoch (the "
              "pass-through one), not s12's",
    "create-with-action": "D1: a create's action is applied, its limit field 0 keeps the "
                          "default limit: nothing dropped",
    "create-release-indefinite": "D1: created in pass-through, s1 leaves at once",
    "reset-by-link-down": "D2: the purge empties the epochs: the first ack releases "
                          "nothing, s6 leaves with its own",
    "two-buffers": "D3: each ack releases its own epoch, 3 then 10",
    "pass-through-then-buffer": "D3: the ack releases the older, empty epoch; s4 waits "
                                "for its own",
}
# The known outcome of ours where it differs from C's, worked out by hand
# from the fix (epoch.rs).
EXPECT_OURS = {
    "epochs": (seqs(("s1", 3), ("s3", 2), ("s7", 1), ("s10", 2)), (8, 0, 2)),
    "create-with-action": (seqs(("s1", 3), ("s3", 2)), (5, 0, 0)),
    "two-buffers": (seqs(("s1", 3), ("s3", 10)), (13, 0, 0)),
    "pass-through-then-buffer": (seqs(("s2", 3)), (3, 0, 2)),
}
# Errnos by step index where a request must fail (all others: 0).
EXPECT_ERRNO = {
    "rejected-input": {2: 22, 3: 22, 4: 22, 5: 17},
    "short-create": {0: 22},
}
# Ethernet, IPv4 and UDP headers in front of each payload.
HEADERS = 42


def known(name, impl, run_result):
    """Problems of one run against the known values (empty: none)."""
    transcript, received, records = run_result
    want_rx, want_counters = expected(name, impl)
    problems = []
    if received != want_rx:
        problems.append(f"received {received}, known {want_rx}")
    last = records[-1]
    got = (last["kind"], (last["sent"], last["drops"], last["qlen"]))
    if got != ("plug", want_counters):
        problems.append(f"final kind, (sent, drops, qlen) {got}, known {('plug', want_counters)}")
    errs = {i: r["err"] for i, r in enumerate(records) if r["err"] not in ("", 0)}
    if errs != EXPECT_ERRNO.get(name, {}):
        problems.append(f"failed requests {errs}, known {EXPECT_ERRNO.get(name, {})}")
    # Bytes: each step's growth of the plug's byte counter is the size of
    # what the receiver got in that step.
    sent_bytes = 0
    for i, r in enumerate(records):
        if r["kind"] != "plug":
            continue
        size = sum(HEADERS + len(p) for p in r["rx"])
        if r["bytes"] - sent_bytes != size:
            problems.append(f"step {i}: the plug's bytes grew by {r['bytes'] - sent_bytes}, "
                            f"the receiver got {size}")
            break
        sent_bytes = r["bytes"]
    return problems


def expected(name, impl):
    """(received, (sent, drops, qlen)) that `impl` must reach."""
    return EXPECT_OURS.get(name, EXPECT[name]) if impl == "rust" else EXPECT[name]


def run(name, steps):
    """Run one scenario on the loaded plug; return its transcript."""
    rtnl = Rtnl("snd")
    v0 = rtnl.ifindex("v0")
    rtnl.qdisc("del", v0)  # from an earlier scenario, if any
    rtnl.neigh(v0, "10.0.0.2", "02:00:00:00:00:02")
    traffic = Traffic()
    transcript, records = [], []
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
        transcript.append(f"{step!r} err={err} kind={st.get('kind')} sent={st.get('sent')} "
                          f"bytes={st.get('bytes')} drops={st.get('drops')} "
                          f"qlen={st.get('qlen')} backlog={st.get('backlog')} rx={rx}")
        records.append({"err": err, "kind": st.get("kind"), "sent": st.get("sent"),
                        "bytes": st.get("bytes"), "drops": st.get("drops"),
                        "qlen": st.get("qlen"), "rx": rx})
    rtnl.qdisc("del", v0)
    traffic.close()
    return transcript, list(traffic.received), records


def main():
    ours, c_ko = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(SCENARIOS)
    results = {}
    for impl in ("c", "rust"):
        load(impl, ours, c_ko)
        for name in names:
            results[(impl, name)] = run(name, SCENARIOS[name])
    print("KTAP version 1")
    print(f"1..{3 * len(names)}")
    n = failed = 0
    for name in names:
        c, r = results[("c", name)][0], results[("rust", name)][0]
        n += 1
        first = next(((a, b) for a, b in zip(c, r) if a != b), None)
        if name in FIXED:
            good = first is not None
            desc = f"{name}: ours differs from C where C has a defect ({FIXED[name]})"
        else:
            good = c == r
            desc = f"{name}: ours identical to C ({len(c)} steps)"
        print(f"{'ok' if good else 'not ok'} {n} {desc}")
        if not good:
            failed += 1
            if first:
                print(f"# C:    {first[0]}\n# ours: {first[1]}")
        # Each equal to its known outcome: else two equal wrong answers pass.
        for impl, who in (("c", "C"), ("rust", "ours")):
            n += 1
            problems = known(name, impl, results[(impl, name)])
            want_rx, want_counters = expected(name, impl)
            desc = (f"{name}: {who} gives the known outcome ({len(want_rx)} received, "
                    f"sent/drops/qlen {want_counters}, bytes as received)")
            if problems:
                failed += 1
                print(f"not ok {n} {desc}")
                for p in problems[:4]:
                    print(f"# {p}")
            else:
                print(f"ok {n} {desc}")
        for line in r:
            print(f"#   {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
