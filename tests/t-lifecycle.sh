#!/bin/bash
# Module lifecycle: rmmod with a live plug fails and
# changes nothing; then LIFECYCLE_CYCLES (default 10; make stress: 100) cycles of insmod,
# plugs on several devices holding packets, teardown in one of five ways
# (qdisc delete, link delete, namespace delete, replace with pfifo, delete
# of a prio parent), rmmod. Every rmmod must succeed at once: a reference
# or a namespace left behind makes it fail. Leaks show in the kmemleak scan
# that ends the guest run.
. "$(dirname "$0")/lib.sh"
ktap_plan 6
load_ours
setup_pair
start_receiver
$TC -n snd qdisc add dev v0 root plug limit 100000
send 3 a
out=$(rmmod sch_plug 2>&1); rc=$?
case "$rc:$out" in 0:*) not_ok "rmmod with a live plug fails"; diag "it succeeded" ;;
*"in use"*|*"Resource temporarily unavailable"*) ok "rmmod with a live plug fails: in use" ;;
*) not_ok "rmmod with a live plug fails: in use"; diag "$out" ;; esac
check_eq "after the refused rmmod: 3 still held, reference kept" "3 1" "$(qstat snd v0 qlen) $(cat /sys/module/sch_plug/refcnt)"
$TC -n snd qdisc change dev v0 root plug release
$TC -n snd qdisc change dev v0 root plug block
$TC -n snd qdisc change dev v0 root plug release
wait_rx 3
check_eq "after the refused rmmod: the plug still releases" "a 0 a 1 a 2" "$(rx_lines)"
cleanup_pair
unload_plug

cycles=${LIFECYCLE_CYCLES:-10}
ways=(qdisc-del link-del netns-del replace parent-del)
failed=0 held_total=0
# plugs_held <ns>: the packets every plug of the namespace holds (the
# "backlog ... Np" of each plug qdisc in tc -s).
plugs_held() {
	$TC -n "$1" -s qdisc show | awk '/^qdisc plug /{p = 1; next} /^qdisc /{p = 0}
		p && $1 == "backlog" {sub(/p$/, "", $3); n += $3} END {print n + 0}'
}
for ((c = 0; c < cycles; c++)); do
	way=${ways[c % ${#ways[@]}]}
	if ! out=$(insmod "$SCH_PLUG_KO" 2>&1) || ! plug_is ours; then
		failed=$((failed + 1))
		diag "cycle $c: insmod failed: $out $PLUG_IS_WHY"
		break
	fi
	$IP netns add lc
	# No IPv6 on the dummies: its autoconfiguration packets would join the
	# plugs' queues (the count below saw 7 or 8 instead of 6).
	$IP netns exec lc bash -c 'echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 && exec '"$IP"' -b -' <<-EOB
		link add d0 type dummy
		link add d1 type dummy
		addr add 10.7.0.1/24 dev d0
		addr add 10.8.0.1/24 dev d1
		link set d0 up
		link set d1 up
		neigh replace 10.7.0.2 lladdr 02:00:00:00:00:07 dev d0 nud permanent
		neigh replace 10.8.0.2 lladdr 02:00:00:00:00:08 dev d1 nud permanent
	EOB
	if [ "$way" = parent-del ]; then
		$TC -n lc -b - <<-EOB
			qdisc add dev d0 root handle 1: prio
			qdisc add dev d0 parent 1:2 handle 10: plug limit 100000
			qdisc add dev d1 root plug limit 100000
		EOB
	else
		$TC -n lc -b - <<-EOB
			qdisc add dev d0 root plug limit 100000
			qdisc add dev d1 root plug limit 100000
		EOB
	fi
	$IP netns exec lc bash -c 'for i in 1 2 3; do printf x >/dev/udp/10.7.0.2/7; printf y >/dev/udp/10.8.0.2/7; done'
	# What the plugs hold, as the kernel reports it: 3 on each device.
	held=$(plugs_held lc)
	held_total=$((held_total + held))
	[ "$held" = 6 ] || diag "cycle $c ($way): the plugs hold $held packets, not 6"
	case $way in
	qdisc-del) $TC -n lc -b - <<-EOB
			qdisc del dev d0 root
			qdisc del dev d1 root
		EOB
		$IP netns del lc ;;
	link-del) $IP -n lc -b - <<-EOB
			link del d0
			link del d1
		EOB
		$IP netns del lc ;;
	netns-del) $IP netns del lc ;;
	replace) $TC -n lc -b - <<-EOB
			qdisc replace dev d0 root pfifo
			qdisc replace dev d1 root pfifo
		EOB
		$IP netns del lc ;;
	parent-del) $TC -n lc -b - <<-EOB
			qdisc del dev d0 root
			qdisc del dev d1 root
		EOB
		$IP netns del lc ;;
	esac
	# A deleted namespace is torn down by a workqueue: wait for its plugs.
	for _ in $(seq 100); do [ "$(cat /sys/module/sch_plug/refcnt)" = 0 ] && break; sleep 0.05; done
	if ! out=$(rmmod sch_plug 2>&1); then
		failed=$((failed + 1))
		diag "cycle $c ($way): rmmod failed: $out (refcnt $(cat /sys/module/sch_plug/refcnt 2>/dev/null))"
		break
	fi
done
check_eq "$cycles cycles of insmod, held packets, teardown, rmmod" 0 "$failed"
check_eq "packets the plugs held at teardown, 6 a cycle (tc -s backlog)" $((6 * cycles)) "$held_total"
check_eq "module gone at the end" none "$(loaded_plug)"
ktap_done
