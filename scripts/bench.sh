#!/usr/bin/env bash
# `make bench`: the Rust plug vs the C plug on the qdisc path, measured
# deterministically (QEMU counts instructions: -icount shift=0,sleep=off, one
# guest nanosecond per instruction) in one boot of the perf kernel.
#
# Writes $CACHE/bench/results.json, table.md and chart.svg, and prints the
# table. Method: BENCHMARKS.md.
. "$(dirname "$0")/lib.sh"
[ "$KERNEL" != debian ] || die "make bench runs on our perf and debug kernels (KERNEL=6.12|7.3), not on Debian's"
"$TOP/scripts/deps.sh"
kdir=$("$TOP/scripts/kernel.sh" perf)
ko=$("$TOP/scripts/build-module.sh" perf)
"$TOP/scripts/tools.sh" >/dev/null
# One directory per kernel line: the figures of one line are never compared
# with the other's C module.
out=$CACHE/bench/$KERNEL
mkdir -p "$out"
log "booting the $KERNEL perf kernel with instruction counting (about 10 minutes)"
# BENCH_* variables (counts, runs, cycles) reach the guest through the environment.
export BENCH_COUNT=${BENCH_COUNT:-} BENCH_RUNS=${BENCH_RUNS:-}
set +e
KDIR=$kdir "$TOP/scripts/guest.sh" --timeout 3600 --cpus 1 --ko "$ko" \
	--qemu-opts "-icount shift=0,sleep=off" perf "$TOP/tests/bench.sh" | tee "$out/raw.txt"
rc=${PIPESTATUS[0]}
set -e
grep -q '^BENCH-DONE' "$out/raw.txt" && [ "$rc" = 0 ] || die "benchmark failed (exit $rc): $(grep BENCH-ERROR "$out/raw.txt")"
python3 "$TOP/scripts/bench_report.py" "$out/raw.txt" "$out" "$kdir/.config"
cat "$out/table.md"
log "results: $out/results.json, $out/table.md, $out/chart.svg"
