# Helpers for the in-guest test scripts (sourced). KTAP output, the network
# namespaces, real packets, tc counters and module switching.
#
# The tests are a kselftest target (Makefile, settings, config): they run
# from this directory or from a kselftest install, under the kernel's
# runner or alone. Environment (scripts/guest.sh sets it; defaults for a
# kernel developer's guest in brackets):
#   KSFT_DIR     the kernel's tools/testing/selftests [../.. of this directory]
#   SCH_PLUG_KO  our module [sch_plug.ko here or in ..]
#   C_PLUG_KO    the kernel's C sch_plug.ko [modinfo -n sch_plug, if in-tree]
#   PLUG_TOOLS   the compiled tools of tests/tools (scripts/tools.sh)
#   PLUG_TC      tc built with our iproute2 patch (scripts/iproute2.sh)
# A missing prerequisite makes the test exit 4 (kselftest's skip), naming it.

set -u
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
HERE=$(cd "$(dirname "$0")" && pwd)
TEST_NAME=$(basename "$0" .sh)
TC=/sbin/tc
IP=/sbin/ip
PY=/usr/bin/python3
UDP="$PY $HERE/udp.py"
WORK=${WORK:-$(mktemp -d /tmp/sch-plug.XXXXXX)}

# skip_all <reason>: the whole test is skipped (kselftest exit code 4).
skip_all() { echo "1..0 # SKIP $TEST_NAME: $*"; exit 4; }

# The kernel's KTAP helpers (and net/lib.sh: namespaces, waits).
KSFT_DIR=${KSFT_DIR:-$HERE/../..}
[ -r "$KSFT_DIR/kselftest/ktap_helpers.sh" ] && [ -r "$KSFT_DIR/net/lib.sh" ] ||
	skip_all "no kselftest helpers in $KSFT_DIR: set KSFT_DIR=<linux>/tools/testing/selftests"
. "$KSFT_DIR/kselftest/ktap_helpers.sh"
. "$KSFT_DIR/net/lib.sh"

for SCH_PLUG_KO in "${SCH_PLUG_KO:-}" "$HERE/sch_plug.ko" "$HERE/../sch_plug.ko"; do
	[ -f "$SCH_PLUG_KO" ] && break
done
[ -f "$SCH_PLUG_KO" ] || skip_all "our sch_plug.ko not found: build it (make) or set SCH_PLUG_KO"
if [ -z "${C_PLUG_KO:-}" ] && p=$(modinfo -n sch_plug 2>/dev/null) &&
	[ "$(modinfo -F intree "$p")" = Y ]; then
	C_PLUG_KO=$p
fi
C_PLUG_KO=${C_PLUG_KO:-}
PLUG_TOOLS=${PLUG_TOOLS:-}
PLUG_TC=${PLUG_TC:-}
# need_c_plug: the test compares with the kernel's C sch_plug (=m).
need_c_plug() {
	[ -f "$C_PLUG_KO" ] || skip_all "the kernel's C sch_plug.ko not found (CONFIG_NET_SCH_PLUG=m; or set C_PLUG_KO)"
}
# need_tools: the test runs the compiled tools of tests/tools.
need_tools() {
	[ -x "$PLUG_TOOLS/plugshow" ] || skip_all "the test tools are not built: scripts/tools.sh, then set PLUG_TOOLS"
}

# A test runs on CPU 0 only (so do the softirqs, tasklets and timers its
# processes raise, hence every dequeue and the receiver's backlog) unless
# it says `# cpus: all`: on several CPUs a flow can be reordered after the
# qdisc (each CPU that dequeues feeds its own receive backlog, for the C
# plug as for ours), which the functional tests' order assertions do not
# expect. t-smp and t-multiqueue use every CPU and pin their threads.
grep -q '^# cpus: all' "$0" || taskset -pc 0 $$ >/dev/null
# At exit (at_exit, below): the time taken, the plug unloaded for the next
# test, and the kernel log of this test scanned for reports.
trap at_exit EXIT

