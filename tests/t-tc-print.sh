#!/bin/bash
# tc prints the plug (iproute2/0001-tc-q_plug-print-...patch): after each
# action, tc built with the patch (PLUG_TC, scripts/iproute2.sh) shows the
# limit and the epoch state our module dumps, in text and in JSON; stock tc
# prints what it always printed.
. "$(dirname "$0")/lib.sh"
[ -x "$PLUG_TC" ] || skip_all "tc with the q_plug.c printer not built: scripts/iproute2.sh, then set PLUG_TC"
ktap_plan 15
load_ours
setup_pair
start_receiver
PTC() { "$PLUG_TC" -n snd "$@"; }
# state: the xstats line of `tc -s qdisc show` (the line after "backlog")
state() { PTC -s qdisc show dev v0 | sed -n '/backlog/{n;p;q}' | sed 's/^ *//'; }

$TC -n snd qdisc add dev v0 root handle 1: plug limit 10mb
check_eq "create: limit printed" "qdisc plug 1: root refcnt 2 limit 10Mb" "$(PTC qdisc show dev v0 | sed 's/ *$//')"
check_eq "stock tc unchanged: no options printed" "qdisc plug 1: root refcnt 2" "$($TC -n snd qdisc show dev v0 | sed 's/ *$//')"
check_eq "create: buffering, nothing held" \
	"buffering open epoch 0p closed epochs 0 (0p) release credits 0" "$(state)"
send 2 a
check_eq "2 sent: held in the open epoch" \
	"buffering open epoch 2p closed epochs 0 (0p) release credits 0" "$(state)"
$TC -n snd qdisc change dev v0 root plug block
send 3 b
$TC -n snd qdisc change dev v0 root plug block
send 1 c
check_eq "block, 3 sent, block, 1 sent: two closed epochs" \
	"buffering open epoch 1p closed epochs 2 (5p) release credits 0" "$(state)"
PTC -s qdisc show dev v0 | sed 's/^/# /'
json=$(PTC -j -s qdisc show dev v0)
echo "# $json"
fields() { # the plug's JSON fields, in a fixed order
	local k out=
	for k in kind handle limit mode open_packets closed_epochs closed_packets release_credits qlen drops; do
		[[ $1 =~ \"$k\":(\"[^\"]*\"|[0-9]+) ]] && out+="$k=${BASH_REMATCH[1]//\"/} "
	done
	echo "${out% }"
}
check_eq "-j: the same state in JSON" \
	"kind=plug handle=1: limit=10485760 mode=buffering open_packets=1 closed_epochs=2 closed_packets=5 release_credits=0 qlen=6 drops=0" \
	"$(fields "$json")"
check_eq "nothing arrived before a release" 0 "$(rx_count)"
$TC -n snd qdisc change dev v0 root plug release
wait_rx 2
check_eq "release: epoch a (2) leaves" "a 0 a 1" "$(rx_lines)"
check_eq "release: one closed epoch left" \
	"buffering open epoch 1p closed epochs 1 (3p) release credits 0" "$(state)"
$TC -n snd qdisc change dev v0 root plug release_indefinite
wait_rx 6
check_eq "release_indefinite: everything leaves, in order" "a 0 a 1 b 0 b 1 b 2 c 0" "$(rx_lines)"
check_eq "release_indefinite: printed" \
	"release_indefinite open epoch 0p closed epochs 0 (0p) release credits 0" "$(state)"
$TC -n snd qdisc change dev v0 root plug limit 5000
check_eq "limit change: printed in bytes" "qdisc plug 1: root refcnt 2 limit 5000b" "$(PTC qdisc show dev v0 | sed 's/ *$//')"
check_eq "-j: limit in bytes" "limit=5000" "$(fields "$(PTC -j qdisc show dev v0)" | grep -o 'limit=[0-9]*')"
check_eq "counters: 6 sent, nothing dropped" "6 0" "$(qstat snd v0 packets) $(qstat snd v0 drops)"
$TC -n snd qdisc del dev v0 root
$TC -n snd qdisc add dev v0 root handle 1: plug block
check_eq "create with block: the default limit printed (C: limit 0)" \
	"qdisc plug 1: root refcnt 2 limit 1514000b" "$(PTC qdisc show dev v0 | sed 's/ *$//')"
cleanup_pair
ktap_done
