#!/bin/bash
# Defect 1 of issue 13: early release on a multiqueue device. A root qdisc
# on a device with several transmit queues has no TCQ_F_ONETXQUEUE, so the
# core's bulk dequeue (try_bulk_dequeue_skb_slow) parks a dequeued packet
# of another queue in skb_bad_txq and counts it in sch->q.qlen. A BUFFER
# that left pass-through while one was parked granted one release credit
# too many, and the first packet of the new epoch left before its
# acknowledgement. Here: a veth with 4 queues each way, 4 UDP flows (spread
# over the queues by their ports) from senders on every online CPU, and
# thousands of pass-through -> buffer transitions under that traffic; no
# datagram may arrive before the epoch it was sent in is committed.
# cpus: all
. "$(dirname "$0")/lib.sh"
need_tools
ktap_plan 3
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
if [ $rc = 0 ]; then ok "no datagram before its epoch's commit, all accounted (multiqueue, transitions)"
else not_ok "no datagram before its epoch's commit, all accounted (multiqueue, transitions)"; fi
early=$(grep -o 'early [0-9]*' <<<"$out" | cut -d' ' -f2)
check_eq "early datagrams" 0 "${early:-none}"
cleanup_pair
unload_plug
ktap_done
