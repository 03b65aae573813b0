#!/bin/bash
# Xen Remus topology: ingress u32 + mirred to an ifb whose root is our plug,
# BUFFER / RELEASE_ONE per checkpoint with traffic (tests/remus.py).
. "$TOP/tests/lib.sh"
load_ours
setup_pair
cd "$TOP/tests" && $PY remus.py
rc=$?
cleanup_pair
exit $rc
