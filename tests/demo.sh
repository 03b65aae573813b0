#!/bin/bash
# `make run`: the Rust plug holding and releasing real packets, step by step.
# Runs inside the guest (scripts/run-demo.sh). Every step is checked; the
# demo fails if the plug does not behave as the transcript says.
. "$TOP/tests/lib.sh"

fail=0
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
expect() { # expect <what> <expected> <actual>
	if [ "$2" = "$3" ]; then printf '   ok: %s = %s\n' "$1" "$3"
	else printf '   FAIL: %s = %s, expected %s\n' "$1" "$3" "$2"; fail=1; fi
}
show() {
	$TC -n snd -s qdisc show dev v0 | sed 's/^/   /'
	printf '   receiver has %s packet(s): %s\n' "$(rx_count)" "$(rx_lines)"
}

step "Load the Rust sch_plug.ko"
run insmod "$SCH_PLUG_KO"
run modinfo -F description "$SCH_PLUG_KO"
grep '^sch_plug ' /proc/modules | sed 's/^/   /'

step "Namespaces snd (v0 10.0.0.1) -> rcv (v1 10.0.0.2), a UDP receiver in rcv"
setup_pair
start_receiver
run $TC -n snd qdisc add dev v0 root plug limit 100000
show

step "Epoch 1: send 5 packets while plugged: held in the qdisc"
send 5 epoch1
settle
show
expect "backlog packets" 5 "$(qstat snd v0 qlen)"
expect "received" 0 "$(rx_count)"

step "Close epoch 1 (block), send 3 packets of epoch 2"
run $TC -n snd qdisc change dev v0 root plug block
send 3 epoch2
settle
show
expect "backlog packets" 8 "$(qstat snd v0 qlen)"
expect "received" 0 "$(rx_count)"

step "Release epoch 1: its 5 packets leave, epoch 2 stays"
run $TC -n snd qdisc change dev v0 root plug release
wait_rx 5
settle
show
expect "received" "epoch1 0 epoch1 1 epoch1 2 epoch1 3 epoch1 4" "$(rx_lines)"
expect "sent by the qdisc" 5 "$(qstat snd v0 packets)"
expect "backlog packets" 3 "$(qstat snd v0 qlen)"

step "Close epoch 2 and release it"
run $TC -n snd qdisc change dev v0 root plug block
run $TC -n snd qdisc change dev v0 root plug release
wait_rx 8
show
expect "received" 8 "$(rx_count)"
expect "backlog packets" 0 "$(qstat snd v0 qlen)"

step "Pass-through (release_indefinite): packets go straight out"
run $TC -n snd qdisc change dev v0 root plug release_indefinite
send 4 passthrough
wait_rx 12
show
expect "received" 12 "$(rx_count)"

step "Remove the plug and unload the module"
cleanup_pair
run rmmod sch_plug
expect "module unloaded" no "$(grep -q '^sch_plug ' /proc/modules && echo yes || echo no)"

if [ "$fail" = 0 ]; then echo; echo "demo: every step behaved as shown"; else echo; echo "demo: FAILED"; fi
exit "$fail"
