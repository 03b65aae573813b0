#!/usr/bin/python3
"""Seeded random operation sequences with real traffic.

  random_ops.py <our ko> <C ko> <ops per seed> <seed>...

For each seed, one sequence of sends, BUFFER / RELEASE_ONE /
RELEASE_INDEFINITE / LIMIT changes, rejected requests and link down/up:

- runs its C-safe form (c_safe: the same operations, rewritten where one
  would make a defect of the C module show, D2-D4 of docs/c-plug.md) on the
  C sch_plug.ko and on ours: counters and received packets must be
  identical after every step, as ours differs from C only by those fixes;
- runs it as it is on ours beside a reference model where every
  packet carries its epoch: the receiver must never see a packet of an epoch
  that was not released, and packets must arrive in the order sent; and
  every packet of a released epoch (or sent in pass-through) must have
  arrived by the end of the step, unless the qdisc refused it (its send
  failed with ENOBUFS: the sender has IP_RECVERR) or a link flap purged it
  while it was held. A plug that ignores RELEASE_ONE fails here.

Prints KTAP.
"""
import random
import sys

from plugctl import (BUFFER, LIMIT, RELEASE_INDEFINITE, RELEASE_ONE, Rtnl, Traffic, load,
                     qopt, settle)

OURS, C_KO, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
SEEDS = [int(s) for s in sys.argv[4:]]


def sequence(seed, n):
    rng = random.Random(seed)
    ops = []
    for _ in range(n):
        r = rng.random()
        if r < 0.40:
            ops.append(("send", rng.randint(1, 4)))
        elif r < 0.60:
            ops.append(("cmd", BUFFER, 0))
        elif r < 0.80:
            ops.append(("cmd", RELEASE_ONE, 0))
        elif r < 0.86:
            ops.append(("cmd", RELEASE_INDEFINITE, 0))
        elif r < 0.92:
            ops.append(("cmd", LIMIT, rng.choice([0, 200, 1000, 100_000])))
        elif r < 0.95:
            ops.append(("bad", rng.choice([b"\1\0", qopt(7, 0), qopt(-3, 9)])))
        else:
            ops.append(("flap",))
    return ops


def c_safe(ops):
    """The sequence rewritten so that no defect of the C module shows, the
    only cases where ours may differ from C: a BUFFER while a closed epoch
    waits for its ack (D3) becomes that RELEASE_ONE; a link flap that would
    purge held packets, or leave counts of purged ones (D2), is preceded by
    a RELEASE_INDEFINITE, which lets them go first. D4 needs packets still
    queued in pass-through when BUFFER comes, which a step that settles
    (the device takes them at once) does not leave; D1 needs a create with
    another action than LIMIT, which run() does not make."""
    out = []
    pass_through, closed, sent = False, False, 0
    for op in ops:
        if op[0] == "cmd" and op[1] == BUFFER and closed:
            op = ("cmd", RELEASE_ONE, 0)
        if op[0] == "flap" and not pass_through and (closed or sent):
            out.append(("cmd", RELEASE_INDEFINITE, 0))
            pass_through, closed, sent = True, False, 0
        out.append(op)
        if op[0] == "send" and not pass_through:
            sent += op[1]
        elif op[0] == "cmd" and op[1] == BUFFER:
            pass_through, closed, sent = False, True, 0
        elif op[0] == "cmd" and op[1] == RELEASE_ONE:
            closed = False
        elif op[0] == "cmd" and op[1] == RELEASE_INDEFINITE:
            pass_through, closed, sent = True, False, 0
    return out


# Closed epochs the plug tracks one by one (epoch.rs MAX_CLOSED_EPOCHS):
# past it, a new epoch merges into the newest, which then needs one more ack.
MAX_CLOSED_EPOCHS = 64


class Model:
    """Epoch ids for the payloads, what output commit allows (`released`:
    each epoch on its own ack), and what the plug must have let go (`due`:
    the same, with the plug's bound on tracked epochs, which can only make
    a release later)."""

    def __init__(self):
        self.epoch, self.closed, self.released, self.pass_through = 0, [], set(), False
        self.seq = 0
        self.tracked, self.due = [], set()  # tracked: [epochs, acks still needed]

    def tag(self):
        return "p" if self.pass_through else f"e{self.epoch}"

    def apply(self, action):
        if action == BUFFER:
            self.pass_through = False
            self.closed.append(self.epoch)
            if len(self.tracked) == MAX_CLOSED_EPOCHS:
                self.tracked[-1][0].add(self.epoch)
                self.tracked[-1][1] += 1
            else:
                self.tracked.append([{self.epoch}, 1])
            self.epoch += 1
        elif action == RELEASE_ONE and self.closed:
            self.released.add(self.closed.pop(0))
            self.tracked[0][1] -= 1
            if self.tracked[0][1] == 0:
                self.due |= self.tracked.pop(0)[0]
        elif action == RELEASE_INDEFINITE:
            self.released.update(self.closed + [self.epoch])
            self.due.update(self.closed + [self.epoch])
            self.closed, self.tracked = [], []
            self.epoch += 1
            self.pass_through = True

    def allowed(self, payload):
        tag = payload.split()[0]
        return tag == "p" or int(tag[1:]) in self.released

    def must_have_left(self, payload):
        tag = payload.split()[0]
        return tag == "p" or int(tag[1:]) in self.due


