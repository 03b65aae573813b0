#!/bin/bash
# Our plug on a veth with real UDP traffic: held while plugged, released per
# epoch in order, pass-through, byte limit with drops, rejected bad input.
. "$(dirname "$0")/lib.sh"
ktap_plan 22
load_ours
setup_pair
start_receiver
ns() { $TC -n snd qdisc "$@"; }
# Every test packet: 14 (Ethernet) + 20 (IPv4) + 8 (UDP) + 3 payload bytes.
PKT=45

ns add dev v0 root plug limit 100000
send 4 a
settle
check_eq "4 packets held while plugged (backlog)" 4 "$(qstat snd v0 qlen)"
check_eq "nothing received while plugged" 0 "$(rx_count)"
ns change dev v0 root plug block
send 2 b
ns change dev v0 root plug release
wait_rx 4
settle
check_eq "release delivers epoch a only, in order" "a 0 a 1 a 2 a 3" "$(rx_lines)"
check_eq "Sent counts the released packets" 4 "$(qstat snd v0 packets)"
check_eq "epoch b still held" 2 "$(qstat snd v0 qlen)"
check_eq "backlog bytes of epoch b" $((2 * PKT)) "$(qstat snd v0 backlog)"

ns change dev v0 root plug release_indefinite
wait_rx 6
send 3 c
wait_rx 9
check_eq "release_indefinite flushes and passes through" "a 0 a 1 a 2 a 3 b 0 b 1 c 0 c 1 c 2" "$(rx_lines)"
# In pass-through an empty plug lets the core send past it
# (TCQ_F_CAN_BYPASS); the core still counts those packets as the plug's.
check_eq "Sent counts the packets passed through" 9 "$(qstat snd v0 packets)"
# ... but only while the limit fits any packet: in pass-through a packet
# longer than the limit is still dropped, as in C.
ns change dev v0 root plug limit 10
send 2 x
settle
check_eq "pass-through, limit below the packet size: both dropped" 2 "$(qstat snd v0 drops)"
check_eq "pass-through, limit below the packet size: nothing received" 9 "$(rx_count)"
ns change dev v0 root plug limit 100000

# Byte limit: room for two packets; the third is dropped and counted.
ns change dev v0 root plug block
ns change dev v0 root plug limit $((2 * PKT + 10))
# Drop monitors (perf, dropwatch) see why: on 7.x the qdisc subsystem's
# reason in qdisc:qdisc_drop, OVERLIMIT (the C plug's qdisc_drop() leaves
# the core's GENERIC); 6.12 has only QDISC_DROP, in skb:kfree_skb.
tr=$TRACEFS
tracefs_mount
case $(uname -r) in
6.12*) event=skb/kfree_skb reason="reason: QDISC_DROP" name=QDISC_DROP ;;
*) event=qdisc/qdisc_drop reason="kind=plug .*reason=OVERLIMIT" name=OVERLIMIT ;;
esac
echo >$tr/trace
echo 1 >$tr/events/$event/enable
send 3 d
settle
echo 0 >$tr/events/$event/enable
check_eq "limit: two packets fit" 2 "$(qstat snd v0 qlen)"
check_eq "limit: third dropped and counted (2 before)" 3 "$(qstat snd v0 drops)"
check_eq "limit: the drop's reason in $event is $name" 1 "$(grep -cE "$reason" $tr/trace)"
# Lowering the limit below the backlog trims nothing (as in C).
ns change dev v0 root plug limit 10
check_eq "lower limit trims nothing" 2 "$(qstat snd v0 qlen)"

# Bad input: -EINVAL, a message naming the problem, no state change.
out=$($PY "$HERE/nlraw.py" snd v0 change 01000000)
check_eq "short options: EINVAL" "errno=22" "${out%% *}"
case $out in *"shorter than struct tc_plug_qopt"*) ok "short options: extack names the problem" ;;
*) not_ok "short options: extack names the problem"; diag "$out" ;; esac
out=$($PY "$HERE/nlraw.py" snd v0 change 0700000000000000)
check_eq "unknown action: EINVAL" "errno=22" "${out%% *}"
case $out in *"unknown action"*) ok "unknown action: extack names the problem" ;;
*) not_ok "unknown action: extack names the problem"; diag "$out" ;; esac
check_eq "queue untouched by rejected changes" 2 "$(qstat snd v0 qlen)"
ns change dev v0 root plug limit 100000
# Two checkpoints are in flight: the one started by the `block` that left
# pass-through (its epoch is empty: c went out at once) and the one closing
# epoch d. Each ack releases its own epoch, never the next one.
ns change dev v0 root plug block
ns change dev v0 root plug release
settle
check_eq "first ack (empty epoch) releases nothing of epoch d" 9 "$(rx_count)"
ns change dev v0 root plug release
wait_rx 11
check_eq "second ack releases epoch d, in order" "d 0 d 1" "$(tail -n 2 "$RX" | paste -sd' ')"

ns del dev v0 root
cleanup_pair
check "module unloads after the qdisc is gone" rmmod sch_plug
ktap_done
