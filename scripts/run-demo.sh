#!/usr/bin/env bash
# `make run`: boot the guest and run the demo transcript (tests/demo.sh).
. "$(dirname "$0")/lib.sh"
flavour=${1:-debug}
log "booting the $flavour kernel under QEMU (TCG; about a minute)"
exec "$TOP/scripts/guest.sh" "$flavour" "$TOP/tests/demo.sh"
