#!/usr/bin/env bash
# What the plug's owner scan costs: one boot of the perf kernel under QEMU
# -icount (one guest ns per instruction, as `make bench`), 1 vCPU; prints
# the largest gaps a spinning task sees with an empty plug and with
# SCAN_PACKETS (default 100,000) held packets. BENCHMARKS.md has the figures.
. "$(dirname "$0")/lib.sh"
kdir=$("$TOP/scripts/kernel.sh" perf)
ko=$("$TOP/scripts/build-module.sh" perf)
export SCAN_PACKETS=${SCAN_PACKETS:-100000}
KDIR=$kdir "$TOP/scripts/guest.sh" --timeout 1800 --cpus 1 --ko "$ko" \
	--qemu-opts "-icount shift=0,sleep=off" perf "$TOP/tests/scan-cost.sh" | grep -E '^(RESULT|#)'
