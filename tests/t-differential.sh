#!/bin/bash
# Parity with the C module: scenarios covering every behaviour of
# docs/c-plug.md section 2, and defects D1-D3, run against the C sch_plug.ko
# and ours in this boot: step by step identical where no defect is at play,
# different where one is, and each module at its known outcome.
. "$(dirname "$0")/lib.sh"
need_c_plug
setup_pair
cd "$HERE" && $PY differential.py "$SCH_PLUG_KO" "$C_PLUG_KO"
rc=$?
cleanup_pair
unload_plug
exit $rc
