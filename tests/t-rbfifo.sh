#!/bin/bash
# The sample discipline samples/rbfifo.rs (the kernel's bfifo written on our
# qdisc layer) against the C bfifo: the same netlink requests and the same
# traffic through each, in each role (root with bypass, leaf of a stalled
# tbf that peeks and drops, limit change, short options, prio leaf, UDP GSO
# skbs through a prio leaf), must give the same answers, counters, dumped
# options and received sequences.
# The layer's Rust copies of the sch_generic.h inlines (qdisc/mod.rs, "Where
# the layer mirrors C") fail here if a counter drifts. Each line compared is
# also checked against its known value, so two equal wrong answers fail too.
. "$(dirname "$0")/lib.sh"
need_tools
ktap_plan 20
# The answers without the extack message (rbfifo names the problem, bfifo
# gives none).
CTL() { local o; o=$($IP netns exec "$1" "$PLUG_TOOLS/qdiscctl" "${@:2}"); echo "${o%% extack=*}"; }
RBFIFO_KO=${SCH_PLUG_KO%/*}/sch_rbfifo.ko
insmod "$RBFIFO_KO"
# stats <parent>: the counters of v0's qdisc at <parent>, from tc -s -j.
stats() {
	local j f out=
	j=$($TC -n snd -s -j qdisc show dev v0 parent "$1")
	for f in bytes packets drops overlimits requeues backlog qlen; do
		[[ $j =~ \"$f\":([0-9]+) ]] && out+="$f=${BASH_REMATCH[1]} "
	done
	echo "${out% }"
}
# send_big <count> <tag>: datagrams of exactly 1000 bytes, "<tag> <seq>"
# padded with spaces (1042-byte frames).
send_big() {
	$IP netns exec snd /bin/bash -c \
		'for ((i = 0; i < $1; i++)); do printf "%-1000s" "$2 $i" 2>/dev/null >/dev/udp/10.0.0.2/5000; done' \
		send "$1" "$2"
}
# run <kind>: every step's observable outcome, one line each.
run() {
	local k=$1
	setup_pair
	start_receiver
	# 1. Root, bare create: default limit txqueuelen × (MTU + header),
	# and bypass (the queue is empty at every packet).
	echo "root-create $(CTL snd v0 add "$k" root 1: none)"
	echo "root-dump $(CTL snd v0 dump root)"
	send 40 r
	wait_rx 40
	echo "root-rx $(rx_lines)"
	echo "root-stats $(stats root)"
	$TC -n snd qdisc del dev v0 root
	# 2. Leaf of a tbf (1 byte/s, 1100-byte bucket) with 1042-byte
	# frames: the first leaves, then the tbf peeks at the next one and
	# waits (about 1000 s: the test is long done), 4 packets fit the
	# 4200-byte limit, the rest are dropped. Then a smaller limit (kept,
	# not enforced on what is queued), two more packets dropped, short
	# options rejected.
	start_receiver
	$TC -n snd qdisc add dev v0 root handle 1: tbf rate 8bit burst 1100 limit 100000
	echo "leaf-create $(CTL snd v0 add "$k" 1:1 10: 4200)"
	send_big 20 t
	wait_rx 1
	settle
	echo "leaf-rx" $(rx_lines)
	echo "leaf-stats $(stats 1:1)"
	echo "leaf-change $(CTL snd v0 change "$k" 1:1 10: 1000)"
	echo "leaf-dump $(CTL snd v0 dump 1:1)"
	send_big 2 u
	echo "leaf-stats-2 $(stats 1:1)"
	echo "leaf-short $(CTL snd v0 change "$k" 1:1 10: hex:0100)"
	echo "leaf-dump-2 $(CTL snd v0 dump 1:1)"
	$TC -n snd qdisc del dev v0 root
	# 3. Leaf of prio, work-conserving.
	start_receiver
	$TC -n snd qdisc add dev v0 root handle 1: prio
	echo "prio-create $(CTL snd v0 add "$k" 1:2 20: 100000)"
	send 30 p
	wait_rx 30
	echo "prio-rx $(rx_lines)"
	echo "prio-stats $(stats 1:2)"
	$TC -n snd qdisc del dev v0 root
	# 4. GSO through a prio leaf (no bypass: the leaf's own dequeue counts
	# Sent, so rbfifo's comes from the layer's SkBuff::segs(), the
	# packet count of bstats_update()): 20 UDP_SEGMENT sends of 8 ×
	# 1000 bytes. The veth has TX checksum and UDP segmentation offload
	# by default (VETH_FEATURES), so each send is one GSO skb through the
	# qdisc and the veth (whose tx_packets counts skbs), segmented only
	# at the receiving socket: 20 skbs, 160 packets of Sent, 160
	# datagrams received.
	start_receiver
	$TC -n snd qdisc add dev v0 root handle 1: prio
	echo "gso-create $(CTL snd v0 add "$k" 1:2 30: 1000000)"
	local tx0 tx1
	tx0=$($IP netns exec snd cat /sys/class/net/v0/statistics/tx_packets)
	$IP netns exec snd $PY "$HERE/udpgso.py" 10.0.0.2 5000 20 8 1000 g || echo "gso-send failed"
	wait_rx 160
	tx1=$($IP netns exec snd cat /sys/class/net/v0/statistics/tx_packets)
	echo "gso-skbs $((tx1 - tx0))"
	echo "gso-rx-count $(rx_count)"
	echo "gso-rx" $(rx_lines)
	echo "gso-stats $(stats 1:2)"
	$TC -n snd qdisc del dev v0 root
	cleanup_pair
}
c=$(run bfifo)
r=$(run rbfifo)
seq_of() { local i out=; for ((i = 0; i < $2; i++)); do out+="$1 $i "; done; echo "${out% }"; }
# line <name>: that step's line of each run
line() { grep "^$2 " <<<"$1" | cut -d' ' -f2-; }
expect() { # expect <step> <known value>
	local cl rl
	cl=$(line "$c" "$1") rl=$(line "$r" "$1")
	if [ "$cl" = "$rl" ] && [ "$rl" = "$2" ]; then ok "$1: rbfifo = bfifo = $2"
	else not_ok "$1: rbfifo = bfifo"; diag "bfifo:  $cl"; diag "rbfifo: $rl"; diag "known:  $2"; fi
}
# limit 1000 × 1514 = 1514000 = 0x171a10
expect root-dump "options=101a1700"
expect root-rx "$(seq_of r 40)"
expect root-stats "bytes=1830 packets=40 drops=0 overlimits=0 requeues=0 backlog=0 qlen=0"
expect leaf-rx "t 0"
expect leaf-stats "bytes=1042 packets=1 drops=15 overlimits=0 requeues=0 backlog=4168 qlen=4"
expect leaf-stats-2 "bytes=1042 packets=1 drops=17 overlimits=0 requeues=0 backlog=4168 qlen=4"
expect leaf-short "errno=22"
expect leaf-dump-2 "options=e8030000"
expect prio-rx "$(seq_of p 30)"
expect prio-stats "bytes=1370 packets=30 drops=0 overlimits=0 requeues=0 backlog=0 qlen=0"
# GSO (step 4), each assertion on its own: the 20 sends were 20 skbs on
# v0 in both runs; the C bfifo counts their 160 segments (8336 bytes of
# qdisc_pkt_len a skb: 8 × 1042); rbfifo counts what bfifo counts (20
# packets if segs() gave 1 a skb); the receiver got every segment.
expect gso-skbs 20
cg=$(line "$c" gso-stats) rg=$(line "$r" gso-stats)
diag "gso: bfifo $cg"
diag "gso: rbfifo $rg"
check_eq "gso-stats: C bfifo counts the 160 segments of 20 GSO skbs" \
	"bytes=166720 packets=160 drops=0 overlimits=0 requeues=0 backlog=0 qlen=0" "$cg"
check_eq "gso-stats: rbfifo = bfifo (Sent bytes and packets of GSO skbs)" "$cg" "$rg"
expect gso-rx-count 160
expect gso-rx "$(seq_of g 160)"
# Everything else (create, change and delete answers) the same.
check_eq "every other step: rbfifo = bfifo" "$(sed 's/^/  /' <<<"$c")" "$(sed 's/^/  /' <<<"$r")"
check "sch_rbfifo unloads" rmmod sch_rbfifo
# The example of the layer's rustdoc, compiled into sch_tinyfifo.ko
# (samples/doctests.rs), loaded and run as a root qdisc without bypass.
insmod "${SCH_PLUG_KO%/*}/sch_tinyfifo.ko"
setup_pair
start_receiver
$TC -n snd qdisc add dev v0 root tinyfifo
send 10 e
wait_rx 10
settle
check_eq "tinyfifo (the rustdoc example): the receiver got 10 datagrams, in order" "$(seq_of e 10)" "$(rx_lines)"
check_eq "tinyfifo: Sent counts them" 10 "$(qstat snd v0 packets)"
cleanup_pair
check "sch_tinyfifo unloads" rmmod sch_tinyfifo
ktap_done
