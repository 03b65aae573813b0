#!/bin/bash
# R1 (README): early release on a multiqueue device. A root qdisc
# on a device with several transmit queues has no TCQ_F_ONETXQUEUE, so the
# core's bulk dequeue (try_bulk_dequeue_skb_slow) parks a dequeued packet
# of another queue in skb_bad_txq and counts it in sch->q.qlen. A BUFFER
# that left pass-through while one was parked granted one release credit
# too many, and the first packet of the new epoch left before its
# acknowledgement.
#
# Part 1, deterministic: mqhold (tests/mqhold), a device with 4 transmit
# queues of which the test holds queue 1 stopped, as a NIC with a full ring
# does. Packets A (queue 0) and B (queue 1) are held, release_indefinite
# dequeues A with B behind it (B parked, its queue stopped, so it stays),
# C and D join in pass-through, BUFFER closes that period (2 credits: C, D;
# the defect gave 3), E is sent in the new epoch, queue 1 wakes: B, C, D
# leave, E must not (the old module sent 5 packets here). Then the same
# with the parked packet in gso_skb (requeued: its queue was stopped).
#
# Part 2, under load: a veth with 4 queues each way, 4 UDP flows (spread
# over the queues by their ports) from senders on every online CPU, and
# thousands of pass-through -> buffer transitions under that traffic; no
# datagram may arrive before the epoch it was sent in is committed.
# cpus: all
. "$(dirname "$0")/lib.sh"
need_tools
MQHOLD_KO=$HERE/mqhold/mqhold.ko
[ -f "$MQHOLD_KO" ] || skip_all "the test device is not built: tests/mqhold (make check builds it)"
ktap_plan 15

# --- part 1: a packet parked in skb_bad_txq at BUFFER time -----------------
load_ours
rmmod mqhold 2>/dev/null
insmod "$MQHOLD_KO"
D=mqhold0
sysctl -qw net.ipv6.conf.$D.disable_ipv6=1
$IP addr add 10.77.0.1/24 dev $D
$IP link set $D up
# mqsend <priority>...: one datagram per argument, to queue <priority> % 4.
mqsend() {
	$PY - "$@" <<-'EOP'
		import socket, sys
		for p in sys.argv[1:]:
		    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		    s.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, int(p))
		    s.sendto(b"mq", ("10.77.0.2", 9))
		    s.close()
	EOP
}
tx() { cat /sys/class/net/$D/statistics/tx_packets; }
mqstate() { [ -x "$PLUG_TC" ] && diag "$1: $("$PLUG_TC" -s qdisc show dev $D | tr '\n' ' ')"; }
# check_credits <n> <description>: the plug's release credits (xstats),
# read with the patched tc if there is one, else with plugshow.
check_credits() {
	if [ -x "$PLUG_TC" ]; then
		check_eq "$2" "$1" "$(TC=$PLUG_TC qstat '' $D release_credits)"
	else
		check_eq "$2" "$1" "$("$PLUG_TOOLS/plugshow" $D release_credits)"
	fi
}
tx0=$(tx)
$TC qdisc add dev $D root plug limit 100000
echo 2 >/sys/module/mqhold/parameters/stopped
mqsend 0 1                                      # A, B: held (buffering)
$TC qdisc change dev $D root plug release_indefinite
settle 0.3
check_eq "A left, B parked behind its stopped queue" "1 1" "$(($(tx) - tx0)) $(qstat '' $D qlen)"
mqsend 0 0                                      # C, D: pass-through, behind B
mqstate "before BUFFER"
$TC qdisc change dev $D root plug block
mqstate "after BUFFER"
check_credits 2 "BUFFER grants 2 release credits (C, D; B is the core's)"
mqsend 0                                        # E: the new epoch
settle 0.3
check_eq "nothing leaves while queue 1 is stopped" 1 "$(($(tx) - tx0))"
echo 0 >/sys/module/mqhold/parameters/stopped
settle 0.5
mqstate "queue 1 woken"
check_eq "B, C, D left; E (uncommitted epoch) did not" 4 "$(($(tx) - tx0))"
check_eq "the plug holds E" 1 "$(qstat '' $D qlen)"
# The first BUFFER closed an empty epoch (C and D were committed by
# pass-through, as in C): its acknowledgement releases nothing.
$TC qdisc change dev $D root plug release
settle 0.3
check_eq "the acknowledgement of the empty epoch keeps E" "4 1" "$(($(tx) - tx0)) $(qstat '' $D qlen)"
$TC qdisc change dev $D root plug block
$TC qdisc change dev $D root plug release
settle 0.3
check_eq "E leaves once its epoch is committed" "5 0" "$(($(tx) - tx0)) $(qstat '' $D qlen)"
check_eq "the plug counted 5 packets sent" 5 "$(qstat '' $D packets)"
$TC qdisc del dev $D root

# The same with the packet in gso_skb: F, for stopped queue 1, dequeued
# alone is requeued there (dev_requeue_skb()); G and H join behind it in
# pass-through, BUFFER grants 2 credits, I (the new epoch) stays.
tx0=$(tx)
$TC qdisc add dev $D root plug limit 100000
echo 2 >/sys/module/mqhold/parameters/stopped
mqsend 1                                        # F: held
$TC qdisc change dev $D root plug release_indefinite
settle 0.3
check_eq "F requeued behind its stopped queue" "0 1" "$(($(tx) - tx0)) $(qstat '' $D qlen)"
mqsend 0 0                                      # G, H
$TC qdisc change dev $D root plug block
mqstate "after BUFFER, F in gso_skb"
check_credits 2 "BUFFER grants 2 release credits (G, H; F is the core's)"
mqsend 0                                        # I: the new epoch
echo 0 >/sys/module/mqhold/parameters/stopped
settle 0.5
check_eq "F, G, H left; I (uncommitted epoch) did not" "3 1" "$(($(tx) - tx0)) $(qstat '' $D qlen)"
$TC qdisc del dev $D root
rmmod mqhold
check_eq "test device removed" "" "$(grep -w mqhold /proc/modules)"

# --- part 2: transitions under load on a 4-queue veth ----------------------
sysctl -qw net.core.netdev_max_backlog=100000
load_ours
PAIR_QUEUES=4 setup_pair
check_eq "v0 has 4 transmit queues" 4 "$($IP netns exec snd sh -c 'ls -d /sys/class/net/v0/queues/tx-*' | wc -l)"
$TC -n snd qdisc add dev v0 root plug limit 10000000
cpus=$(online_cpus)
diag "online CPUs: $cpus"
out=$(stress mq --mix transitions --seconds "${STRESS_SECONDS:-25}" --senders 4 --dumpers 1 --cpus "$cpus" --seed 1 2>&1)
rc=$?
while read -r l; do diag "${l#\# }"; done <<<"$out"
# Two results: output commit alone (the defect), then every verdict
# (conservation, drops counted by the senders = the plug's counter, no
# duplicate).
[[ $out =~ received\ ([0-9]+) ]] && received=${BASH_REMATCH[1]} || received=0
early=$(grep -o 'early [0-9]*' <<<"$out" | cut -d' ' -f2)
check_eq "no datagram before its epoch's commit (multiqueue, transitions; $received received)" \
	"0 yes" "${early:-none} $([ "$received" -gt 0 ] && echo yes || echo no)"
if [ $rc = 0 ]; then ok "everything accounted, drops counted by the senders (multiqueue, transitions)"
else not_ok "everything accounted, drops counted by the senders (multiqueue, transitions)"; fi
cleanup_pair
unload_plug
ktap_done
