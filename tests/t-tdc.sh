#!/bin/bash
# The kernel's own tdc cases for plug (tools/testing/selftests/tc-testing,
# tc-tests/qdiscs/plug.json), run against our module.
. "$TOP/tests/lib.sh"
load_ours
src=$(readlink -f "$KDIR/source")/tools/testing/selftests/tc-testing
rm -rf /tmp/tdc && cp -r "$src" /tmp/tdc
cd /tmp/tdc || exit 1
# The plug cases require nsPlugin, which tdc loads from plugin-lib itself.
$PY ./tdc.py -f tc-tests/qdiscs/plug.json >"$WORK/tdc.out" 2>&1
rc=$?
sed 's/^/# /' "$WORK/tdc.out" | grep -v '^# *$'
# tdc prints TAP: "ok N <id> - <name>" / "not ok N ...".
ktap_plan 2
n_ok=$(grep -cE '^ok [0-9]+ ' "$WORK/tdc.out")
n_fail=$(grep -cE '^not ok [0-9]+ ' "$WORK/tdc.out")
check_eq "tdc: all 8 plug cases pass" "8 passed, 0 failed (exit 0)" "$n_ok passed, $n_fail failed (exit $rc)"
check_eq "tdc ran against our module" ours "$(loaded_plug)"
ktap_done
