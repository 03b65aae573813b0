#!/usr/bin/python3
"""What local senders see of a plug that holds their packets, on the C
sch_plug and on ours, in one process (t-sockets.sh).

A held packet keeps its socket in both: TCP then knows a held segment is
still in a host queue and does not send it again into the plug
(skb_still_in_host_queue(), counted in TCPSpuriousRtxHostQueues); a SYN
held across its retransmission timeout stays one packet; a blocking UDP
sender blocks at its send buffer instead of filling the plug. A module that
lets go of held packets' sockets fails each of these.

  sockets.py <our sch_plug.ko> <C sch_plug.ko>

Topology: tests/lib.sh setup_pair (netns snd, v0 10.0.0.1 -> netns rcv,
v1 10.0.0.2). Counters are the sender namespace's MIB (/proc/net/snmp,
/proc/net/netstat read from inside it: plugctl.mib), the qdisc's tc
statistics, and what the sockets themselves report. Waits are bounded
polls; nothing asserts on time.
"""
import select
import socket
import sys
import threading
import time

import plugctl
from plugctl import BUFFER, LIMIT, RELEASE_INDEFINITE, Ktap, Rtnl, in_netns, qopt

LIMIT_BYTES = 10_000_000
HOLDS = 8
HOLD_S = 0.8  # longer than TCP's minimum RTO (200 ms) on a veth
OPEN_S = 0.4


def delta(after, before):
    return {k: after[k] - before[k] for k in after}


def wait_for(cond, tries=200, interval=0.05):
    for _ in range(tries):
        if cond():
            return True
        time.sleep(interval)
    return cond()


class Plug:
    """A root plug on v0 that starts closed (C's and ours), limit 10 MB."""

    def __init__(self):
        self.rtnl = Rtnl("snd")
        self.ifindex = self.rtnl.ifindex("v0")
        self.rtnl.qdisc("del", self.ifindex)  # a leftover, if any
        err, msg = self.rtnl.qdisc("add", self.ifindex, qopt(LIMIT, LIMIT_BYTES))
        if err:
            raise OSError(err, f"plug add: {msg}")

    def action(self, what):
        err, msg = self.rtnl.qdisc("change", self.ifindex, qopt(what))
        if err:
            raise OSError(err, f"plug change {what}: {msg}")

    def stats(self):
        return self.rtnl.stats(self.ifindex)

    def close(self):
        self.rtnl.qdisc("del", self.ifindex)
        self.rtnl.sock.close()


def tcp_holds():
    """A TCP sender at about 500 kB/s through a plug that holds for 0.8 s,
    eight times. Returns (MIB deltas, bytes sent, bytes received)."""
    names = ["Tcp:RetransSegs", "TcpExt:TCPSpuriousRtxHostQueues", "TcpExt:TCPLostRetransmit"]
    plug = Plug()
    plug.action(RELEASE_INDEFINITE)

    def listen():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # The other module's run left its connection in TIME_WAIT.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("10.0.0.2", 5001))
        s.listen(1)
        return s

    lsock = in_netns("rcv", listen)
    received = [0]

    def rx():
        conn, _ = lsock.accept()
        while True:
            data = conn.recv(1 << 16)
            if not data:
                break
            received[0] += len(data)
        conn.close()

    rx_thread = threading.Thread(target=rx)
    rx_thread.start()
    tx = in_netns("snd", lambda: socket.create_connection(("10.0.0.2", 5001)))
    before = plugctl.mib("snd", names)
    sent = [0]
    stop = threading.Event()

    def sender():
        chunk = b"x" * 5000
        while not stop.is_set():
            tx.sendall(chunk)
            sent[0] += len(chunk)
            time.sleep(0.01)

    tx_thread = threading.Thread(target=sender)
    tx_thread.start()
    time.sleep(OPEN_S)
    for _ in range(HOLDS):
        plug.action(BUFFER)
        time.sleep(HOLD_S)
        plug.action(RELEASE_INDEFINITE)
        time.sleep(OPEN_S)
    stop.set()
    tx_thread.join()
    wait_for(lambda: received[0] >= sent[0], tries=400)
    after = plugctl.mib("snd", names)
    tx.close()
    rx_thread.join(timeout=20)
    lsock.close()
    plug.close()
    return delta(after, before), sent[0], received[0]


