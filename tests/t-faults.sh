#!/bin/bash
# Faults while packets are held: link deletion, replace
# with another kind, deletion of a parent (prio, tbf, htb) while the plug
# is full, limit 0 while full, link down/up and carrier loss mid-epoch, MTU
# change. After each: exact accounting (what the receiver got, the plug's
# counters), the module reference released once the plug is gone, and (at
# the end of the guest run) a kmemleak scan and a clean kernel log.
. "$(dirname "$0")/lib.sh"
ktap_plan 24
refcnt() { cat /sys/module/sch_plug/refcnt; }
held() { $TC -n snd -s -j qdisc show dev v0 | grep -o '"qlen":[0-9]*' | head -n1 | cut -d: -f2; }
load_ours
setup_pair
start_receiver

# Link deletion with 5 held: device, plug and packets go, reference too.
# The receiver's side must stay to see that nothing arrives, so the plug
# is on a device of its own in the path: ifb0 in rcv, to which v1's ingress
# is redirected (the Remus topology); deleting ifb0 leaves v0-v1 and the
# receiver in place.
udp_in() { $IP netns exec rcv awk '/^Udp:/ && $2 ~ /^[0-9]+$/ {print $2}' /proc/net/snmp; }
$IP -n rcv link add ifb0 type ifb
$IP -n rcv link set ifb0 up
$TC -n rcv qdisc add dev ifb0 root plug limit 100000
$TC -n rcv qdisc add dev v1 ingress
$TC -n rcv filter add dev v1 parent ffff: protocol ip u32 match u32 0 0 action mirred egress redirect dev ifb0
in0=$(udp_in)
send 5 a
for _ in $(seq 50); do [ "$($TC -n rcv -s -j qdisc show dev ifb0 root | grep -o '"qlen":[0-9]*')" = '"qlen":5' ] && break; sleep 0.1; done
check_eq "5 held on ifb0 before its deletion" 5 "$(qstat rcv ifb0 qlen)"
$IP -n rcv link del ifb0
check_eq "ip link del: plug gone, module reference released" 0 "$(refcnt)"
# Whatever the deletion let out would reach the receiver through v1; the
# filter's target is gone, so traffic after it is dropped by mirred: take
# the ingress away, then 2 datagrams show that the receiver still listens.
settle 1
$TC -n rcv qdisc del dev v1 ingress
send 2 a 5
wait_rx 2
check_eq "ip link del: nothing of the held epoch delivered, what follows is" "a 5 a 6 / 2" "$(rx_lines) / $(($(udp_in) - in0))"

# The same on the veth itself: deleting v0 takes v1 (its peer) with it,
# so only the receiver namespace's UDP counter can show a late delivery.
$TC -n snd qdisc add dev v0 root plug limit 100000
in0=$(udp_in)
send 5 b
check_eq "5 held before the deletion of v0" 5 "$(held)"
$IP -n snd link del v0
check_eq "ip link del v0: plug gone, module reference released" 0 "$(refcnt)"
settle 1
check_eq "ip link del v0: no datagram received in rcv" 0 "$(($(udp_in) - in0))"
setup_pair
start_receiver

# Replace with another kind while full: the held packets are purged.
$TC -n snd qdisc add dev v0 root plug limit 100000
send 4 b
$TC -n snd qdisc replace dev v0 root pfifo
check_eq "replace with pfifo: plug gone, reference released" 0 "$(refcnt)"
send 2 c
wait_rx 2
check_eq "replace with pfifo: only the packets sent after it arrive" "c 0 c 1" "$(rx_lines)"
$TC -n snd qdisc del dev v0 root

# Deleting a full plug's parent: prio, tbf, htb.
for parent in "prio" "tbf rate 100mbit burst 32k latency 50ms" "htb default 1"; do
	kind=${parent%% *}
	: >"$RX"
	$TC -n snd qdisc add dev v0 root handle 1: $parent
	[ "$kind" = htb ] && $TC -n snd class add dev v0 parent 1: classid 1:1 htb rate 100mbit
	$TC -n snd qdisc add dev v0 parent 1:1 handle 10: plug limit 100000
	[ "$kind" = prio ] && $TC -n snd filter add dev v0 parent 1: matchall classid 1:1
	send 3 d
	[[ $($TC -n snd -s qdisc show dev v0 parent 1:1) =~ backlog\ [0-9]+b\ ([0-9]+)p ]]
	check_eq "$kind parent: the plug below it holds 3" 3 "${BASH_REMATCH[1]:-none}"
	$TC -n snd qdisc del dev v0 root
	settle
	# v0 is back on its default queue: 2 more show the receiver listens.
	send 2 d 3
	wait_rx 2
	check_eq "delete of the $kind parent with 3 held: reference released, nothing delivered" "0 d 3 d 4" "$(refcnt) $(rx_lines)"
done

# Limit 0 while full: nothing trimmed, new packets dropped, the held ones
# still released in order.
: >"$RX"
$TC -n snd qdisc add dev v0 root plug limit 100000
send 3 e
$TC -n snd qdisc change dev v0 root plug limit 0
send 2 f
check_eq "limit 0 while full: 3 still held, 2 dropped" "3 2" "$(held) $(qstat snd v0 drops)"
$TC -n snd qdisc change dev v0 root plug release_indefinite
wait_rx 3
check_eq "limit 0 while full: the held epoch delivered" "e 0 e 1 e 2" "$(rx_lines)"
$TC -n snd qdisc del dev v0 root

# Link down/up mid-epoch: the queue is purged (counted), the plug keeps
# buffering, and what is sent afterwards is held and released normally.
: >"$RX"
$TC -n snd qdisc add dev v0 root plug limit 100000
send 3 g
$IP -n snd link set v0 down
check_eq "link down mid-epoch: queue purged" 0 "$(held)"
$IP -n snd link set v0 up
$IP -n snd neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent
send 2 h
settle
check_eq "link up: new packets held, nothing delivered" "2 0" "$(held) $(rx_count)"
$TC -n snd qdisc change dev v0 root plug release_indefinite
wait_rx 2
check_eq "link up: released in order, nothing of the purged epoch" "h 0 h 1" "$(rx_lines)"

# Carrier loss mid-epoch (the peer goes down): purged the same way.
: >"$RX"
$TC -n snd qdisc change dev v0 root plug block
send 3 i
$IP -n rcv link set v1 down
for _ in $(seq 50); do [ "$(held)" = 0 ] && break; sleep 0.1; done
check_eq "carrier loss mid-epoch: queue purged" 0 "$(held)"
$IP -n rcv link set v1 up
$IP -n rcv neigh replace 10.0.0.1 lladdr 02:00:00:00:00:01 dev v1 nud permanent
for _ in $(seq 50); do $IP -n snd link show v0 | grep -q LOWER_UP && break; sleep 0.1; done

# MTU change with packets held: they stay held and leave on release. The
# epoch closed by the `block` above (empty since pass-through) and the one
# closed now each take their own acknowledgement, purge or not.
send 2 j
$IP -n snd link set v0 mtu 9000
check_eq "MTU change: 2 still held" 2 "$(held)"
$TC -n snd qdisc change dev v0 root plug block
$TC -n snd qdisc change dev v0 root plug release
settle
check_eq "first ack (the epoch purged by the carrier loss): nothing" 0 "$(rx_count)"
$TC -n snd qdisc change dev v0 root plug release
wait_rx 2
check_eq "MTU change: released after the acknowledgements, in order" "j 0 j 1" "$(rx_lines)"
$TC -n snd qdisc del dev v0 root
cleanup_pair
check "rmmod after the faults" rmmod sch_plug
ktap_done
