#!/bin/bash
# The in-guest suite: runs tests/t-*.sh (or the ones named) and prints KTAP,
# each script's results as nested subtests. Runs inside the guest.
#
#   tests/run-suite.sh [t-name ...]
cd "$TOP/tests" || exit 1
if [ $# -gt 0 ]; then
	scripts=()
	for t in "$@"; do scripts+=("$(basename "${t%.sh}").sh"); done
else
	scripts=(t-*.sh)
fi
echo "KTAP version 1"
echo "1..${#scripts[@]}"
n=0 failed=0
for t in "${scripts[@]}"; do
	n=$((n + 1))
	echo "    # Subtest: ${t%.sh}"
	# A hung test fails alone instead of taking the guest's whole timeout;
	# its output so far goes to the shared directory as it comes
	# (progress.log, readable from the host while the guest runs).
	# The guest is SMP. A test runs on CPU 0 only (so do the softirqs,
	# tasklets and timers its processes raise, hence every dequeue and the
	# receiver's backlog) unless it says `# cpus: all`: on several CPUs a
	# flow can be reordered after the qdisc (each CPU that dequeues feeds
	# its own receive backlog, for the C plug as for ours), which the
	# functional tests' order assertions do not expect. t-smp and
	# t-multiqueue use every CPU and pin their threads themselves.
	t0=$SECONDS
	pin=(taskset -c 0)
	grep -q '^# cpus: all' "$t" && pin=()
	out=$(WORK=$(mktemp -d /tmp/sch-plug.XXXXXX) timeout -k 10 "${TEST_TIMEOUT:-900}" "${pin[@]}" bash "./$t" 2>&1 |
		tee -a "${GUEST_OUT:-/tmp}/progress.log"; exit "${PIPESTATUS[0]}")
	rc=$?
	out+=$'\n'"# ${t%.sh}: $((SECONDS - t0)) s"
	echo "# ${t%.sh}: $((SECONDS - t0)) s" >>"${GUEST_OUT:-/tmp}/progress.log"
	[ "$rc" = 124 ] && out+=$'\n'"# ${t%.sh}: killed after ${TEST_TIMEOUT:-900}s"
	# A script that stops without reporting its failure still fails.
	if [ "$rc" != 0 ] && ! grep -q '^not ok ' <<<"$out"; then
		k=$(grep -c '^ok ' <<<"$out")
		out+=$'\n'"not ok $((k + 1)) ${t%.sh} exited with status $rc"
	fi
	sed 's/^/    /' <<<"$out"
	if [ "$rc" = 0 ]; then echo "ok $n ${t%.sh}"; else echo "not ok $n ${t%.sh}"; failed=$((failed + 1)); fi
	rmmod sch_plug 2>/dev/null
done
[ "$failed" = 0 ]
