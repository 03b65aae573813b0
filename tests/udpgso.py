#!/usr/bin/python3
"""The UDP GSO sender of t-rbfifo: each send is one GSO buffer of several
segments (the UDP_SEGMENT socket option), which the qdisc sees as one skb
and bstats_update() counts as that many packets.

  udpgso.py <dst> <port> <sends> <segments> <size> <tag>
      <sends> sendto()s of <segments> × <size> bytes with UDP_SEGMENT
      <size>; segment k of send i carries "<tag> <i × segments + k>",
      padded with spaces to <size> bytes (one datagram at the receiver,
      tests/udp.py, which records it as one line)

Exits non-zero if the option is refused or a send is short.
"""
import socket
import sys

SOL_UDP = 17
UDP_SEGMENT = 103  # include/uapi/linux/udp.h


def main(dst, port, sends, segs, size, tag):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(SOL_UDP, UDP_SEGMENT, size)
    for i in range(sends):
        buf = b"".join(
            f"{tag} {i * segs + k}".ljust(size).encode() for k in range(segs)
        )
        n = s.sendto(buf, (dst, port))
        if n != len(buf):
            sys.exit(f"send {i}: {n} of {len(buf)} bytes")


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    a = sys.argv[1:]
    main(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]), a[5])
