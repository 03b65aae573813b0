#!/bin/bash
# A deleted network namespace kept alive by its own
# held packets. A plug on a device of a namespace holds packets that a
# process of the namespace sent; the process ends; `ip netns del`. Each held
# skb owned its socket, the socket its namespace, the namespace the device
# and the plug with its packets and a module reference: nothing was ever
# freed and rmmod was impossible from then on (the C plug does the same).
# Held packets keep their sockets (as in C: t-sockets shows why), but a plug
# that holds packets lets go, once a second, of the sockets that only its
# packets keep alive (closed ones): the namespace then goes, taking its
# device, its plug and the packets with it.
. "$(dirname "$0")/lib.sh"
need_tools
ktap_plan 8
SHOW=$PLUG_TOOLS/plugshow
# mkns <name>: a namespace with a dummy d0 (10.9.0.1/24, static neighbour
# 10.9.0.2) whose root is a buffering plug.
mkns() {
	$IP netns add "$1"
	$IP netns exec "$1" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6'
	$IP -n "$1" -b - <<-EOB
		link add d0 type dummy
		addr add 10.9.0.1/24 dev d0
		link set d0 up
		neigh replace 10.9.0.2 lladdr 02:00:00:00:00:09 dev d0 nud permanent
	EOB
	$TC -n "$1" qdisc add dev d0 root plug limit 100000
}
# refcnt_drops_to <n>: wait (bounded) for the module's reference count; the
# namespace is torn down by a workqueue after its last reference goes.
refcnt_drops_to() {
	for _ in $(seq 100); do
		[ "$(cat /sys/module/sch_plug/refcnt)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

load_ours
# 1. The sender has exited: only the held packets reference its socket.
mkns leak
$IP netns exec leak bash -c 'for i in 1 2 3 4 5; do printf x >/dev/udp/10.9.0.2/7; done'
check_eq "5 packets held in the namespace's plug" 5 "$($IP netns exec leak "$SHOW" d0 qlen)"
check_eq "the plug holds a module reference" 1 "$(cat /sys/module/sch_plug/refcnt)"
$IP netns del leak
if refcnt_drops_to 0; then ok "namespace deleted with held packets: plug destroyed, module reference gone"
else not_ok "namespace deleted with held packets: plug destroyed, module reference gone"
	diag "refcnt still $(cat /sys/module/sch_plug/refcnt): the namespace was never freed"; fi

# 2. A sender still holds its socket open when the namespace is deleted:
# the namespace lives as long as that process, and goes with it.
mkns live
$IP netns exec live python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(4): s.sendto(b"y", ("10.9.0.2", 7))
open(sys.argv[1], "w").close()
time.sleep(600)' "$WORK/sent" &
pid=$!
for _ in $(seq 300); do [ -f "$WORK/sent" ] && break; sleep 0.1; done
check_eq "4 packets held, sender alive" 4 "$($IP netns exec live "$SHOW" d0 qlen)"
$IP netns del live
sleep 1
check_eq "namespace deleted while its process lives: still there" 1 "$(cat /sys/module/sch_plug/refcnt)"
kill "$pid"; wait "$pid" 2>/dev/null
if refcnt_drops_to 0; then ok "the process ends: namespace, plug and packets gone"
else not_ok "the process ends: namespace, plug and packets gone"; diag "refcnt $(cat /sys/module/sch_plug/refcnt)"; fi

check "rmmod succeeds after the namespaces are gone" rmmod sch_plug
# Packets of a namespace that stays are still delivered.
load_ours
setup_pair
start_receiver
$TC -n snd qdisc add dev v0 root plug limit 100000
send 3 o
$TC -n snd qdisc change dev v0 root plug release_indefinite
wait_rx 3
check_eq "held packets are delivered on release" "o 0 o 1 o 2" "$(rx_lines)"
cleanup_pair
unload_plug
ktap_done
