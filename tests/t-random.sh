#!/bin/bash
# Seeded random sequences (500 operations per seed in make check, 3,000
# over 5 seeds in make stress; real traffic): C vs ours step by step where
# no defect of C shows (random_ops.py c_safe), and ours against the epoch
# model on the sequence as drawn.
. "$(dirname "$0")/lib.sh"
need_c_plug
setup_pair
cd "$HERE" && $PY random_ops.py "$SCH_PLUG_KO" "$C_PLUG_KO" "${RANDOM_OPS:-500}" ${RANDOM_SEEDS:-1 2 3}
rc=$?
cleanup_pair
unload_plug
exit $rc
