#!/usr/bin/env bash
# `make stress`: the long versions of the reliability tests on the debug
# kernel (SMP, 2 vCPUs): 1,000,000 fuzzed netlink messages over 10 seeds,
# 120-second concurrency runs, 100 module lifecycle cycles, the fault and
# namespace tests, and t-random with 2,000 operations over 3 seeds: 52
# minutes on 2 cores at 2d3b531 (2026-12-02; the fuzzer 28 of them). Ends
# with "N passed, N failed" and the figures.
#
#   FUZZ_MESSAGES, FUZZ_SEEDS, STRESS_SECONDS, LIFECYCLE_CYCLES, RANDOM_OPS,
#   RANDOM_SEEDS override; STRESS_TESTS="t-fuzz t-smp" runs a subset.
. "$(dirname "$0")/lib.sh"
[ "$KERNEL" != debian ] || die "make stress runs on our perf and debug kernels (KERNEL=6.12|7.3), not on Debian's"
flavour=${1:-debug}
export FUZZ_MESSAGES=${FUZZ_MESSAGES:-1000000}
export FUZZ_SEEDS=${FUZZ_SEEDS:-$(seq -s' ' 101 110)}
export STRESS_SECONDS=${STRESS_SECONDS:-120}
export LIFECYCLE_CYCLES=${LIFECYCLE_CYCLES:-100}
# Per test: the long fuzz run takes most of an hour (settings says 900 s).
export TEST_TIMEOUT=${TEST_TIMEOUT:-7200}
export RANDOM_OPS=${RANDOM_OPS:-2000} RANDOM_SEEDS=${RANDOM_SEEDS:-1 2 3}
cd "$TOP"
make --no-print-directory module FLAVOUR="$flavour" >/dev/null
"$TOP/scripts/tools.sh" >/dev/null
# tc with the plug printer, for the checks that read the plug's xstats.
PLUG_TC=$("$TOP/scripts/iproute2.sh") && export PLUG_TC
log "stress: $FUZZ_MESSAGES fuzzed messages (seeds $FUZZ_SEEDS), ${STRESS_SECONDS}s concurrency runs, $LIFECYCLE_CYCLES lifecycle cycles"
start=$SECONDS
set +e
inst=$(ksft_install "$("$TOP/scripts/kernel.sh" --dir "$flavour")")
# STRESS_TESTS: a subset (default: all of the long tests).
tests=(${STRESS_TESTS:-t-fuzz t-multiqueue t-smp t-lifecycle t-netns t-faults t-random t-sockets})
"$TOP/scripts/guest.sh" --timeout "${STRESS_TIMEOUT:-10800}" "$flavour" "$TOP/tests/run-suite.sh" "$inst" \
	"${tests[@]}" | tee "$CACHE/stress.log"
rc=${PIPESTATUS[0]}
set -e
# Every test must report: one that never did counts as a failure.
read -r p f < <(ksft_count "$CACHE/stress.log" "${#tests[@]}")
[ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
log "stress took $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s; log: $CACHE/stress.log"
echo "$p passed, $f failed"
[ "$f" = 0 ]
