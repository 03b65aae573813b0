#!/bin/bash
# `make run`, the guest side: output commit as Xen Remus uses it, with live
# checkpoints, real packets and a verdict from what the client received.
#
#   primary (the protected machine)   dom0 (Remus)                    client
#   pv0 10.1.0.2 ───── veth ───── vif0 10.1.0.1 ── forwarding ── dv0 10.2.0.1 ─ veth ─ cv0 10.2.0.2
#                                  │ ingress: u32 + mirred
#                                  └──> ifb0, root qdisc: the plug
#
# Everything the primary sends enters dom0 on vif0, is redirected to ifb0
# (as remus-netbuf-setup does), held by the plug per epoch, and released
# into dom0's stack, which forwards it to the client. tests/tools plugdemo
# sends, checkpoints (through libnl, one socket) (BUFFER every DEMO_EPOCH_MS, RELEASE_ONE DEMO_ACK_MS
# after), receives and judges; scripts/timeline.py draws the picture.
#
# DEMO_MODULE ours|c, DEMO_EPOCH_MS, DEMO_ACK_MS, DEMO_SECONDS, DEMO_RATE,
# DEMO_VIA libnl|rtnl (the checkpointer's netlink client).
# The results go to $GUEST_OUT/artifacts (scripts/guest.sh hands them back).
. "$(dirname "$0")/lib.sh"
# In the repository scripts/timeline.py; in a kselftest install, beside us.
TIMELINE=$HERE/timeline.py
[ -f "$TIMELINE" ] || TIMELINE=$HERE/../scripts/timeline.py
module=${DEMO_MODULE:-ours}
epoch_ms=${DEMO_EPOCH_MS:-50}
ack_ms=${DEMO_ACK_MS:-120}
seconds=${DEMO_SECONDS:-20}
rate=${DEMO_RATE:-400}
out=${DEMO_OUT:-${GUEST_OUT:-/tmp}/artifacts}
mkdir -p "$out"

say() { printf '\n== %s\n' "$*"; }
say "the plug: $([ "$module" = c ] && echo "the kernel's C sch_plug.ko" || echo "our Rust sch_plug.ko")"
if [ "$module" = c ]; then load_c; else load_ours; fi
modinfo -F description "$([ "$module" = c ] && echo "$C_PLUG_KO" || echo "$SCH_PLUG_KO")" | sed 's/^/   /'

say "Remus topology: primary -> dom0 (vif0 ingress -> ifb0 plug) -> client"
for ns in primary dom0 client; do
	$IP netns del $ns 2>/dev/null
	$IP netns add $ns
	$IP netns exec $ns sh -c 'echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
		echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6'
done
$IP link add pv0 address 02:00:00:00:01:02 netns primary type veth peer name vif0 address 02:00:00:00:01:01 netns dom0
$IP link add dv0 address 02:00:00:00:02:01 netns dom0 type veth peer name cv0 address 02:00:00:00:02:02 netns client
# Static neighbours: no ARP request waits behind the plug.
$IP -n primary -b - <<EOB
addr add 10.1.0.2/24 dev pv0
link set pv0 up
neigh replace 10.1.0.1 lladdr 02:00:00:00:01:01 dev pv0 nud permanent
route add default via 10.1.0.1
EOB
$IP -n client -b - <<EOB
addr add 10.2.0.2/24 dev cv0
link set cv0 up
neigh replace 10.2.0.1 lladdr 02:00:00:00:02:01 dev cv0 nud permanent
route add default via 10.2.0.1
EOB
$IP -n dom0 -b - <<EOB
addr add 10.1.0.1/24 dev vif0
addr add 10.2.0.1/24 dev dv0
link set vif0 up
link set dv0 up
neigh replace 10.1.0.2 lladdr 02:00:00:00:01:02 dev vif0 nud permanent
neigh replace 10.2.0.2 lladdr 02:00:00:00:02:02 dev dv0 nud permanent
link add ifb0 type ifb
link set ifb0 up
EOB
$IP netns exec dom0 sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
# remus-netbuf-setup: the plug on the ifb, the vif's ingress redirected to it.
$TC -n dom0 qdisc add dev ifb0 root plug
$TC -n dom0 qdisc add dev vif0 ingress
$TC -n dom0 filter add dev vif0 parent ffff: protocol ip u32 match u32 0 0 \
	action mirred egress redirect dev ifb0
$TC -n dom0 qdisc show dev ifb0 | sed 's/^/   /'

say "checkpoints: an epoch closes every $epoch_ms ms (BUFFER) and is acknowledged $ack_ms ms later (RELEASE_ONE); $seconds s of UDP at about $rate datagrams/s"
# On CPU 0, with the softirqs its threads raise: on several CPUs the
# datagrams of one flow can be reordered before they even reach the plug
# (each CPU's receive backlog feeds vif0's ingress on its own).
taskset -c 0 "$PLUG_TOOLS/plugdemo" --dev ifb0 --primary primary --dom0 dom0 --client client \
	--dst 10.2.0.2:5000 --epoch-ms "$epoch_ms" --ack-ms "$ack_ms" --seconds "$seconds" \
	--rate "$rate" --via "${DEMO_VIA:-libnl}" --out "$out" ${DEMO_QUIET:+--quiet} | tee "$out/summary.txt"
rc=${PIPESTATUS[0]}
$TC -n dom0 -s qdisc show dev ifb0 | sed 's/^/   /'
label=$([ "$module" = c ] && echo "the C sch_plug" || echo "the Rust sch_plug")
$PY "$TIMELINE" "$out" "$out/timeline.svg" \
	"Output commit with $label: epoch $epoch_ms ms, ack after $ack_ms ms"
for ns in primary dom0 client; do $IP netns del $ns; done
for _ in $(seq 100); do [ "$(cat /sys/module/sch_plug/refcnt 2>/dev/null)" = 0 ] && break; sleep 0.1; done
unload_plug
exit "$rc"
