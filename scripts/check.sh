#!/usr/bin/env bash
# `make check`: host tests, module build, lint, then the in-guest suite, on
# the kernel line $KERNEL; then, with CHECK_OTHER_LINES="<line>...", the
# module build and the cross-line subset of the suite on those lines too
# (KERNEL=debian: Debian's own kernel, its package test included).
# Prints the KTAP of each part and ends with one line "N passed, N failed".
#
#   scripts/check.sh [flavour] [t-name ...]    (default: debug, every test)
#   scripts/check.sh --subset [flavour]        the other line's part (below)
. "$(dirname "$0")/lib.sh"
subset=
if [ "${1:-}" = --subset ]; then subset=1; shift; fi
flavour=${1:-debug}
shift || true
# What runs on the line that is not the default (README: two kernel lines):
# the module and both samples build, then these tests, which between them
# touch every part of the layer and each user's recipe.
SUBSET_TESTS="t-module t-plug-basic t-differential t-remus t-clients t-users t-multiqueue t-smp"
# On Debian's own kernel (KERNEL=debian): the module as its users meet it,
# compared with Debian's C module, then its Debian package (t-package).
[ "$KERNEL" != debian ] ||
	SUBSET_TESTS="t-module t-plug-basic t-differential t-remus t-clients t-users t-package"
# `make check KERNEL=debian` is that part alone (the full suite needs our
# debug kernels' KASAN, lockdep, kmemleak and the test device).
if [ "$KERNEL" = debian ] && [ -z "$subset" ]; then subset=1; fi
passed=0 failed=0
result() { # result <ok|fail> <name>
	if [ "$1" = ok ]; then passed=$((passed + 1)); echo "ok - $2"
	else failed=$((failed + 1)); echo "not ok - $2"; fi
}
cd "$TOP"
# Per checkout: two clones checking at once must not share their logs.
logdir=$CACHE/check-logs/$CHECKOUT
mkdir -p "$logdir"

