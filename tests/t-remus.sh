#!/bin/bash
# Xen Remus topology: ingress u32 + mirred to an ifb whose root is our plug,
# BUFFER / RELEASE_ONE per checkpoint with traffic (tests/remus.py).
. "$(dirname "$0")/lib.sh"
load_ours
setup_pair
cd "$HERE" && $PY remus.py
rc=$?
cleanup_pair
exit $rc
