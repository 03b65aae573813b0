#!/usr/bin/python3
"""Send one raw RTM_NEWQDISC for a plug and report the kernel's answer.

  nlraw.py <ifname> <add|change> <hex TCA_OPTIONS payload | none> [--nested]

Prints "errno=<n> msg=<extack message>" (errno 0 on success). Stock clients
cannot send a short or malformed tc_plug_qopt; this can. Run it inside the
namespace of the device (ip netns exec).
"""
import socket
import struct
import sys

NETLINK_ROUTE = 0
RTM_NEWQDISC = 36
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
TCA_KIND, TCA_OPTIONS = 1, 2
NLA_F_NESTED = 0x8000
NLMSGERR_ATTR_MSG = 1
NETLINK_EXT_ACK = 11
TC_H_ROOT = 0xFFFFFFFF


def attr(kind, payload):
    hdr = struct.pack("=HH", 4 + len(payload), kind)
    pad = b"\0" * ((4 - len(payload) % 4) % 4)
    return hdr + payload + pad


def main():
    ifname, verb, opts = sys.argv[1], sys.argv[2], sys.argv[3]
    nested = "--nested" in sys.argv
    flags = NLM_F_REQUEST | NLM_F_ACK
    if verb == "add":
        flags |= NLM_F_EXCL | NLM_F_CREATE
    ifindex = socket.if_nametoindex(ifname)
    handle = 0x10000 if verb == "add" else 0  # change: whatever handle the root has
    body = struct.pack("=BxxxiIII", socket.AF_UNSPEC, ifindex, handle, TC_H_ROOT, 0)
    body += attr(TCA_KIND, b"plug\0")
    if opts != "none":
        body += attr(TCA_OPTIONS | (NLA_F_NESTED if nested else 0), bytes.fromhex(opts))
    msg = struct.pack("=IHHII", 16 + len(body), RTM_NEWQDISC, flags, 1, 0) + body

    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    s.setsockopt(270, NETLINK_EXT_ACK, 1)  # SOL_NETLINK
    s.bind((0, 0))
    s.send(msg)
    data = s.recv(65536)
    length, mtype, mflags, _, _ = struct.unpack_from("=IHHII", data)
    assert mtype == NLMSG_ERROR, mtype
    (err,) = struct.unpack_from("=i", data, 16)
    text = ""
    # With NLM_F_CAPPED (0x100) the echoed request is only its header.
    off = 20 + (16 if mflags & 0x100 else struct.unpack_from("=I", data, 20)[0])
    while off + 4 <= length:
        alen, atype = struct.unpack_from("=HH", data, off)
        if alen < 4:
            break
        if atype == NLMSGERR_ATTR_MSG:
            text = data[off + 4 : off + alen].rstrip(b"\0").decode()
        off += (alen + 3) & ~3
    print(f"errno={-err} msg={text}")


if __name__ == "__main__":
    main()
