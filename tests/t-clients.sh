#!/bin/bash
# tc, nl-qdisc-add and pyroute2 drive our plug unchanged (tests/clients.py).
. "$TOP/tests/lib.sh"
load_ours
setup_pair
cd "$TOP/tests" && $PY clients.py
rc=$?
cleanup_pair
exit $rc
