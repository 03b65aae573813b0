#!/bin/bash
# Two defaults, each checked beside the C plug:
# 1: a bare create on a device with txqueuelen 0 got limit 0 (0 x MTU) and
#    dropped everything [C: the same]; ours falls back to the default queue
#    length, 1000 full-size packets.
#    (On devices with IFF_NO_QUEUE, veth and dummy, sch_api.c itself turns
#    txqueuelen 0 into 1000 before init; ifb, Remus's device, has no such
#    flag, and its queue is never stopped while the plug holds.)
# 2: pass-through lets packets bypass the plug only while the limit fits
#    the longest packet the device can get; on devices with no MTU ceiling
#    (dummy, ifb) a later MTU raise let a packet longer than the limit pass
#    where C drops it. The plug now follows MTU changes (netdevice notifier).
. "$(dirname "$0")/lib.sh"
need_c_plug
need_tools
ktap_plan 10
SHOW=$PLUG_TOOLS/plugshow
# frame <dev> <bytes>: one raw Ethernet frame through the device's qdisc;
# prints "sent" or the errno name (ENOBUFS: the qdisc dropped it).
frame() {
	$PY - "$1" "$2" <<-'EOP'
	import errno, socket, sys
	s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
	s.bind((sys.argv[1], 0))
	try:
	    s.send(b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\0" + bytes(int(sys.argv[2]) - 14))
	    print("sent")
	except OSError as e:
	    print(errno.errorcode[e.errno])
	EOP
}
$IP link add d0 type ifb
$IP link add d1 type dummy
for d in d0 d1; do echo 1 >/proc/sys/net/ipv6/conf/$d/disable_ipv6; done
$IP link set d0 txqueuelen 0 up
$IP link set d1 up

load_ours
$TC qdisc add dev d0 root plug
check_eq "ifb with txqueuelen 0: default limit 1000 x (1500 + 14)" 1514000 "$("$SHOW" d0 limit)"
for i in 1 2 3; do frame d0 100 >/dev/null; done
check_eq "ifb with txqueuelen 0: packets held, not dropped" "3 0" "$("$SHOW" d0 qlen) $("$SHOW" d0 drops)"
$TC qdisc del dev d0 root
load_c
$TC qdisc add dev d0 root plug
frame d0 100 >/dev/null
check_eq "txqueuelen 0, the C plug: drops everything" 1 "$($TC -s -j qdisc show dev d0 | grep -o '"drops":[0-9]*' | cut -d: -f2)"
$TC qdisc del dev d0 root

# 2. Limit 530,000 fits any packet at MTU 1500 (GSO/GRO max 524,280), so
# pass-through bypasses the plug; at MTU 600,000 it no longer does.
mtu_case() { # mtu_case <module description>
	$IP link set d1 mtu 1500
	$TC qdisc add dev d1 root plug limit 530000
	$TC qdisc change dev d1 root plug release_indefinite
	check_eq "$1: a 1,000-byte packet passes" sent "$(frame d1 1000)"
	$IP link set d1 mtu 600000
	check_eq "$1: after an MTU raise, a 540,000-byte packet over the limit is dropped" ENOBUFS "$(frame d1 540000)"
	check_eq "$1: Sent 1, dropped 1" "1 1" "$("$SHOW" d1 packets) $("$SHOW" d1 drops)"
	$TC qdisc del dev d1 root
}
load_c
mtu_case "the C plug"
load_ours
mtu_case "ours"
$IP link set d1 mtu 1500
$TC qdisc add dev d1 root plug limit 530000
$TC qdisc change dev d1 root plug release_indefinite
$IP link set d1 mtu 600000
$IP link set d1 mtu 1500
check_eq "ours, MTU back to 1500: a 1,000-byte packet passes" sent "$(frame d1 1000)"
$TC qdisc del dev d1 root
$IP link del d0
$IP link del d1
unload_plug
ktap_done