# --- at exit ---------------------------------------------------------------
# Kernel reports (scripts/guest.sh scans the whole guest's log with the same
# pattern): not the boot lines "kasan: KernelAddressSanitizer initialized"
# or ACPI's "Warning: Processor Platform Limit event".
KERNEL_REPORTS='BUG:|WARNING: CPU:|WARNING: .* at |Oops|KASAN:|unreferenced object|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|DEBUG_LOCKS_WARN_ON|Kernel panic|general protection fault|rcu_sched self-detected stall|detected stalls on CPUs|rcu: INFO: rcu_[a-z]* detected stall|blocked for more than|INFO: task .* blocked'
# at_exit: the time taken; our plug unloaded for the next test (a plug left
# behind fails this test, not the next one's load); then this test's kernel
# log: what the kernel logged since the previous test cleared it (dmesg
# -c), and with KMEMLEAK_PER_TEST=1 a kmemleak scan (off by
# default: 13 to 18 s per test in the debug guest, 2026-12-03, where the
# dmesg scan costs 0.6 s; the guest's final scan stays). A report
# fails the test: an extra "not ok" after the planned results, the report
# in diagnostics, exit 1. The log is appended to $GUEST_OUT/dmesg-tests.txt
# when the runner gives one (scripts/guest.sh scans it with the rest).
at_exit() {
	local rc=$? out log leaks= reports n
	trap - EXIT
	if [ "$(loaded_plug)" != none ]; then
		wait_plug_unused
		if ! out=$(rmmod sch_plug 2>&1); then
			echo "# at exit: rmmod sch_plug failed: $out"
			rc=1
		fi
	fi
	local t0=$EPOCHREALTIME
	# dmesg -c: print, then clear (one exec; the match below is bash's).
	if [ "$EUID" = 0 ] && log=$(dmesg -c 2>/dev/null); then
		if [ "${KMEMLEAK_PER_TEST:-0}" = 1 ] && [ -w /sys/kernel/debug/kmemleak ]; then
			local t1=$EPOCHREALTIME
			echo scan >/sys/kernel/debug/kmemleak
			leaks=$(cat /sys/kernel/debug/kmemleak)
			# Reported once: the next test starts from a clean list.
			[ -n "$leaks" ] && echo clear >/sys/kernel/debug/kmemleak
			echo "# kmemleak scan at exit: $(( (${EPOCHREALTIME/./} - ${t1/./}) / 1000 )) ms"
		fi
		if [ -n "${GUEST_OUT:-}" ] && [ -d "$GUEST_OUT" ]; then
			printf '=== %s (exit %s)\n%s\n%s\n' "$TEST_NAME" "$rc" "$log" "$leaks" >>"$GUEST_OUT/dmesg-tests.txt"
		fi
		if [[ $log$'\n'$leaks =~ $KERNEL_REPORTS ]]; then
			reports=$(printf '%s\n%s\n' "$log" "$leaks" | grep -E "$KERNEL_REPORTS")
			n=$(grep -c . <<<"$reports")
			echo "not ok ${KTAP_TESTNO:-1} kernel log of $TEST_NAME clean ($n report lines)"
			printf '%s\n' "$reports" | head -n 20 | sed 's/^/# kernel: /'
			rc=1
		fi
		echo "# kernel log scan at exit: $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 )) ms"
	fi
	echo "# $TEST_NAME: $SECONDS s"
	exit $rc
}

