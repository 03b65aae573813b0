#!/bin/bash
# D1-D4 shown on the C module and fixed in ours; the dump (D6); change
# cycles during traffic under lockdep (D5). See tests/defects.py.
. "$(dirname "$0")/lib.sh"
need_c_plug
setup_pair
cd "$HERE" && $PY defects.py "$SCH_PLUG_KO" "$C_PLUG_KO"
rc=$?
cleanup_pair
unload_plug
exit $rc
