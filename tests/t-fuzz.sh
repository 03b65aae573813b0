#!/bin/bash
# The seeded netlink fuzzer (tests/tools/src/bin/plugfuzz.rs): create,
# change, replace, delete and get on three devices at once, every flag
# combination, options of every length, actions over the whole int range,
# limits at the bounds, real packets; each request checked against the
# model's errno, and the whole state read back after each one.
# FUZZ_MESSAGES (default 100,000) is split over FUZZ_SEEDS (default 1-4),
# run by one worker per online CPU, each in its own namespace with its own
# three devices (the guest's request floor is ~1.5 ms, most of it outside
# RTNL: two workers send about 1.7 times as many requests per second).
# A failure prints the seed and message number; replay it with every step
# printed: make check TESTS=t-fuzz FUZZ_SEEDS=S FUZZ_MESSAGES=N FUZZ_VERBOSE=1
# cpus: all
. "$(dirname "$0")/lib.sh"
need_tools
seeds=(${FUZZ_SEEDS:-1 2 3 4})
total=${FUZZ_MESSAGES:-100000}
ktap_plan $((${#seeds[@]} + 1))
load_ours
IFS=, read -ra cpus <<<"$(online_cpus)"
workers=${#cpus[@]}
[ "$workers" -le "${#seeds[@]}" ] || workers=${#seeds[@]}
for ((w = 0; w < workers; w++)); do
	$IP netns add fz$w
	$IP netns exec fz$w sh -c 'echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6'
	$IP -n fz$w -b - <<-EOB
		link add d0 mtu 1500 txqueuelen 1000 type dummy
		link add d1 mtu 9000 txqueuelen 0 type dummy
		link add d2 mtu 68 txqueuelen 5 type dummy
		link set d0 up
		link set d1 up
		link set d2 up
	EOB
done
# worker <w>: its seeds (every workers-th), one after the other, on its CPU.
worker() {
	local w=$1 i seed
	for ((i = w; i < ${#seeds[@]}; i += workers)); do
		seed=${seeds[i]}
		# Each seed starts from the default roots, whatever the last one left.
		for d in d0 d1 d2; do $TC -n fz$w qdisc del dev $d root 2>/dev/null; done
		$IP netns exec fz$w taskset -c "${cpus[w]}" "$PLUG_TOOLS/plugfuzz" --seed "$seed" \
			--messages $((total / ${#seeds[@]})) --devs d0,d1,d2 ${FUZZ_VERBOSE:+--verbose} \
			>"$WORK/seed$seed.out" 2>&1
		echo $? >"$WORK/seed$seed.rc"
	done
}
start=$SECONDS
for ((w = 0; w < workers; w++)); do worker $w & done
wait
sum=0
for seed in "${seeds[@]}"; do
	while read -r l; do diag "$l"; done <"$WORK/seed$seed.out"
	if [ "$(cat "$WORK/seed$seed.rc")" = 0 ]; then ok "fuzz seed $seed: every answer and state as the model's"
	else not_ok "fuzz seed $seed: every answer and state as the model's"; fi
	n=$(grep -o '[0-9]* messages' "$WORK/seed$seed.out" | cut -d' ' -f1)
	sum=$((sum + ${n:-0}))
done
diag "$sum messages in $((SECONDS - start)) s, $workers workers"
check_eq "the fuzzer sent at least the messages asked for" 1 "$((sum >= total))"
for ((w = 0; w < workers; w++)); do $IP netns del fz$w; done
# The namespaces go asynchronously; their plugs (if any) hold the module.
for _ in $(seq 100); do [ "$(cat /sys/module/sch_plug/refcnt)" = 0 ] && break; sleep 0.1; done
unload_plug
ktap_done
