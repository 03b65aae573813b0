#!/bin/bash
# Concurrency on a real SMP kernel: senders on every CPU,
# one control loop (BUFFER, RELEASE_ONE, RELEASE_INDEFINITE, LIMIT) with up
# to three checkpoints in flight, and dumpers, all at once, through a plug
# on a 4-queue veth. Verdicts: no datagram before its epoch is committed;
# conservation without the module's word (every datagram sent is received
# or counted dropped by the kernel after the plug; the plug's drops are the
# sends it refused, ENOBUFS, and its drop counter must equal them and
# SndbufErrors; on 7.x, which answers every sender of a batched enqueue
# NET_XMIT_SUCCESS, the plug's drops are the kernel's qdisc:qdisc_drop
# events instead, of which the refused sends are a part; nothing left
# queued); and, with the data path on one CPU
# (where nothing can reorder a flow after the qdisc), FIFO per flow.
# cpus: all
. "$(dirname "$0")/lib.sh"
need_tools
ktap_plan 5
sysctl -qw net.core.netdev_max_backlog=100000
cpus=$(online_cpus)
check_eq "the guest has 2 CPUs online (SMP kernel, --cpus 2)" "0,1" "$cpus"
load_ours
PAIR_QUEUES=4 setup_pair
$TC -n snd qdisc add dev v0 root plug limit 10000000
secs=${STRESS_SECONDS:-25}
report() { # report <description> <rc> <output>
	while read -r l; do diag "${l#\# }"; done <<<"$3"
	if [ "$2" = 0 ]; then ok "$1"; else not_ok "$1"; fi
}
out=$(stress smp-all --mix pipeline --seconds "$secs" --senders 4 --dumpers 2 --cpus "$cpus" --seed 2 2>&1)
report "every CPU: nothing early, everything accounted" $? "$out"
check_eq "every CPU: plug empty at the end" 0 "$(qstat snd v0 qlen)"
cleanup_pair
PAIR_QUEUES=4 setup_pair
$TC -n snd qdisc add dev v0 root plug limit 10000000
out=$(STRESS_VERDICT=--order stress smp-one --mix pipeline --seconds "$secs" --senders 4 --dumpers 2 --cpus 0 --dumper-cpus 1 --seed 3 2>&1)
report "one CPU: nothing early, everything accounted, FIFO per flow" $? "$out"
check_eq "one CPU: plug empty at the end" 0 "$(qstat snd v0 qlen)"
cleanup_pair
unload_plug
ktap_done
