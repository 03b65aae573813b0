#!/usr/bin/python3
"""Send one raw RTM_NEWQDISC for a plug and report the kernel's answer.

  nlraw.py <netns> <ifname> <add|change> <hex TCA_OPTIONS payload | none> [--nested]

Prints "errno=<n> msg=<extack message>" (errno 0 on success). Stock clients
cannot send a short or malformed tc_plug_qopt; this can (plugctl.Rtnl).
"""
import sys

from plugctl import Rtnl


def main():
    netns, ifname, verb, opts = sys.argv[1:5]
    rtnl = Rtnl(netns)
    payload = None if opts == "none" else bytes.fromhex(opts)
    # add: handle 1:; change: whatever handle the root has.
    handle = 0x10000 if verb == "add" else 0
    err, msg = rtnl.qdisc(verb, rtnl.ifindex(ifname), payload, handle=handle,
                          nested="--nested" in sys.argv)
    print(f"errno={err} msg={msg}")


if __name__ == "__main__":
    main()
