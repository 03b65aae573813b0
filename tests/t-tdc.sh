#!/bin/bash
# tdc (tools/testing/selftests/tc-testing) against our module:
# - the kernel's own plug cases (tc-tests/qdiscs/plug.json) with stock tc,
#   which must keep working unchanged;
# - ours (tdc-plug.json), what the C module could not do: the limit read
#   back after create, change and replace, a create with an action keeping
#   the default limit (C: limit 0, every packet dropped), the epoch state in
#   the xstats, and malformed requests refused without a state change. They
#   read the state with tc built with our q_plug.c printer (PLUG_TC,
#   scripts/iproute2.sh) and send what tc cannot (an unknown action, short
#   options) with qdiscctl ($PLUGTOOLS; its exit status is the errno).
. "$(dirname "$0")/lib.sh"
need_tools
[ -x "$PLUG_TC" ] || skip_all "tc with the q_plug.c printer not built: scripts/iproute2.sh, then set PLUG_TC"
[ -d "$KSFT_DIR/tc-testing" ] || skip_all "no tc-testing in $KSFT_DIR"
load_ours
rm -rf /tmp/tdc && cp -r "$KSFT_DIR/tc-testing" /tmp/tdc
cp "$HERE/tdc-plug.json" /tmp/tdc/tc-tests/qdiscs/plug-rust.json
# tdc substitutes $PLUGTOOLS from its NAMES (tdc_config.py reads this).
echo "EXTRA_NAMES = {'PLUGTOOLS': '$PLUG_TOOLS'}" >/tmp/tdc/tdc_config_local.py
cd /tmp/tdc || exit 1
# tdc's nsPlugin makes its namespaces with pyroute2 when it can import it,
# else with `ip -b`. Importing pyroute2 takes about a minute in the debug
# guest (hundreds of modules over 9p): hide it from tdc.
mkdir -p .no-pyroute2/pyroute2
echo 'raise ImportError("hidden from tdc by t-tdc.sh")' >.no-pyroute2/pyroute2/__init__.py
export PYTHONPATH=/tmp/tdc/.no-pyroute2
# tdc prints TAP: "ok N <id> - <name>" / "not ok N ...".
tdc() { # tdc <out> <tdc.py options...>: run it, show its output as diagnostics
	local out=$1; shift
	$PY ./tdc.py "$@" >"$out" 2>&1
	echo "exit $?"
	sed 's/^/# /' "$out" | grep -v '^# *$' >&2
}
counts() { echo "$(grep -cE '^ok [0-9]+ ' "$1") passed, $(grep -cE '^not ok [0-9]+ ' "$1") failed"; }
ktap_plan 3
rc=$(tdc "$WORK/upstream.out" -f tc-tests/qdiscs/plug.json)
check_eq "tdc plug.json, stock tc: all 8 cases pass" "8 passed, 0 failed (exit 0)" "$(counts "$WORK/upstream.out") ($rc)"
rc=$(tdc "$WORK/ours.out" -p "$PLUG_TC" -f tc-tests/qdiscs/plug-rust.json)
n=$(grep -c '"id"' "$HERE/tdc-plug.json")
check_eq "tdc plug-rust.json, patched tc: all $n cases pass" "$n passed, 0 failed (exit 0)" "$(counts "$WORK/ours.out") ($rc)"
check_eq "tdc ran against our module" ours "$(loaded_plug)"
ktap_done
