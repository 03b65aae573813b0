#!/bin/bash
# Held packets keep their sockets, on the C plug and on ours (tests/sockets.py):
# TCP behind holds longer than its retransmission timeout does not send
# into the plug again (the sender namespace's MIB counters, ours against
# C's); a SYN held across its timeout stays one packet; a blocking UDP
# sender blocks at its send buffer, where C's does, with nothing dropped.
. "$(dirname "$0")/lib.sh"
need_c_plug
setup_pair
cd "$HERE" && $PY sockets.py "$SCH_PLUG_KO" "$C_PLUG_KO"
rc=$?
cleanup_pair
exit $rc
