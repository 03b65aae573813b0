#!/bin/bash
# A short `make run` (tests/demo.sh), so that the demo cannot rot: 4 s of
# checkpoints through the Remus topology with 2-3 in flight, on our plug and
# on the C one. Ours: every datagram arrives, in order, none before its
# epoch's acknowledgement. C: its single pending-epoch counter releases the
# packets of later epochs early when checkpoints overlap (docs/c-plug.md §3, D3),
# which the same receiver sees (and strands others until later acks).
. "$(dirname "$0")/lib.sh"
need_c_plug
need_tools
ktap_plan 7
declare -A rcs
verdict() { grep -o "^VERDICT .*" "$1"; }
field() { [[ $1 =~ $2=([0-9]+) ]] && echo "${BASH_REMATCH[1]}"; }
for m in ours c; do
	# The checkpointer through our rtnetlink client: through libnl the C
	# run did not finish in the debug guest (2026-12-02, b2ff1a3; not yet
	# understood).
	DEMO_VIA=rtnl DEMO_OUT=$WORK/$m DEMO_MODULE=$m DEMO_SECONDS=4 DEMO_QUIET=1 bash "$HERE/demo.sh" >"$WORK/$m.log" 2>&1
	rcs[$m]=$?
	while read -r l; do diag "$m: $l"; done < <(grep -E "^(epochs|packets|hold|out of|output-commit|  first|  epochs)" "$WORK/$m.log")
done
v=$(verdict "$WORK/ours/summary.txt")
check_eq "ours: the demo exits 0" 0 "${rcs[ours]}"
check_eq "ours: no output-commit violation" 0 "$(field "$v" violations)"
check_eq "ours: every datagram received, in order, none dropped or left held" "0 0 0 $(field "$v" sent)" \
	"$(field "$v" dropped) $(field "$v" held) $(field "$v" out_of_order) $(field "$v" received)"
check_eq "ours: hundreds of datagrams went through" 1 "$(($(field "$v" received) >= 500))"
n=$(grep -c '<circle' "$WORK/ours/timeline.svg" 2>/dev/null)
check_eq "ours: the timeline has a dot per shown arrival" 1 "$((${n:-0} > 50))"
v=$(verdict "$WORK/c/summary.txt")
check_eq "C: the demo ran" 1 "$(($(field "$v" received) >= 500))"
diag "C: $(field "$v" violations) released early, $(field "$v" held) never released"
check_eq "C: with checkpoints in flight, packets leave early or never" 1 \
	"$(($(field "$v" violations) + $(field "$v" held) > 0))"
ktap_done