def run(ops, check_model=False):
    rtnl = Rtnl("snd")
    v0 = rtnl.ifindex("v0")
    rtnl.qdisc("del", v0)
    rtnl.neigh(v0, "10.0.0.2", "02:00:00:00:00:02")
    rtnl.qdisc("add", v0, qopt(LIMIT, 100_000))
    # The model's run counts the qdisc's drops itself: refused sends.
    traffic = Traffic(recverr=check_model)
    model = Model()
    transcript, violations, seen, last = [], [], 0, -1
    held = []  # sent, not refused, not yet received: in the plug
    for i, op in enumerate(ops):
        err = ""
        if op[0] == "send":
            for _ in range(op[1]):
                refused = len(traffic.refused)
                traffic.send(model.tag(), 1, model.seq)
                if len(traffic.refused) == refused:
                    held.append(f"{model.tag()} {model.seq}")
                model.seq += 1
        elif op[0] == "cmd":
            err = rtnl.qdisc("change", v0, qopt(op[1], op[2]))[0]
            model.apply(op[1])
        elif op[0] == "bad":
            err = rtnl.qdisc("change", v0, op[1])[0]
        elif op[0] == "flap":
            rtnl.link_up(v0, False)
            rtnl.link_up(v0, True)
            rtnl.neigh(v0, "10.0.0.2", "02:00:00:00:00:02")
            # Link down purged what the plug held (the step before settled,
            # so what had not arrived was in the plug): no longer due.
            traffic.drain()
            held = []
        st = settle(rtnl, v0, traffic, polls=2, interval=0.005) or {}
        rx = traffic.received[seen:]
        seen = len(traffic.received)
        transcript.append((i, op, err, st.get("sent"), st.get("drops"), st.get("qlen"),
                           st.get("backlog"), tuple(rx)))
        if check_model:
            for payload in rx:
                seq = int(payload.split()[1])
                if not model.allowed(payload):
                    violations.append(f"step {i}: {payload} left before its epoch was released")
                if seq <= last:
                    violations.append(f"step {i}: {payload} out of order")
                last = seq
            got = set(traffic.received)
            held = [p for p in held if p not in got]
            due = [p for p in held if model.must_have_left(p)]
            if due:
                # Not a timing assertion: a second, longer wait for them.
                st = settle(rtnl, v0, traffic, polls=10, interval=0.05) or {}
                got = set(traffic.received)  # checked with the next step's rx
                due = [p for p in due if p not in got]
                held = [p for p in held if p not in got]
            if due:
                violations.append(f"step {i} {op}: released but not delivered: {due[:5]} "
                                  f"(plug qlen {st.get('qlen')})")
                held = [p for p in held if p not in due]
    arrived = set(traffic.received) & set(traffic.refused)
    if arrived:
        violations.append(f"refused by the qdisc (ENOBUFS), yet received: {sorted(arrived)[:5]}")
    rtnl.qdisc("del", v0)
    traffic.close()
    return transcript, violations


def main():
    results = []
    for seed in SEEDS:
        ops = sequence(seed, N)
        safe = c_safe(ops)
        load("c", OURS, C_KO)
        c, _ = run(safe)
        load("rust", OURS, C_KO)
        r, _ = run(safe)
        diff = next(((a, b) for a, b in zip(c, r) if a != b), None)
        moved = sum(len(t[-1]) for t in r)
        results.append((diff is None and moved > 0,
                        f"seed {seed}: {len(safe)} ops of its C-safe form, ours identical to C "
                        f"after every step ({moved} packets received)",
                        [f"C:    {diff[0]}", f"ours: {diff[1]}"] if diff else []))
        load("rust", OURS, C_KO)
        t, violations = run(ops, check_model=True)
        moved = sum(len(x[-1]) for x in t)
        results.append((not violations and moved > 0,
                        f"seed {seed}: default rules: no packet before its epoch's release, "
                        f"every released one delivered, FIFO ({moved} packets received)",
                        violations[:5]))
    print("KTAP version 1")
    print(f"1..{len(results)}")
    for i, (good, desc, notes) in enumerate(results, 1):
        print(f"{'ok' if good else 'not ok'} {i} {desc}")
        for note in notes:
            print(f"# {note}")
    return 0 if all(r[0] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