# --- KTAP ------------------------------------------------------------------
ktap_plan() { ktap_print_header; ktap_set_plan "$1"; }
ok() { ktap_test_pass "$*"; }
not_ok() { ktap_test_fail "$*"; }
diag() { echo "# $*"; }
# check_eq <description> <expected> <actual>
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; diag "expected: $2"; diag "     got: $3"; fi
}
# check <description> <command...>: the command must succeed
check() {
	local d=$1; shift
	if out=$("$@" 2>&1); then ok "$d"; else not_ok "$d"; diag "command failed: $*"; diag "$out"; fi
}
# ktap_done: the totals; exit 0 only if every planned result was reported
# and passed. Unlike ktap_finished, a skipped result is not a pass: the
# check it stands for did not run.
ktap_done() {
	ktap_print_totals
	if [ "$KTAP_CNT_SKIP" != 0 ]; then diag "$KTAP_CNT_SKIP result(s) skipped: failure"; exit "$KSFT_FAIL"; fi
	[ "$KTAP_CNT_PASS" -eq "$KSFT_NUM_TESTS" ] && exit "$KSFT_PASS"
	exit "$KSFT_FAIL"
}
# bail <reason>: the test cannot go on (the kselftest "Bail out!"): exit 1.
bail() {
	echo "Bail out! $TEST_NAME: $*"
	ktap_print_totals
	exit "$KSFT_FAIL"
}

