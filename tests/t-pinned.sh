#!/bin/bash
# The qdisc layer's lifecycle with a state that needs it (samples/pinned.rs,
# kind rpinned): built in place (a spinlock, pinned) with an allocation,
# updated on the data path and read under the tree lock, dropped on every
# destroy: a delete, a graft that replaces it, a namespace deletion; and
# never built by a create that fails. Each qdisc's dump gives its limit, the
# packets it took and the states alive in the module; kmemleak (the guest's
# final scan) sees any table that was not freed.
. "$(dirname "$0")/lib.sh"
need_tools
ktap_plan 10
PINNED_KO=${SCH_PLUG_KO%/*}/sch_rpinned.ko
insmod "$PINNED_KO"
# CTL <netns|-> <args>: qdiscctl, in that namespace ("-": this one).
CTL() {
	local o
	if [ "$1" = - ]; then o=$("$PLUG_TOOLS/qdiscctl" "${@:2}"); else o=$($IP netns exec "$1" "$PLUG_TOOLS/qdiscctl" "${@:2}"); fi
	echo "$o"
}
# pinned <netns|-> <dev> <parent>: "limit=… taken=… live=…" from its dump.
pinned() {
	local o h v out= i f
	o=$(CTL "$1" "$2" dump "$3")
	h=${o#options=}
	for i in 0 1 2; do
		v=0
		for f in 6 4 2 0; do v=$((v * 256 + 16#${h:$((i * 8 + f)):2})); done
		out+="$(echo limit taken live | cut -d' ' -f$((i + 1)))=$v "
	done
	echo "${out% }"
}

setup_pair
start_receiver
check_eq "root create" "errno=0" "$(CTL snd v0 add rpinned root 1: 100000)"
send 5 a
wait_rx 5
check_eq "5 packets through the root; its state counted them" "5 limit=100000 taken=5 live=1" \
	"$(rx_count) $(pinned snd v0 root)"
# A graft replaces the root (its state dropped), then three leaves of prio.
$TC -n snd qdisc replace dev v0 root handle 2: prio
check_eq "leaf 2:1" "errno=0" "$(CTL snd v0 add rpinned 2:1 10: 3000)"
check_eq "leaf 2:2" "errno=0" "$(CTL snd v0 add rpinned 2:2 20: 4000)"
o=$(CTL snd v0 add rpinned 2:3 30: hex:0100)
check_eq "short options rejected, nothing built" \
	'errno=22 extack="rpinned: options shorter than a 32-bit limit" limit=4000 taken=0 live=2' \
	"$o $(pinned snd v0 2:2)"
check_eq "leaf 2:3" "errno=0" "$(CTL snd v0 add rpinned 2:3 30: 5000)"
send 4 b
wait_rx 9
check_eq "4 more through leaf 2:2 (band of priority 0)" "9 limit=4000 taken=4 live=3" \
	"$(rx_count) $(pinned snd v0 2:2)"
$TC -n snd qdisc del dev v0 parent 2:1
check_eq "a leaf deleted" "limit=5000 taken=0 live=2" "$(pinned snd v0 2:3)"
# The namespace goes, and with it v0 and its qdiscs (in the background:
# wait, bounded, for a probe's dump to show only itself).
cleanup_pair
$IP link add dp0 type dummy
CTL - dp0 add rpinned root 1: 1000 >/dev/null
for _ in $(seq 100); do
	[ "$(pinned - dp0 root)" = "limit=1000 taken=0 live=1" ] && break
	sleep 0.1
done
check_eq "namespace deleted: its states dropped" "limit=1000 taken=0 live=1" "$(pinned - dp0 root)"
$IP link del dp0
check "sch_rpinned unloads" rmmod sch_rpinned
ktap_done
