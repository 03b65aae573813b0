#!/usr/bin/python3
"""What the plug's owner scan costs (scripts/scan-cost.sh, in the perf
guest under QEMU -icount: one guest nanosecond per instruction).

A plug that holds packets walks its queue once a second
(Qdisc::orphan_gone_owners) on the CPU that armed its timer. A task
spinning on that CPU sees each walk as a gap in its clock readings: the
largest gap over a few seconds is the walk plus the timer interrupt, and
the same measurement with an empty plug gives the interrupt alone.

  scan_cost.py <packets>
"""
import socket
import subprocess
import sys
import time

SO_SNDBUFFORCE = 32


def max_gaps(seconds=3.5):
    """The three largest gaps (ns) between consecutive clock readings."""
    now = time.monotonic_ns
    end = now() + int(seconds * 1e9)
    prev = now()
    gaps = [0, 0, 0]
    while prev < end:
        t = now()
        g = t - prev
        if g > gaps[0]:
            gaps[0] = g
            gaps.sort()
        prev = t
    return sorted(gaps, reverse=True)


def qlen():
    out = subprocess.run(["tc", "-s", "qdisc", "show", "dev", "d0"], capture_output=True,
                         text=True).stdout
    return int(out.split("backlog")[1].split()[1].rstrip("p"))


def main():
    n = int(sys.argv[1])
    print(f"RESULT empty-plug {max_gaps()}")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 1 << 30)
    for _ in range(n):
        s.sendto(b"x", ("10.9.0.2", 9))
    print(f"# held: {qlen()}")
    print(f"RESULT {n}-live-owners {max_gaps()}")
    s.close()
    print(f"RESULT {n}-closed-owner-first-scans {max_gaps()}")
    print(f"RESULT {n}-orphaned {max_gaps()}")
    print(f"# held: {qlen()}")


if __name__ == "__main__":
    main()