def syn_held():
    """A connect() behind a closed plug for longer than the SYN's first
    retransmission timeout (1 s). Returns (packets held after the wait,
    connected after the release, connections accepted)."""
    plug = Plug()

    def listen():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # The other module's run left its connection in TIME_WAIT.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("10.0.0.2", 5002))
        s.listen(4)
        s.setblocking(False)
        return s

    lsock = in_netns("rcv", listen)

    def client():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("10.0.0.2", 5002))
        return s

    c = in_netns("snd", client)
    wait_for(lambda: plug.stats()["qlen"] >= 1)
    # Past the first retransmission (1 s), well before the second (3 s).
    time.sleep(2.0)
    held = plug.stats()["qlen"]
    plug.action(RELEASE_INDEFINITE)
    _, writable, _ = select.select([], [c], [], 15)
    connected = bool(writable) and c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    accepted = 0
    while select.select([lsock], [], [], 0.5)[0]:
        conn, _ = lsock.accept()
        conn.close()
        accepted += 1
    c.close()
    lsock.close()
    plug.close()
    return held, connected, accepted


def udp_blocking():
    """A blocking UDP sender with the default send buffer behind a closed
    plug (limit 10 MB), 5,000 datagrams of 1,000 bytes. Returns (datagrams
    sent before it blocked, whether it was blocked, packets held, plug
    drops, the sender's SndbufErrors, whether it finished after the
    release)."""
    total = 5000
    plug = Plug()

    def sink():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("10.0.0.2", 5003))
        return s

    rsock = in_netns("rcv", sink)
    tx = in_netns("snd", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    before = plugctl.mib("snd", ["Udp:SndbufErrors"])
    count = [0]

    def sender():
        for _ in range(total):
            tx.sendto(b"u" * 1000, ("10.0.0.2", 5003))
            count[0] += 1

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    # Until the count stops moving (the sender blocked) or it is done.
    last, still = -1, 0
    for _ in range(400):
        if not t.is_alive():
            break
        still = still + 1 if count[0] == last else 0
        if still >= 10:
            break
        last = count[0]
        time.sleep(0.05)
    blocked_at, blocked = count[0], t.is_alive()
    st = plug.stats()
    after = plugctl.mib("snd", ["Udp:SndbufErrors"])
    errors = after["Udp:SndbufErrors"] - before["Udp:SndbufErrors"]
    plug.action(RELEASE_INDEFINITE)
    t.join(timeout=60)
    finished = not t.is_alive() and count[0] == total
    tx.close()
    rsock.close()
    plug.close()
    return blocked_at, blocked, st["qlen"], st["drops"], errors, finished


def main():
    ours_ko, c_ko = sys.argv[1], sys.argv[2]
    k = Ktap()
    results = {}
    for which in ("c", "rust"):
        plugctl.load(which, ours_ko, c_ko)
        results[which] = {
            "tcp": tcp_holds(),
            "syn": syn_held(),
            "udp": udp_blocking(),
        }
        r = results[which]
        print(f"# {which}: tcp MIB {r['tcp'][0]}, sent {r['tcp'][1]} received {r['tcp'][2]}")
        print(f"# {which}: syn held {r['syn'][0]}, connected {r['syn'][1]}, accepted {r['syn'][2]}")
        print(f"# {which}: udp blocked at {r['udp'][0]} (blocked {r['udp'][1]}), held {r['udp'][2]},"
              f" plug drops {r['udp'][3]}, SndbufErrors {r['udp'][4]}, finished {r['udp'][5]}")
    c, ours = results["c"], results["rust"]
    # TCP behind holds longer than the RTO.
    for which, r in (("C", c), ("ours", ours)):
        mibd, sent, received = r["tcp"]
        k.check(f"tcp ({which}): every byte sent arrives", sent, received)
        k.check(f"tcp ({which}): retransmissions into the plug suppressed (TCPSpuriousRtxHostQueues > 0)",
                True, mibd["TcpExt:TCPSpuriousRtxHostQueues"] > 0)
    k.check("tcp: our retransmissions no more than C's",
            True, ours["tcp"][0]["Tcp:RetransSegs"] <= c["tcp"][0]["Tcp:RetransSegs"])
    k.check("tcp: no retransmission lost (TCPLostRetransmit) with ours",
            0, ours["tcp"][0]["TcpExt:TCPLostRetransmit"])
    # A SYN held across its retransmission timeout.
    for which, r in (("C", c), ("ours", ours)):
        held, connected, accepted = r["syn"]
        k.check(f"syn ({which}): one packet held across the SYN's timeout", 1, held)
        k.check(f"syn ({which}): connected after the release, once", (True, 1), (connected, accepted))
    # A blocking UDP sender behind a closed plug.
    for which, r in (("C", c), ("ours", ours)):
        blocked_at, blocked, held, drops, errors, finished = r["udp"]
        k.check(f"udp ({which}): the sender blocks at its send buffer", (True, True),
                (blocked, blocked_at < 5000))
        k.check(f"udp ({which}): every datagram sent is held, none dropped", (blocked_at, 0, 0),
                (held, drops, errors))
        k.check(f"udp ({which}): the sender finishes after the release", True, finished)
    k.check("udp: ours blocks where C does", c["udp"][0], ours["udp"][0])
    return k.finish()


if __name__ == "__main__":
    sys.exit(main())
