#!/bin/bash
# Every known user's command sequence, with real traffic (tests/users.py):
# QEMU micro-checkpointing, Kata live migration (katamaran), HAProxy's
# dev/plug_qdisc helper, Xen Remus (remus-netbuf-setup and libxl). Sources
# in users.py and docs/users.md.
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/nl-qdisc-add ] || skip_all "libnl's CLI (nl-qdisc-add, libnl-utils) not installed"
load_ours
setup_pair
# With the C module: also the control run (the same QEMU recipe must fail).
cd "$HERE" && $PY users.py ${C_PLUG_KO:+"$SCH_PLUG_KO" "$C_PLUG_KO"}
rc=$?
cleanup_pair
exit $rc
