#!/bin/bash
# `make bench`, the guest side: the qdisc path measured in guest nanoseconds
# (with QEMU -icount shift=0,sleep=off, one guest ns per instruction), C plug
# vs ours in this one boot. Prints "RESULT <row> <impl> <ns> <unit>" lines;
# scripts/bench.sh turns them into the table, the JSON and the chart.
#
# Environment: SCH_PLUG_KO (ours, built for the perf kernel), C_PLUG_KO, KDIR.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
COUNT=${BENCH_COUNT:-200000}   # packets per pass-through run
RUNS=${BENCH_RUNS:-3}          # measured runs per module load (after one discarded)
BUF=${BENCH_BUF:-20000}        # packets per buffered-enqueue run
DRAIN=${BENCH_DRAIN:-100000}   # packets per drain run
CTRL=${BENCH_CTRL:-10000}      # tc -batch lines per control-path run
CYCLES=${BENCH_CYCLES:-2}      # ABBA cycles of module loads
PG=/proc/net/pktgen

fail() { echo "BENCH-ERROR $*"; exit 1; }
# Guest time: ${EPOCHREALTIME/./} is µs, from a builtin (no exec, no fork).

# Under -icount, guest time is deterministic only while the guest does no
# I/O with the host: every page read from the 9p root waits on host time.
# The timed regions therefore run a tc whose binary, libraries and loader
# were copied to the guest's tmpfs first.
mkdir -p /tmp/tcbin
for f in /sbin/tc $(ldd /sbin/tc | grep -o '/[^ ]*'); do cp -L "$f" /tmp/tcbin/; done
loader=$(ldd /sbin/tc | grep -o '/[^ ]*ld-linux[^ ]*')
TCFAST=(/tmp/tcbin/"$(basename "$loader")" --library-path /tmp/tcbin /tmp/tcbin/tc)
"${TCFAST[@]}" -V >/dev/null || fail "tc copy does not run"

insmod "$KDIR/net/core/pktgen.ko" || fail "pktgen"
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
ip link add dummy0 type dummy
ip link set dummy0 up
echo "add_device dummy0" >$PG/kpktgend_0

