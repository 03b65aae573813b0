#!/bin/bash
# Parity with the C module: scenarios covering every behaviour of
# docs/c-plug.md section 2 (and defects D1-D3 as 6.12 has them), run against
# the C sch_plug.ko and ours with c_quirks=1 in this boot; transcripts must
# be identical.
. "$(dirname "$0")/lib.sh"
need_c_plug
setup_pair
cd "$HERE" && $PY differential.py "$SCH_PLUG_KO" "$C_PLUG_KO"
rc=$?
cleanup_pair
unload_plug
exit $rc
