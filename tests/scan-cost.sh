#!/bin/bash
# Guest side of scripts/scan-cost.sh: a dummy device whose root plug holds
# SCAN_PACKETS (default 100,000) one-byte datagrams of one socket.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
insmod "$SCH_PLUG_KO" || exit 1
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
ip link add d0 type dummy
ip addr add 10.9.0.1/24 dev d0
ip link set d0 up
ip neigh replace 10.9.0.2 lladdr 02:00:00:00:00:09 dev d0 nud permanent
tc qdisc add dev d0 root plug limit 1000000000
python3 "$(dirname "$0")/scan_cost.py" "${SCAN_PACKETS:-100000}"
tc qdisc del dev d0 root
rmmod sch_plug
