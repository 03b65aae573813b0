#!/usr/bin/env bash
# `make run`: boot the guest and run the output-commit demo (tests/demo.sh):
# the Xen Remus topology, live checkpoints, a verdict from real packets and
# a timeline picture.
#
#   scripts/run-demo.sh [--flavour F] [--module ours|c] [--epoch-ms N]
#                       [--ack-ms N] [--seconds N] [--rate N]
. "$(dirname "$0")/lib.sh"
flavour=perf module=ours
export DEMO_EPOCH_MS=50 DEMO_ACK_MS=120 DEMO_SECONDS=20 DEMO_RATE=400
while [ $# -gt 0 ]; do
	# `make run X=` passes empty values: keep the defaults.
	[ -n "${2:-}" ] || { shift 2; continue; }
	case $1 in
	--flavour) flavour=$2 ;;
	--module) module=$2 ;;
	--epoch-ms) DEMO_EPOCH_MS=$2 ;;
	--ack-ms) DEMO_ACK_MS=$2 ;;
	--seconds) DEMO_SECONDS=$2 ;;
	--rate) DEMO_RATE=$2 ;;
	*) die "unknown option $1" ;;
	esac
	shift 2
done
case $module in ours | c) ;; *) die "MODULE is ours or c, not $module" ;; esac
export DEMO_MODULE=$module
"$TOP/scripts/tools.sh" >/dev/null
ko=$("$TOP/scripts/build-module.sh" "$flavour")
what="the $flavour kernel"
[ "$KERNEL" != debian ] || what="Debian's own kernel, $(debian_abi),"
log "booting $what under QEMU (TCG; about a minute), then $DEMO_SECONDS s of checkpoints"
set +e
"$TOP/scripts/guest.sh" --ko "$ko" "$flavour" "$TOP/tests/demo.sh"
rc=$?
set -e
dst=$CACHE/demo/$module
rm -rf "$dst"
mkdir -p "$(dirname "$dst")"
[ -d "$CACHE/guest/artifacts" ] && mv "$CACHE/guest/artifacts" "$dst"
if [ -f "$dst/timeline.svg" ]; then
	pic=$dst/timeline.svg
	for conv in rsvg-convert inkscape; do
		command -v $conv >/dev/null || continue
		case $conv in
		rsvg-convert) rsvg-convert "$pic" -o "$dst/timeline.png" ;;
		inkscape) inkscape "$pic" --export-filename="$dst/timeline.png" >/dev/null 2>&1 ;;
		esac && break
	done
	log "timeline: $pic$([ -f "$dst/timeline.png" ] && echo " and $dst/timeline.png")"
	log "logs: $dst/commit.tsv (epochs), $dst/arrivals.tsv (datagrams), $dst/summary.txt"
fi
exit "$rc"