# --- modules ---------------------------------------------------------------
# Exactly one `plug` can be registered. The helpers below fail the test
# (bail) when the module system did not do what they asked: an rmmod that
# left the old module in, an insmod that failed, or a module loaded that is
# not the file meant (a leftover C module under a test of ours, say). A
# test that loads the plug does it through them.
#
# wait_plug_unused: a namespace deleted a moment ago is torn down by a
# workqueue, its plugs with it; wait (bounded) for their module references.
wait_plug_unused() {
	local _ r
	for _ in $(seq 100); do
		r=$(cat /sys/module/sch_plug/refcnt 2>/dev/null) || return 0
		[ "$r" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}
# unload_plug: unload whichever plug is loaded, or bail.
unload_plug() {
	local out
	[ "$(loaded_plug)" = none ] && return 0
	wait_plug_unused
	out=$(rmmod sch_plug 2>&1) || bail "rmmod sch_plug failed: $out (refcnt $(cat /sys/module/sch_plug/refcnt 2>/dev/null))"
	[ "$(loaded_plug)" = none ] || bail "sch_plug still loaded after rmmod"
}
# load_ours: our module, or bail.
load_ours() {
	local out
	unload_plug
	out=$(insmod "$SCH_PLUG_KO" 2>&1) || bail "insmod $SCH_PLUG_KO: $out"
	plug_is ours || bail "after insmod of ours: $PLUG_IS_WHY"
}
# load_c: the kernel's C module, or bail.
load_c() {
	local out
	unload_plug
	out=$(insmod "$C_PLUG_KO" 2>&1) || bail "insmod $C_PLUG_KO: $out"
	plug_is c || bail "after insmod of the C module: $PLUG_IS_WHY"
}
# build_id <file>: BUILD_ID[<file>] is the GNU build ID of a module file,
# in hex (read once per test).
declare -A BUILD_ID=()
build_id() {
	[ -n "${BUILD_ID[$1]+x}" ] && return
	[[ $(readelf -n "$1" 2>/dev/null) =~ Build\ ID:\ *([0-9a-f]+) ]]
	BUILD_ID[$1]=${BASH_REMATCH[1]:-}
}
# loaded_build_id: the GNU build ID of the loaded sch_plug, in hex: its
# note in sysfs, past the 16-byte header (sizes, type, "GNU").
loaded_build_id() {
	local h
	h=$(od -An -tx1 -v -j 16 /sys/module/sch_plug/notes/.note.gnu.build-id 2>/dev/null)
	h=${h//[$' \n']/}
	echo "$h"
}
# plug_is <ours|c>: the loaded sch_plug is that one: ours is out of tree
# (taint O in /proc/modules), C is not; and its build ID
# (/sys/module/sch_plug/notes) is that of SCH_PLUG_KO or C_PLUG_KO. Else
# false, with the reason in PLUG_IS_WHY.
plug_is() {
	local want=$1 file loaded id
	PLUG_IS_WHY=
	loaded=$(loaded_plug)
	if [ "$loaded" != "$want" ]; then
		PLUG_IS_WHY="the loaded sch_plug is '$loaded', not '$want'"
		return 1
	fi
	file=$SCH_PLUG_KO
	[ "$want" = c ] && file=$C_PLUG_KO
	id=$(loaded_build_id)
	build_id "$file"
	if [ -z "$id" ] || [ "$id" != "${BUILD_ID[$file]}" ]; then
		PLUG_IS_WHY="build ID of the loaded sch_plug '$id' is not that of $file '${BUILD_ID[$file]}'"
		return 1
	fi
	return 0
}
# loaded_plug: "ours", "c" or "none". Ours is the out-of-tree one (taint O).
loaded_plug() {
	local line
	# Ours is tainted O (out of tree), and E besides where the kernel
	# checks module signatures (Debian's: ours is unsigned): "(OE)".
	local ours='^sch_plug .*\([A-Z]*O[A-Z]*\)$'
	while read -r line; do
		if [[ $line =~ $ours ]]; then echo ours; return; fi
		case $line in "sch_plug "*) echo c; return ;; esac
	done </proc/modules
	echo none
}

# --- topology --------------------------------------------------------------
# Two namespaces joined by a veth: snd (v0, 10.0.0.1) -> rcv (v1, 10.0.0.2).
# Static neighbours, so that no ARP waits behind a plug; no IPv6, so that no
# autoconfiguration packet joins the queue under test.
setup_pair() {
	# Leftovers of a previous test, if any (cheaper than cleanup_pair).
	stop_receiver
	$IP netns del snd 2>/dev/null
	$IP netns del rcv 2>/dev/null
	local ns
	for ns in snd rcv; do
		$IP netns add $ns
		$IP netns exec $ns /bin/sh -c 'echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
			echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6'
	done
	# PAIR_QUEUES: transmit and receive queues per end (multiqueue tests).
	local q=${PAIR_QUEUES:-1}
	$IP link add v0 address 02:00:00:00:00:01 numtxqueues "$q" numrxqueues "$q" netns snd type veth \
		peer name v1 address 02:00:00:00:00:02 numtxqueues "$q" numrxqueues "$q" netns rcv
	$IP -n snd -b - <<-EOB
		addr add 10.0.0.1/24 dev v0
		link set v0 up
		neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent
	EOB
	$IP -n rcv -b - <<-EOB
		addr add 10.0.0.2/24 dev v1
		link set v1 up
		neigh replace 10.0.0.1 lladdr 02:00:00:00:00:01 dev v1 nud permanent
	EOB
}
cleanup_pair() {
	stop_receiver
	# net/lib.sh: kill what still runs in them, delete them, wait until gone.
	cleanup_ns snd rcv >/dev/null
}

# --- traffic ---------------------------------------------------------------
RX=$WORK/rx.txt
RX_PID=
start_receiver() {
	stop_receiver
	: >"$RX"
	$IP netns exec rcv $UDP recv 5000 "$RX" &
	RX_PID=$!
	# Ready when the socket is bound.
	for _ in $(seq 100); do
		$IP netns exec rcv ss -Hlun 'sport = :5000' | grep -q . && return 0
		sleep 0.1
	done
	echo "# receiver did not start" >&2
	return 1
}
stop_receiver() {
	[ -n "$RX_PID" ] && kill "$RX_PID" 2>/dev/null && wait "$RX_PID" 2>/dev/null
	RX_PID=
	return 0
}
# send <count> <tag> [first seq]: datagrams "<tag> <seq>" from snd to rcv.
# Bash's /dev/udp, one process for the burst: every exec costs about a
# second in the debug guest.
send() {
	$IP netns exec snd /bin/bash -c \
		'for ((i = $3; i < $3 + $1; i++)); do printf "%s %s" "$2" "$i" >/dev/udp/10.0.0.2/5000; done' \
		send "$1" "$2" "${3:-0}"
}
# Reading the receiver's file with builtins only.
rx_count() { local l; mapfile -t l <"$RX"; echo "${#l[@]}"; }
# rx_lines: the received payloads, space separated
rx_lines() { local l; mapfile -t l <"$RX"; echo "${l[*]}"; }
# wait_rx <count>: wait (bounded) until the receiver has <count> packets. Not
# a timing assertion: the count is checked afterwards by the caller.
wait_rx() {
	for _ in $(seq 200); do
		[ "$(rx_count)" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 0
}
# settle: give packets that could leave the time to reach the receiver, for
# assertions that nothing arrived.
settle() { sleep "${1:-0.5}"; }

# --- counters --------------------------------------------------------------
# qstat <ns> <dev> <field>: a field of the root qdisc's `tc -s -j` stats
# (packets, bytes, drops, backlog, qlen, overlimits, requeues; with
# TC=$PLUG_TC also the plug's xstats); <ns> '' for the test's own namespace.
qstat() {
	local j
	j=$($TC ${1:+-n "$1"} -s -j qdisc show dev "$2" root)
	[[ $j =~ \"$3\":([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}

# --- concurrency (tests/tools/src/bin/plugstress.rs) ------------------------
STRESS=$PLUG_TOOLS/plugstress
# online_cpus: the CPUs the guest has online, as "0,1"
online_cpus() { local c; c=$(cat /sys/devices/system/cpu/online); [ "$c" = 0 ] && echo 0 || seq -s, 0 "${c#*-}"; }
# stress <name> <plugstress run options...>: a receiver in rcv, plugstress in
# snd against our plug on v0 (set up by the caller), then the verdict with
# the packets the kernel dropped after the plug (veth backlog, the
# receiver's socket); the plug's own drops are counted by the senders
# (ENOBUFS) and SndbufErrors, and compared with its counter. Prints the
# figures as diagnostics; the verdict's status is the result. Extra verdict
# options go in STRESS_VERDICT.
# The kernel's tracing directory: its events count what the core does with
# the module's packets, apart from the module's own counters.
TRACEFS=/sys/kernel/tracing
tracefs_mount() { [ -d $TRACEFS/events ] || mount -t tracefs tracefs $TRACEFS; }

stress() {
	local name=$1; shift
	local r=$WORK/$name.recv s=$WORK/$name.sent
	rm -f "$r" "$r.ready"
	$IP netns exec rcv "$STRESS" recv --port 5000 --out "$r" &
	local rpid=$!
	for _ in $(seq 200); do [ -f "$r.ready" ] && break; sleep 0.05; done
	# The kernel's own count of the qdisc's drops, where it has one (7.x:
	# the qdisc:qdisc_drop event, fired by the core as it frees each
	# dropped packet): 7.x enqueues concurrent senders' packets in batches
	# and then answers every sender of a batch NET_XMIT_SUCCESS, so that a
	# drop in a batch reaches no sender (net/core/dev.c, __dev_xmit_skb()).
	local tr=$TRACEFS ev= qdrops=()
	tracefs_mount 2>/dev/null || true
	if [ -d $tr/events/qdisc/qdisc_drop ]; then
		ev=$tr/events/qdisc/qdisc_drop
		echo >$tr/trace
		echo 1 >$ev/enable
	fi
	$IP netns exec snd "$STRESS" run --dev v0 --dst 10.0.0.2:5000 --out "$s" "$@"
	wait "$rpid"
	if [ -n "$ev" ]; then
		echo 0 >$ev/enable
		qdrops=(--qdisc-drops "$(grep -c 'kind=plug ' $tr/trace)")
		[ "$(cat $tr/per_cpu/cpu*/stats 2>/dev/null | awk '/^overrun:/ {n += $2} END {print n + 0}')" = 0 ] ||
			echo "# the trace buffer overran: the kernel's drop count is short"
	fi
	local vdrop udperr
	vdrop=$($IP netns exec snd cat /sys/class/net/v0/statistics/tx_dropped)
	udperr=$($IP netns exec rcv awk '/^Udp:/ && $2 ~ /^[0-9]+$/ {print $4}' /proc/net/snmp)
	"$STRESS" verdict --sent "$s" --recv "$r" --extra-drops $((vdrop + udperr)) "${qdrops[@]}" ${STRESS_VERDICT:-}
}
