#!/usr/bin/python3
"""Real packets for the in-guest tests: a UDP sender and a recording receiver.

  udp.py send <addr> <port> <count> <tag> [--first N]
      sends <count> datagrams whose payload is "<tag> <seq>", seq from N (default 0)
  udp.py recv <port> <file>
      appends every datagram's payload, one per line, to <file> (flushed at once)

The receiver's file is what the tests assert on: which packets arrived, and
in which order.
"""
import socket
import sys

SO_SNDBUFFORCE = 32  # not exported by the socket module


def send(addr, port, count, tag, first=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Buffered packets stay charged to the socket: room for many (root only).
    s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 1 << 24)
    for seq in range(first, first + count):
        s.sendto(f"{tag} {seq}".encode(), (addr, port))


def recv(port, path):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind(("0.0.0.0", port))
    with open(path, "a", buffering=1) as out:
        while True:
            data, _ = s.recvfrom(65535)
            out.write(data.decode(errors="replace") + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "send":
        first = int(sys.argv[7]) if len(sys.argv) > 7 and sys.argv[6] == "--first" else 0
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], first)
    elif sys.argv[1] == "recv":
        recv(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)