# pktgen <count> <shared: yes|no>: one run. Sets NS (guest ns per packet)
# and SENT (packets the root qdisc counted as sent). Runs in this shell, not
# in a $(...) subshell, so that both reach the caller.
pktgen() {
	local f=$PG/dummy0 sent0 sent1
	for cmd in "count $1" "pkt_size 60" "clone_skb 0" "xmit_mode queue_xmit" \
		"flag NO_TIMESTAMP" "dst 10.0.0.2" "dst_mac 02:00:00:00:00:02" "delay 0"; do
		echo "$cmd" >$f
	done
	if [ "$2" = no ]; then echo "flag !SHARED" >$f; else echo "flag SHARED" >$f; fi
	sent0=$(tc_sent)
	echo start >$PG/pgctrl
	sent1=$(tc_sent)
	local res sofar errors usec
	res=$(cat $f)
	[[ $res =~ pkts-sofar:\ ([0-9]+)\ +errors:\ ([0-9]+) ]] || fail "pktgen output: $res"
	sofar=${BASH_REMATCH[1]} errors=${BASH_REMATCH[2]}
	[ "$sofar" = "$1" ] || fail "pktgen sent $sofar of $1"
	[ "$errors" = 0 ] || fail "pktgen errors: $errors"
	[[ $res =~ Result:\ OK:\ ([0-9]+)\( ]] || fail "pktgen result: $res"
	usec=${BASH_REMATCH[1]}
	SENT=$((sent1 - sent0))
	NS=$((usec * 1000 / $1))
}
# Packets the root qdisc sent (0 for noqueue).
tc_sent() {
	local s
	s=$(tc -s qdisc show dev dummy0 root)
	[[ $s =~ Sent\ [0-9]+\ bytes\ ([0-9]+)\ pkt ]] && echo "${BASH_REMATCH[1]}" || echo 0
}
root() { tc qdisc del dev dummy0 root 2>/dev/null; [ $# = 0 ] || tc qdisc add dev dummy0 root "$@"; }
load() { rmmod sch_plug 2>/dev/null; if [ "$1" = c ]; then insmod "$C_PLUG_KO"; else insmod "$SCH_PLUG_KO"; fi; }

# setup root|leaf [qdisc args]: the qdisc under test as the root of dummy0,
# or as the leaf of a prio root's band 1 (where packets of priority 0 go),
# where the core cannot send past it. A plug is put in release_indefinite
# by a change (the C plug ignores the action given at creation). tc cannot
# give rbfifo (samples/rbfifo.rs) options: "rbfifo <limit>" goes through
# tests/tools qdiscctl, the same request as tc's for bfifo.
setup() {
	local where=$1 at parent=root handle=1:
	shift
	root
	if [ "$where" = leaf ]; then
		tc qdisc add dev dummy0 root handle 1: prio
		parent=1:2 handle=20:
	fi
	at="parent $parent handle $handle"
	[ "$parent" != root ] || at="root handle 1:"
	if [ "${1:-}" = rbfifo ]; then
		[ "$("$PLUG_TOOLS/qdiscctl" dummy0 add rbfifo $parent $handle "$2")" = errno=0 ] ||
			fail "rbfifo setup"
	elif [ $# != 0 ]; then
		tc qdisc add dev dummy0 $at "$@"
	fi
	[ "${1:-}" != plug ] || tc qdisc change dev dummy0 $at plug release_indefinite
}
# fifo <impl>: the byte FIFO of that implementation, 1000-byte limit (no
# bypass: 60-byte packets, and a limit under the MTU).
fifo() { if [ "$1" = c ]; then echo bfifo limit 1000; else echo rbfifo 1000; fi; }

# pass <row> <impl> <setup args>: one discarded run, then RUNS measured.
pass() {
	local row=$1 impl=$2
	shift 2
	setup "$@"
	pktgen "$COUNT" yes
	for _ in $(seq "$RUNS"); do
		pktgen "$COUNT" yes
		if [ $# -gt 1 ] && [ "$SENT" != "$COUNT" ]; then fail "$row $impl: qdisc sent $SENT of $COUNT"; fi
		echo "RESULT $row $impl $NS ns/packet"
	done
	root
}

# Buffered enqueue: a blocked plug takes BUF packets (no dequeue at all).
buffered() {
	local impl=$1
	for i in 0 $(seq "$RUNS"); do
		root plug limit 100000000
		pktgen "$BUF" no
		[[ $(tc -s qdisc show dev dummy0 root) =~ backlog\ [0-9]+b\ ([0-9]+)p ]]
		[ "${BASH_REMATCH[1]}" = "$BUF" ] || fail "buffered $impl: backlog ${BASH_REMATCH[1]} of $BUF"
		[ "$i" = 0 ] || echo "RESULT buffered-enqueue $impl $NS ns/packet"
	done
	root
}

# release <n>: buffer n packets in a blocked plug, then time a
# `tc qdisc change … release` until dummy0 sent them all. Sets T (guest ns).
#
# With a tx quota above n (net.core.dev_weight), the whole drain is one
# qdisc run, in softirq context where nothing preempts it: in the caller's
# context when the release schedules the queue with bottom halves off (ours,
# under the tree lock), else in ksoftirqd or on the next interrupt's exit
# (C). Until then this shell sleeps in 10 µs steps instead of spinning, so
# that it never holds the CPU the drain needs: the time is the work done,
# whoever runs it.
release() {
	local n=$1 tx0 tx t0 t1
	root plug limit 100000000
	[ "$n" = 0 ] || pktgen "$n" no
	tc qdisc change dev dummy0 root plug block
	tx0=$(</sys/class/net/dummy0/statistics/tx_packets)
	t0=${EPOCHREALTIME/./}
	"${TCFAST[@]}" qdisc change dev dummy0 root plug release
	# Builtins only (sysfs is guest memory, not 9p; fd 9 a FIFO no one writes).
	while read -r tx </sys/class/net/dummy0/statistics/tx_packets && [ "$tx" -lt $((tx0 + n)) ]; do
		read -r -t 0.00001 -u 9 _
	done
	t1=${EPOCHREALTIME/./}
	[ "$tx" = $((tx0 + n)) ] || fail "drain: sent $((tx - tx0)) of $n"
	T=$(((t1 - t0) * 1000))
}

# Drain: the release of DRAIN packets minus that of none (the tc process),
# per packet.
drain() {
	local impl=$1 weight empty
	weight=$(</proc/sys/net/core/dev_weight)
	echo $((DRAIN * 2)) >/proc/sys/net/core/dev_weight
	for i in 0 $(seq "$RUNS"); do
		release 0
		empty=$T
		release "$DRAIN"
		[ "$i" = 0 ] || echo "RESULT drain $impl $(((T - empty) / DRAIN)) ns/packet"
	done
	echo "$weight" >/proc/sys/net/core/dev_weight
	root
}

# Control path: CTRL alternating block / release_indefinite changes.
control() {
	local impl=$1 t0 t1
	for ((i = 0; i < CTRL / 2; i++)); do
		echo "qdisc change dev dummy0 root plug block"
		echo "qdisc change dev dummy0 root plug release_indefinite"
	done >/tmp/ctrl.batch
	for i in 0 $(seq "$RUNS"); do
		root plug
		t0=${EPOCHREALTIME/./}
		"${TCFAST[@]}" -batch /tmp/ctrl.batch || fail "tc -batch"
		t1=${EPOCHREALTIME/./}
		[ "$i" = 0 ] || echo "RESULT control $impl $(((t1 - t0) * 1000 / CTRL)) ns/op"
	done
	root
}

mkfifo /tmp/bench.fifo
exec 9<>/tmp/bench.fifo

pass noqueue - root
pass pfifo - root pfifo
pass bfifo - root bfifo limit 1000
pass leaf-bfifo - leaf bfifo limit 1000
# ABBA, CYCLES times (C, ours, ours, C, …); a discarded warm-up after each
# load. A row can come out a few ns apart from one module load to the next
# (see BENCHMARKS.md), so each module is loaded 2 × CYCLES times.
order=()
for ((i = 0; i < CYCLES; i++)); do order+=(c rust rust c); done
insmod "${SCH_PLUG_KO%/*}/sch_rbfifo.ko" || fail "insmod sch_rbfifo"
for impl in "${order[@]}"; do
	load "$impl"
	# The Rust FIFO (samples/rbfifo.rs) against the C bfifo: what the
	# qdisc layer costs. Both can be loaded at once, so both are measured
	# after every load, the one of this load's side first: the pair shares
	# the load's kernel state, whose offset (up to 14 ns, see
	# BENCHMARKS.md) then cancels out.
	fifos=(c rust)
	[ "$impl" = c ] || fifos=(rust c)
	for f in "${fifos[@]}"; do
		pass fifo-root "$f" root $(fifo "$f")
		pass fifo-leaf "$f" leaf $(fifo "$f")
	done
	pass plug-pass-through "$impl" root plug
	pass leaf-plug-pass-through "$impl" leaf plug
	buffered "$impl"
	drain "$impl"
	control "$impl"
done
rmmod sch_plug
rmmod sch_rbfifo
echo "BENCH-DONE"