if [ -n "$subset" ]; then
	logdir=$logdir/$KERNEL
	mkdir -p "$logdir"
	# Built outside the repository ($CACHE/module/, build-module.sh),
	# so the default line's objects in the checkout stay as they are.
	log "module build on $KERNEL ($flavour), outside the checkout"
	if ko=$("$TOP/scripts/build-module.sh" "$flavour" 2>"$logdir/build.log"); then result ok "$KERNEL: module builds"
	else tail -n 40 "$logdir/build.log"; result fail "$KERNEL: module builds"; ko=; fi
	kdir=$("$TOP/scripts/kernel.sh" --dir "$flavour")
	# Debian's kernel: the package of the module (make deb), which
	# t-package installs in the guest.
	if [ -n "$ko" ] && [ "$KERNEL" = debian ]; then
		if SCH_PLUG_DEB=$("$TOP/scripts/deb.sh" "$flavour" 2>"$logdir/deb.log"); then
			export SCH_PLUG_DEB
			result ok "$KERNEL: package builds ($(basename "$SCH_PLUG_DEB"))"
		else cat "$logdir/deb.log"; result fail "$KERNEL: package builds"; fi
	fi
	# Clippy of this line's toolchain on this line's kernel crate, warnings
	# as errors, in the same copy (its Rust objects rebuilt). Not on
	# Debian's kernel: the compiler there is Debian's, whose clippy is not
	# in the root; the 7.3 line lints the same source.
	if [ -n "$ko" ] && [ "$KERNEL" != debian ]; then
		dst=$(dirname "$ko")
		log "lint on $KERNEL (CLIPPY=1, warnings as errors)"
		touch "$dst/module.rs" "$dst"/samples/*.rs
		if make -C "$kdir" M="$dst" LLVM="$KLLVM" RUSTC="$RUSTC" CLIPPY_DRIVER="$CLIPPY_DRIVER" BINDGEN="$BINDGEN" \
			CLIPPY=1 KRUSTFLAGS=-Dwarnings KCFLAGS=-Werror modules >"$logdir/lint.log" 2>&1 &&
			! grep -qE '^(warning|error)' "$logdir/lint.log"; then result ok "$KERNEL: lint clean"
		else cat "$logdir/lint.log"; result fail "$KERNEL: lint clean"; fi
	fi
	if inst=$(ksft_install "$kdir" 2>"$logdir/ksft.log") && [ -x "$inst/net/sch_plug/t-module.sh" ]; then
		result ok "$KERNEL: tests install as a kselftest collection"
	else cat "$logdir/ksft.log"; result fail "$KERNEL: tests install as a kselftest collection"; fi
	if [ -n "$ko" ]; then
		[ $# -gt 0 ] || set -- $SUBSET_TESTS
		# Beside the default line (below), the tests run in two guests:
		# those that use one CPU in a 1-vCPU guest beside the default
		# line's guest, whose tests run on one CPU and leave the second
		# core mostly idle, one such side guest at a time (the lock of
		# CHECK_SIDE_LOCK, which Debian's part takes too); then those that
		# use two (t-multiqueue, t-smp) in a 2-vCPU guest once the default
		# line's guests have ended (the lock of CHECK_GUEST_LOCK): two
		# 2-vCPU TCG guests on the 2 cores were far slower than one after
		# the other (2026-12-03). Debian's kernel has no debug options and
		# its part no test that uses two CPUs (2026-12-06: beside the
		# default line's cold CI guest, all passed). Alone, one guest.
		side=() main=()
		if [ "$KERNEL" = debian ]; then
			side=("$@")
		elif [ -n "${CHECK_GUEST_LOCK:-}" ]; then
			for t; do
				case $t in t-multiqueue | t-smp) main+=("$t") ;; *) side+=("$t") ;; esac
			done
		else
			main=("$@")
		fi
		what="the $KERNEL $flavour kernel"
		[ "$KERNEL" != debian ] || what="Debian's own kernel, $(debian_abi)"
		for g in side main; do
			if [ "$g" = side ]; then set -- "${side[@]}"; cpus=1 lock=${CHECK_SIDE_LOCK:-}
			else set -- "${main[@]}"; cpus=2 lock=${CHECK_GUEST_LOCK:-}; fi
			[ $# -gt 0 ] || continue
			if [ -n "$lock" ]; then
				[ "$g" = side ] || log "waiting for the default line's guest to finish"
				exec 9>"$lock"
				flock 9
			fi
			log "in-guest suite on $what ($cpus vCPU): $*"
			set +e
			"$TOP/scripts/guest.sh" --timeout 3000 --cpus "$cpus" --ko "$ko" "$flavour" "$TOP/tests/run-suite.sh" \
				"$inst" "$@" >"$logdir/guest-$g.log" 2>&1
			grc=$?
			set -e
			[ -z "$lock" ] || exec 9>&-
			echo "# $KERNEL guest ($cpus vCPU): $*"
			sed 's/^/# /' "$logdir/guest-$g.log" | grep -E '^# (# )?(not )?ok ' || true
			read -r gp gf < <(ksft_count "$logdir/guest-$g.log" $#)
			passed=$((passed + gp)); failed=$((failed + gf))
			if [ "$grc" != 0 ] && [ "$gf" = 0 ]; then tail -n 30 "$logdir/guest-$g.log"; result fail "$KERNEL guest run (exit $grc)"; fi
			if [ "$grc" = 0 ] && [ "$gp" = 0 ]; then result fail "$KERNEL guest ran no test"; fi
			[ "$gf" = 0 ] || cat "$logdir/guest-$g.log"
		done
	else
		result fail "$KERNEL: in-guest suite (no module to test)"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
fi

# The other lines' parts start at once, beside this one, each in the
# background: a kernel build (7.3) or the reproduction of Debian's Rust
# crates (debian), when not cached, is the longest step of a cold make
# check, and module builds, clippy and test installs take minutes. Their
# 1-vCPU guests run beside this line's guest, one at a time (side.lock);
# their 2-vCPU guests wait for this line's guests (the lock of fd 8, held
# until those end): two TCG guests of 2 vCPUs each on the 2 cores were far
# slower than one after the other (2026-12-03, clean-clone CI run of
# e7f4bb5: this line's guest did not finish its suite within 70 min,
# against 30-47 min alone; the other line's took 47 min against 18).
other_pids=()
guest_lock=$logdir/guest.lock
exec 8>"$guest_lock"
flock 8
for line in ${CHECK_OTHER_LINES:-}; do
	log "kernel line $line beside this one: module build, lint, then its tests, those on one CPU beside this line's guest, those on two after it (progress: $logdir/other-$line.log)"
	(
		# Only this process holds the guest lock.
		exec 8>&-
		export CHECK_GUEST_LOCK=$guest_lock CHECK_SIDE_LOCK=$logdir/side.lock
		# The line's own bindgen and libclang (lib.sh, the Makefile), not
		# this line's, which the environment carries.
		unset LIBCLANG_PATH BINDGEN
		KERNEL=$line "$TOP/scripts/deps.sh" >"$logdir/deps-$line.log" 2>&1 || true
		if ! KERNEL=$line "$TOP/scripts/kernel.sh" "$flavour" >"$logdir/kernel-$line.log" 2>&1; then
			tail -n 30 "$logdir/kernel-$line.log"
			echo "not ok - $line $flavour kernel builds"
			echo "0 passed, 1 failed"
			exit 1
		fi
		KERNEL=$line exec "$TOP/scripts/check.sh" --subset "$flavour"
	) >"$logdir/other-$line.log" 2>&1 &
	other_pids+=("$line:$!")
done

log "host tests (cargo test of epoch.rs)"
if "$TOP/scripts/test-host.sh" >"$logdir/host.log" 2>&1; then st=ok; else st=fail; cat "$logdir/host.log"; fi
# One result per host test case.
hp=$(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$logdir/host.log" | awk '{p+=$4; f+=$6} END {print p+0, f+0}')
passed=$((passed + ${hp% *})); failed=$((failed + ${hp#* }))
[ "$st" = ok ] || [ "${hp#* }" != 0 ] || result fail "host tests did not run"
echo "# host: ${hp% *} passed, ${hp#* } failed"

log "module build"
if make --no-print-directory module FLAVOUR="$flavour" >"$logdir/build.log" 2>&1; then result ok "module builds"
else cat "$logdir/build.log"; result fail "module builds"; fi

log "lint (rustfmt --check, CLIPPY=1 with warnings as errors)"
if make --no-print-directory lint FLAVOUR="$flavour" >"$logdir/lint.log" 2>&1 && ! grep -qE '^(warning|error)' "$logdir/lint.log"; then result ok "lint clean"
else cat "$logdir/lint.log"; result fail "lint clean"; fi

# The perf-flavour module (the kernel of make run and make bench: no debug
# options, one CPU), in the background beside the guest, when that kernel
# is built: so that a change that breaks only that configuration shows
# here. Building the kernel is left to make run and make bench: on a new
# machine it cost 16 min before the guest could start (2026-12-06, the
# cold CI run of bdc8fb4), and its CPU slowed the guest when moved beside it.
perf_pid=
if tree_built "$("$TOP/scripts/kernel.sh" --dir perf)"; then
	log "perf-flavour module build in the background (log: $logdir/perf.log)"
	"$TOP/scripts/build-module.sh" perf >"$logdir/perf.log" 2>&1 &
	perf_pid=$!
else
	log "perf kernel not built (make run or make bench builds it): no perf-flavour module build"
fi

log "in-guest test tools (cargo build of tests/tools)"
if "$TOP/scripts/tools.sh" >"$logdir/tools.log" 2>&1; then result ok "test tools build"
else cat "$logdir/tools.log"; result fail "test tools build"; fi

log "tc with our q_plug.c printer (iproute2/*.patch; built once, then cached)"
if PLUG_TC=$("$TOP/scripts/iproute2.sh" 2>"$logdir/iproute2.log"); then export PLUG_TC; result ok "patched tc builds"
else tail -n 30 "$logdir/iproute2.log"; result fail "patched tc builds"; fi

log "kselftest form: install tests/ with the kernel's lib.mk; config fragment"
kdir=$("$TOP/scripts/kernel.sh" --dir "$flavour")
if inst=$(ksft_install "$kdir" 2>"$logdir/ksft.log") && [ -x "$inst/net/sch_plug/t-module.sh" ]; then
	result ok "tests install as a kselftest collection"
else cat "$logdir/ksft.log"; result fail "tests install as a kselftest collection"; fi
# Every option of tests/config (what netdev CI builds a kernel from) is set
# in the kernel the suite runs on.
missing=$(grep -E '^CONFIG_' "$TOP/tests/config" | grep -vxFf "$kdir/.config" || true)
if [ -z "$missing" ]; then result ok "tests/config holds in the $flavour kernel"
else echo "# not in $kdir/.config: $missing"; result fail "tests/config holds in the $flavour kernel"; fi

if [ -f "$TOP/sch_plug.ko" ]; then
	# CHECK_GUESTS=2: two guests at once, since a test runs on one CPU and
	# one guest leaves the machine's second core idle: guest A has the
	# tests that use both CPUs and the longest, guest B the rest, new tests
	# included (28.5 min against 47.5 for one guest, 2026-12-02). Not the
	# default yet: in its one run, guest B logged a KASAN wild-memory-access
	# in handle_edge_irq during start_kernel (identify_cpu, before any
	# test); the same report later failed a one-guest CI boot. Its cause is
	# the guest CPU's LA57 (scripts/guest.sh), now off; two guests need a
	# run to confirm.
	# TESTS=... runs one guest with those.
	if [ $# -gt 0 ] || [ "${CHECK_GUESTS:-1}" = 1 ]; then
		groups=("$*") cpus=(2)
	else
		a="t-fuzz t-smp t-multiqueue t-lifecycle t-rbfifo t-faults t-netns t-demo"
		b=$(cut -d: -f2 "$inst/kselftest-list.txt" | sed 's/\.sh$//' | { grep -vxF -f <(tr ' ' '\n' <<<"$a") || true; } | tr '\n' ' ')
		groups=("$a" "$b") cpus=(2 2)
	fi
	log "in-guest suite on the $flavour kernel, through run_kselftest.sh, ${#groups[@]} guest(s) (QEMU/TCG; progress: $logdir/guest-*.log)"
	pids=()
	for i in "${!groups[@]}"; do
		# shellcheck disable=SC2086
		"$TOP/scripts/guest.sh" --timeout 4200 --cpus "${cpus[i]}" "$flavour" "$TOP/tests/run-suite.sh" \
			"$inst" ${groups[i]} >"$logdir/guest-$i.log" 2>&1 &
		pids+=($!)
	done
	for i in "${!groups[@]}"; do
		set +e
		wait "${pids[i]}"
		grc=$?
		set -e
		echo "# guest $i (${cpus[i]} vCPU): ${groups[i]}"
		cat "$logdir/guest-$i.log"
		# Every test of the group must report: the names given, or the
		# whole collection (kselftest-list.txt).
		# shellcheck disable=SC2086
		if [ -n "${groups[i]// /}" ]; then want=$(set -- ${groups[i]}; echo $#)
		else want=$(grep -c . "$inst/kselftest-list.txt"); fi
		read -r gp gf < <(ksft_count "$logdir/guest-$i.log" "$want")
		gt=$(ksft_reported "$logdir/guest-$i.log")
		[ "$gt" -ge "$want" ] || echo "# guest $i: $gt of $want tests reported (each missing one counted failed)"
		passed=$((passed + gp)); failed=$((failed + gf))
		if [ "$grc" != 0 ] && [ "$gf" = 0 ]; then result fail "guest $i run (exit $grc; see above)"; fi
		if [ "$grc" = 0 ] && [ "$gp" = 0 ]; then result fail "guest $i ran no test"; fi
	done
else
	result fail "in-guest suite (no module to test)"
fi
# The other line's guest may start.
flock -u 8
exec 8>&-

if [ -n "$perf_pid" ]; then
	if wait "$perf_pid"; then result ok "perf-flavour module builds"
	else tail -n 30 "$logdir/perf.log"; result fail "perf-flavour module builds"; fi
fi

for p in "${other_pids[@]}"; do
	line=${p%%:*}
	set +e
	wait "${p#*:}"
	set -e
	echo "# kernel line $line"
	grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$logdir/other-$line.log" || true
	if op=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logdir/other-$line.log" | tail -n1) && [ -n "$op" ]; then
		set -- $op
		passed=$((passed + $1)); failed=$((failed + $3))
	else
		result fail "$line part reported no count"
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
