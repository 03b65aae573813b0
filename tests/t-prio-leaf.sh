#!/bin/bash
# Plug as a leaf under a classful parent (HAProxy-reload style): prio's band
# 1:2 (best effort) is plugged, band 1:1 (interactive, TOS 0x10) is not.
. "$(dirname "$0")/lib.sh"
ktap_plan 6
load_ours
setup_pair
start_receiver
$TC -n snd qdisc add dev v0 root handle 1: prio
$TC -n snd qdisc add dev v0 parent 1:2 handle 20: plug limit 100000
send 3 be
# Interactive traffic: TOS 0x10 maps to band 0 (1:1), which has no plug.
$IP netns exec snd $PY -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x10)
for i in range(2):
    s.sendto(f"ia {i}".encode(), ("10.0.0.2", 5000))'
wait_rx 2
settle
leaf() { $TC -n snd -s qdisc show dev v0 parent 1:2; }
check_eq "interactive band passes while the plugged band holds" "ia 0 ia 1" "$(rx_lines)"
[[ $(leaf) =~ backlog\ [0-9]+b\ ([0-9]+)p ]]
check_eq "plugged leaf holds 3 packets" 3 "${BASH_REMATCH[1]}"
$TC -n snd qdisc change dev v0 parent 1:2 handle 20: plug block
$TC -n snd qdisc change dev v0 parent 1:2 handle 20: plug release
wait_rx 5
check_eq "release of the leaf delivers its epoch in order" "ia 0 ia 1 be 0 be 1 be 2" "$(rx_lines)"
[[ $(leaf) =~ Sent\ [0-9]+\ bytes\ ([0-9]+)\ pkt ]]
check_eq "leaf Sent counter" 3 "${BASH_REMATCH[1]}"
[[ $($TC -n snd -s qdisc show dev v0 root) =~ Sent\ [0-9]+\ bytes\ ([0-9]+)\ pkt ]]
check_eq "parent Sent counter (both bands)" 5 "${BASH_REMATCH[1]}"
$TC -n snd qdisc del dev v0 root
cleanup_pair
check "module unloads" rmmod sch_plug
ktap_done
