#!/bin/bash
# tc, nl-qdisc-add and pyroute2 drive our plug unchanged (tests/clients.py).
. "$(dirname "$0")/lib.sh"
load_ours
setup_pair
cd "$HERE" && $PY clients.py
rc=$?
cleanup_pair
exit $rc
