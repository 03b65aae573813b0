#!/usr/bin/python3
"""The recording UDP receiver of the shell tests (tests/lib.sh sends with
bash's /dev/udp; the Python tests use plugctl.Traffic).

  udp.py recv <port> <file>
      appends every datagram's payload, one per line, to <file> (flushed at once)

The receiver's file is what the tests assert on: which packets arrived, and
in which order.
"""
import socket
import sys


def recv(port, path):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind(("0.0.0.0", port))
    with open(path, "a", buffering=1) as out:
        while True:
            data, _ = s.recvfrom(65535)
            out.write(data.decode(errors="replace") + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(__doc__)
